// renderUrl() signs with Web Crypto; here the signature is recomputed
// independently with node:crypto from the rules in openapi.yaml.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { InvalidParamsError, StarClient } from '../src/index.ts';

const apiKey = 'sk_live_ünïcode_key';
const client = new StarClient({ apiKey, baseURL: 'https://api.star-api.dev/' });

function expectedSignature(url: URL): string {
  const canonical = [...url.searchParams.entries()]
    .filter(([name]) => name !== 'sig')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`)
    .join('&');
  const signingKey = createHmac('sha256', Buffer.from(apiKey, 'utf8')).update('star-api render v1').digest();
  return createHmac('sha256', signingKey).update(canonical, 'utf8').digest('hex');
}

test('the URL carries every parameter, kid and exp, and a signature node:crypto agrees with', async () => {
  const params = {
    prompt: 'a fox & a hare = 2 friends, 100% 🦊',
    seed: 42,
    cfg: 3.5,
    top_p: 0.9,
    more_smooth: true,
    format: 'webp' as const,
  };
  const before = Math.floor(Date.now() / 1000);
  const url = new URL(await client.renderUrl(params));
  assert.equal(url.origin + url.pathname, 'https://api.star-api.dev/v1/render');
  const query = Object.fromEntries(url.searchParams);
  assert.equal(query.prompt, params.prompt);
  assert.equal(query.seed, '42');
  assert.equal(query.cfg, '3.5');
  assert.equal(query.more_smooth, 'true');
  assert.equal(query.format, 'webp');
  assert.equal(query.kid, createHash('sha256').update(apiKey).digest('hex').slice(0, 16));
  const exp = Number(query.exp);
  assert.ok(exp >= before + 7 * 86400 && exp <= before + 7 * 86400 + 2, `exp ${exp}`);
  assert.match(query.sig, /^[0-9a-f]{64}$/);
  assert.equal(query.sig, expectedSignature(url));
  // The signed string is the URL's own query: parameters sorted, sig last.
  assert.deepEqual([...url.searchParams.keys()], ['cfg', 'exp', 'format', 'kid', 'more_smooth', 'prompt', 'seed', 'top_p', 'sig']);
});

test('a missing seed is filled in with a random uint32; expiresIn sets exp', async () => {
  const before = Math.floor(Date.now() / 1000);
  const url = new URL(await client.renderUrl({ prompt: 'a fox' }, { expiresIn: 60 }));
  const seed = Number(url.searchParams.get('seed'));
  assert.ok(Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff, `seed ${seed}`);
  assert.ok(Number(url.searchParams.get('exp')) - before <= 61);
  assert.equal(url.searchParams.get('sig'), expectedSignature(url));
  // 3000 code units, but 1500 characters after NFC, which is what the API counts.
  await client.renderUrl({ prompt: 'e\u0301'.repeat(1500) });
  // 2000 characters, 4000 UTF-16 units: JSON Schema (and the API) count characters.
  await client.renderUrl({ prompt: '🦊'.repeat(2000) });
  await assert.rejects(client.renderUrl({ prompt: '🦊'.repeat(2001) }), InvalidParamsError);
});

test('changing any signed parameter invalidates the signature', async () => {
  const url = new URL(await client.renderUrl({ prompt: 'a fox', seed: 1 }));
  const tampered = new URL(url);
  tampered.searchParams.set('seed', '2');
  assert.notEqual(expectedSignature(tampered), url.searchParams.get('sig'));
});

test('parameters the API would refuse are refused before signing, each named as the API would', async () => {
  const refused = async (params: Record<string, unknown>, options = {}) => {
    const error = await client.renderUrl(params as never, options).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof InvalidParamsError, `${JSON.stringify(params)} was signed`);
    return error.errors.map((e) => e.path).sort();
  };
  assert.deepEqual(await refused({ prompt: 'x', cfg: 20.5, top_p: 0, top_k: 0, seed: -1 }), ['cfg', 'seed', 'top_k', 'top_p']);
  assert.deepEqual(await refused({ prompt: 'x', seed: 1.5, format: 'gif', more_smooth: 'yes' }), ['format', 'more_smooth', 'seed']);
  assert.deepEqual(await refused({ prompt: '  \n' }), ['prompt'], 'empty after trimming, as the API counts');
  assert.deepEqual(await refused({ prompt: 'x'.repeat(2001) }), ['prompt']);
  assert.deepEqual(await refused({ prompt: 'x', model: 'Star Tiny', steps: 3 }), ['model', 'steps']);
  assert.deepEqual(await refused({ negative_prompt: 'x' }), ['prompt']);
  assert.deepEqual(await refused({ prompt: 'x' }, { expiresIn: 30 * 86400 + 1 }), ['expiresIn']);
  assert.deepEqual(await refused({ prompt: 'x' }, { expiresIn: 0 }), ['expiresIn']);
});

test('the bounds themselves are accepted, up to a 30-day lifetime', async () => {
  const url = new URL(
    await client.renderUrl(
      { prompt: 'x'.repeat(2000), cfg: 20, top_p: 1, top_k: 1, seed: 4294967295, format: 'jpeg', model: 'star-tiny' },
      { expiresIn: 30 * 86400 },
    ),
  );
  assert.equal(url.searchParams.get('sig'), expectedSignature(url));
  // 3000 code units, but 1500 characters after NFC, which is what the API counts.
  await client.renderUrl({ prompt: 'e\u0301'.repeat(1500) });
});
