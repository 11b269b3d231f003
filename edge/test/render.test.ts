// GET /v1/render in workerd: a signed URL generates on first view and is cached after; bad,
// tampered, expired or revoked signatures → 403; views are free, only generating costs the key.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeGpu, tinyPng } from './helpers/gpu-server.ts';
import { GPU_SECRET, PUBLIC_ORIGIN, bearer, remaining, startWorker, type TestWorker } from './helpers/worker.ts';
import { future, signedPath } from './helpers/render-url.ts';
import { createRecord, kvKeyFor } from '../src/keys/record.ts';

/** Short, so the revocation test can wait it out. */
const KEY_CACHE_SECONDS = 2;
const gpu = new FakeGpu(GPU_SECRET);
let worker: TestWorker;
let key: string;

before(async () => {
  worker = await startWorker({ gpuUrl: await gpu.start(), vars: { KEY_CACHE_SECONDS: String(KEY_CACHE_SECONDS) } });
  key = await worker.createKey({ limits: { requests: 1000 } });
});
after(async () => {
  await worker.dispose();
  await gpu.close();
});

test('first view generates, later views come from the cache, with the permanent URL', async () => {
  gpu.reset();
  const path = signedPath(key, { prompt: 'a red fox & a "quoted" ünïcode prompt', seed: '1234', exp: future(), format: 'png' });
  const first = await worker.fetch(path);
  assert.equal(first.status, 200);
  assert.equal(first.headers.get('Content-Type'), 'image/png');
  assert.equal(first.headers.get('Cache-Control'), 'public, max-age=31536000, immutable');
  const location = first.headers.get('Content-Location') ?? '';
  assert.match(location, /\/v1\/images\/[0-9a-f]{64}\.png$/);
  assert.ok(location.startsWith(`${PUBLIC_ORIGIN}/`), `${location} is on PUBLIC_ORIGIN`);
  assert.deepEqual(Buffer.from(await first.arrayBuffer()), tinyPng(1234));
  const second = await worker.fetch(path);
  assert.equal(second.status, 200);
  await second.arrayBuffer();
  assert.equal(gpu.calls, 1);
  const permanent = await worker.fetch(new URL(location).pathname);
  assert.deepEqual(Buffer.from(await permanent.arrayBuffer()), tinyPng(1234));
  assert.equal(gpu.requests[0].seeds[0], 1234);
});

test('seed defaults to 0 so a URL names one image', async () => {
  gpu.reset();
  const response = await worker.fetch(signedPath(key, { prompt: 'no seed given', exp: future() }));
  assert.equal(response.status, 200);
  await response.arrayBuffer();
  assert.deepEqual(gpu.requests[0].seeds, [0]);
});

test('If-None-Match with the ETag → 304 before any work', async () => {
  const path = signedPath(key, { prompt: 'etag me', seed: '5', exp: future() });
  const first = await worker.fetch(path);
  const etag = first.headers.get('ETag') ?? '';
  await first.arrayBuffer();
  gpu.reset();
  const again = await worker.fetch(path, { headers: { 'If-None-Match': etag } });
  assert.equal(again.status, 304);
  assert.equal(again.headers.get('ETag'), etag);
  assert.ok(again.headers.get('Content-Location'));
  assert.equal(gpu.calls, 0);
});

test('a tampered parameter, a wrong signature, an unknown kid or an expired URL → 403', async () => {
  const good = signedPath(key, { prompt: 'honest', seed: '1', exp: future() });
  const tampered = good.replace('honest', 'dishonest');
  const wrongSig = good.replace(/sig=[0-9a-f]+/, `sig=${'a'.repeat(64)}`);
  const unknownKid = good.replace(/kid=[0-9a-f]+/, `kid=${'0'.repeat(16)}`);
  const expired = signedPath(key, { prompt: 'honest', seed: '1', exp: String(Math.floor(Date.now() / 1000) - 1) });
  const unsigned = '/v1/render?prompt=honest';
  const duplicated = `${good}&seed=2`;
  for (const path of [tampered, wrongSig, unknownKid, expired, unsigned, duplicated]) {
    const response = await worker.fetch(path);
    assert.equal(response.status, 403, path);
    const body = (await response.json()) as { type: string };
    assert.equal(body.type, 'https://star-api.dev/problems/forbidden');
  }
});

test('a URL signed to live longer than 30 days → 403 naming the limit; 30 days exactly is fine', async () => {
  const nowS = Math.floor(Date.now() / 1000);
  const tooLong = await worker.fetch(signedPath(key, { prompt: 'forever', seed: '1', exp: String(nowS + 30 * 86400 + 60) }));
  assert.equal(tooLong.status, 403);
  const body = (await tooLong.json()) as { type: string; detail: string };
  assert.equal(body.type, 'https://star-api.dev/problems/forbidden');
  assert.match(body.detail, /2592000 s \(30 days\)/);
  const longest = await worker.fetch(signedPath(key, { prompt: 'a month', seed: '1', exp: String(nowS + 30 * 86400 - 5) }));
  assert.equal(longest.status, 200);
  await longest.arrayBuffer();
});

