// renderUrl() signs with Web Crypto; here the signature is recomputed
// independently with node:crypto from the rules in openapi.yaml.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { StarClient } from '../src/index.ts';

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
  const params = { prompt: 'a fox & a hare = 2 friends, 100% 🦊', seed: 42, cfg: 3.5, top_p: 0.9, more_smooth: true, format: 'webp' as const };
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
});

test('changing any signed parameter invalidates the signature', async () => {
  const url = new URL(await client.renderUrl({ prompt: 'a fox', seed: 1 }));
  const tampered = new URL(url);
  tampered.searchParams.set('seed', '2');
  assert.notEqual(expectedSignature(tampered), url.searchParams.get('sig'));
});
