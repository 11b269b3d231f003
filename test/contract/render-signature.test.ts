// Both ends of a signed render URL: what the SDK signs, the edge's own
// verification code must accept — and reject once anything is changed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { StarClient } from '../../sdk/src/index.ts';
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { canonicalQuery, MAX_RENDER_URL_LIFETIME_S, renderSignature } from '../../edge/src/render/signature.ts';
import { maxRenderUrlLifetimeSeconds } from '../../sdk/src/render-params.gen.ts';

const apiKey = 'sk_contract_key';
// The edge keeps sk (hex) per key id; derive both as openapi.yaml says.
const skHex = createHmac('sha256', apiKey).update('star-api render v1').digest('hex');
const kid = createHash('sha256').update(apiKey).digest('hex').slice(0, 16);

async function edgeAccepts(url: URL): Promise<boolean> {
  const expected = await renderSignature(skHex, canonicalQuery(url.searchParams.entries()));
  return url.searchParams.get('kid') === kid && url.searchParams.get('sig') === expected;
}

test('a URL from the SDK’s renderUrl() verifies with the edge’s signature code', async () => {
  const star = new StarClient({ apiKey, baseURL: 'http://127.0.0.1:8787' });
  const url = new URL(
    await star.renderUrl({
      prompt: 'un renard roux, 雪の中 & 100% fox',
      negative_prompt: 'blurry',
      cfg: 5,
      top_k: 50,
      more_smooth: true,
      format: 'jpeg',
    }),
  );
  assert.equal(await edgeAccepts(url), true);

  const tampered = new URL(url);
  tampered.searchParams.set('prompt', 'a different fox');
  assert.equal(await edgeAccepts(tampered), false);
});

test('the render URL lifetime limit is one number: openapi.yaml’s, the edge’s and the SDK’s (generated) agree', async () => {
  const spec = parse(await readFile(new URL('../../openapi.yaml', import.meta.url), 'utf8'));
  const exp = spec.paths['/v1/render'].get.parameters.find((parameter: { name?: string }) => parameter.name === 'exp');
  assert.equal(exp['x-max-lifetime-seconds'], 30 * 24 * 3600);
  assert.equal(MAX_RENDER_URL_LIFETIME_S, exp['x-max-lifetime-seconds']);
  assert.equal(maxRenderUrlLifetimeSeconds, exp['x-max-lifetime-seconds']);
});