test('a revoked key’s URLs stop working once the isolate’s copy of its record expires (KEY_CACHE_SECONDS)', async () => {
  const revokedKey = await worker.createKey();
  const path = signedPath(revokedKey, { prompt: 'soon revoked', exp: future() });
  const ok = await worker.fetch(path);
  assert.equal(ok.status, 200);
  await ok.arrayBuffer();
  const readAt = Date.now();
  const record = await createRecord(revokedKey, 'test', 'free');
  await worker.kvPut(kvKeyFor(record.kid), JSON.stringify({ ...record, revoked_at: 1 }));
  const stale = await worker.fetch(path);
  await stale.arrayBuffer();
  // Within the window the isolate still trusts what it read (on a machine slow enough to pass the
  // window already, only the second half says anything).
  if (Date.now() - readAt < (KEY_CACHE_SECONDS - 0.5) * 1000) assert.equal(stale.status, 200);
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, readAt + KEY_CACHE_SECONDS * 1000 + 100 - Date.now())));
  const response = await worker.fetch(path);
  assert.equal(response.status, 403);
  await response.arrayBuffer();
});

test('a validly signed URL with invalid parameters → 400', async () => {
  const response = await worker.fetch(signedPath(key, { prompt: 'bad cfg', cfg: '99', exp: future() }));
  assert.equal(response.status, 400);
  const body = (await response.json()) as { errors: { path: string }[] };
  assert.equal(body.errors[0].path, 'cfg');
});

test('60 views a minute of a popular <img> (hits and 304s) cost the owner nothing: the API stays open', async () => {
  gpu.reset();
  const owner = await worker.createKey({ limits: { requests: 5, images: 5, window_seconds: 3600 } });
  const path = signedPath(owner, { prompt: 'popular image', seed: '5', exp: future() });
  const first = await worker.fetch(path);
  assert.equal(first.status, 200);
  const etag = first.headers.get('ETag')!;
  await first.arrayBuffer();
  const statuses = new Set<number>();
  for (let i = 0; i < 60; i++) {
    const view = await worker.fetch(path, i % 2 ? { headers: { 'If-None-Match': etag } } : {});
    statuses.add(view.status);
    await view.arrayBuffer();
  }
  assert.deepEqual([...statuses].sort(), [200, 304]);
  assert.equal(gpu.calls, 1, 'only the first view generated');
  const api = await worker.fetch('/v1/models', { headers: bearer(owner) });
  assert.equal(api.status, 200, 'the owner is not locked out of the API');
  assert.equal(remaining(api, 'requests'), 4, 'no view took a request token');
  assert.equal(remaining(api, 'images'), 4, 'only the miss took an image token');
});

test('only a miss costs: an image token and a "renders" token; past the renders limit → 429 naming it', async () => {
  gpu.reset();
  const owner = await worker.createKey({ limits: { requests: 100, images: 100, renders: 2, window_seconds: 3600 } });
  const statuses: number[] = [];
  let refused: Response | null = null;
  for (let seed = 0; seed < 3; seed++) {
    const response = await worker.fetch(signedPath(owner, { prompt: 'distinct misses', seed: String(seed), exp: future() }));
    statuses.push(response.status);
    if (response.status === 429) refused = response;
    else await response.arrayBuffer();
  }
  assert.deepEqual(statuses, [200, 200, 429]);
  assert.match(refused!.headers.get('RateLimit') ?? '', /^"renders";r=0;t=\d+$/);
  assert.match(refused!.headers.get('RateLimit-Policy') ?? '', /"renders";q=2;w=3600/);
  const problem = (await refused!.json()) as { type: string; detail: string };
  assert.equal(problem.type, 'https://star-api.dev/problems/rate_limited');
  assert.match(problem.detail, /"renders" limit of 2/);
  assert.equal(gpu.calls, 2);
  const cached = await worker.fetch(signedPath(owner, { prompt: 'distinct misses', seed: '0', exp: future() }));
  assert.equal(cached.status, 200, 'a cached image still renders past the limit');
  await cached.arrayBuffer();
  const api = await worker.fetch('/v1/images/generations', {
    method: 'POST',
    headers: bearer(owner, { 'Content-Type': 'application/json' }),
    body: JSON.stringify({ prompt: 'api still works', seed: 1 }),
  });
  assert.equal(api.status, 200, 'the renders limit does not touch API generation');
  assert.equal(remaining(api, 'images'), 97, 'two render misses and one API image charged');
});
