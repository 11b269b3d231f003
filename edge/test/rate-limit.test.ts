// Per-key limits in the RateLimiter Durable Object, exact under parallel requests: requests and
// images token buckets, the concurrency cap, headers on successes and 429s, refunds on failure.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeGpu } from './helpers/gpu-server.ts';
import { GPU_SECRET, bearer, jsonPost, remaining, startWorker, type TestWorker } from './helpers/worker.ts';

const gpu = new FakeGpu(GPU_SECRET);
let worker: TestWorker;

before(async () => {
  worker = await startWorker({ gpuUrl: await gpu.start() });
});
after(async () => {
  await worker.dispose();
  await gpu.close();
});

test('25 parallel requests against a bucket of 10 → exactly 10 pass, 15 get 429 with Retry-After', async () => {
  // An hour-long window refills one token per 6 minutes: none during the test.
  const key = await worker.createKey({ limits: { requests: 10, window_seconds: 3600 } });
  const responses = await Promise.all(Array.from({ length: 25 }, () => worker.fetch('/v1/models', { headers: bearer(key) })));
  const statuses = responses.map((response) => response.status);
  assert.equal(statuses.filter((status) => status === 200).length, 10);
  assert.equal(statuses.filter((status) => status === 429).length, 15);
  const remainders = responses
    .filter((response) => response.status === 200)
    .map((response) => remaining(response, 'requests'))
    .sort((a, b) => a - b);
  assert.deepEqual(remainders, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'each success saw a distinct token count');
  for (const response of responses.filter((r) => r.status === 429)) {
    assert.ok(Number(response.headers.get('Retry-After')) >= 1);
    assert.equal(
      response.headers.get('RateLimit'),
      `"requests";r=0;t=${response.headers.get('Retry-After')}`,
      'the one item names the limit hit',
    );
    assert.equal(response.headers.get('RateLimit-Policy'), '"requests";q=10;w=3600, "images";q=20;w=3600');
    const body = (await response.json()) as { type: string; retry_after: number };
    assert.equal(body.type, 'https://star-api.dev/problems/rate_limited');
    assert.equal(body.retry_after, Number(response.headers.get('Retry-After')));
  }
  await Promise.all(responses.filter((r) => r.status === 200).map((r) => r.arrayBuffer()));
});

test('limits are per key: another key is unaffected', async () => {
  const a = await worker.createKey({ limits: { requests: 1, window_seconds: 3600 } });
  const b = await worker.createKey({ limits: { requests: 1, window_seconds: 3600 } });
  assert.equal((await worker.fetch('/v1/models', { headers: bearer(a) })).status, 200);
  assert.equal((await worker.fetch('/v1/models', { headers: bearer(a) })).status, 429);
  assert.equal((await worker.fetch('/v1/models', { headers: bearer(b) })).status, 200);
});

test('the images bucket: generated images are charged, cache hits are not, over-quota → 429', async () => {
  gpu.reset();
  const key = await worker.createKey({ limits: { images: 3, window_seconds: 3600 } });
  const first = await worker.fetch('/v1/images/generations', jsonPost(key, { prompt: 'quota', seed: 1, n: 2 }));
  assert.equal(first.status, 200);
  assert.equal(remaining(first, 'images'), 1);
  const hit = await worker.fetch('/v1/images/generations', jsonPost(key, { prompt: 'quota', seed: 1, n: 2 }));
  assert.equal(hit.status, 200);
  assert.equal(remaining(hit, 'images'), 1, 'a cache hit costs no image tokens');
  const over = await worker.fetch('/v1/images/generations', jsonPost(key, { prompt: 'quota', seed: 10, n: 2 }));
  assert.equal(over.status, 429);
  assert.match(over.headers.get('RateLimit') ?? '', /^"images";r=0;t=\d+$/);
  assert.match(((await over.json()) as { detail: string }).detail, /"images" limit of 3/);
  assert.ok(Number(over.headers.get('Retry-After')) >= 1);
  assert.equal(gpu.calls, 1, 'the refused request never reached the GPU');
});

test('parallel image requests never overspend the bucket', async () => {
  gpu.reset();
  gpu.delayMs = 50;
  const key = await worker.createKey({ limits: { images: 4, concurrent: 100, window_seconds: 3600 } });
  const responses = await Promise.all(
    Array.from({ length: 10 }, (_, i) => worker.fetch('/v1/images/generations', jsonPost(key, { prompt: `parallel ${i}`, seed: i }))),
  );
  assert.equal(responses.filter((response) => response.status === 200).length, 4);
  assert.equal(responses.filter((response) => response.status === 429).length, 6);
  assert.equal(gpu.calls, 4);
});

test('the concurrency cap: a second sync generation while one runs → 429 naming "concurrent"; afterwards it passes', async () => {
  gpu.reset();
  gpu.delayMs = 400;
  const key = await worker.createKey({ limits: { concurrent: 1, window_seconds: 3600 } });
  const first = worker.fetch('/v1/images/generations', jsonPost(key, { prompt: 'slot a', seed: 1 }));
  for (let i = 0; i < 200 && gpu.calls === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(gpu.calls, 1, 'the first generation holds its slot at the GPU');
  const [a, b] = await Promise.all([first, worker.fetch('/v1/images/generations', jsonPost(key, { prompt: 'slot b', seed: 1 }))]);
  assert.equal(a.status, 200);
  assert.equal(b.status, 429);
  assert.match(b.headers.get('RateLimit') ?? '', /^"concurrent";r=0;t=\d+$/);
  assert.match(b.headers.get('RateLimit-Policy') ?? '', /, "concurrent";q=1$/);
  const body = (await b.json()) as { detail: string };
  assert.match(body.detail, /"concurrent" limit.*at most 1 generations may run at once/);
  gpu.delayMs = 0;
  assert.equal((await worker.fetch('/v1/images/generations', jsonPost(key, { prompt: 'slot b', seed: 1 }))).status, 200);
});

test('a failed generation refunds its image tokens and frees its slot', async () => {
  gpu.reset();
  gpu.mode = 'error';
  const key = await worker.createKey({ limits: { images: 2, concurrent: 1, window_seconds: 3600 } });
  for (let i = 0; i < 3; i++) {
    const response = await worker.fetch('/v1/images/generations', jsonPost(key, { prompt: 'always fails', seed: i, n: 2 }));
    assert.equal(response.status, 502);
    assert.equal(remaining(response, 'images'), 2);
  }
  gpu.mode = 'ok';
  assert.equal((await worker.fetch('/v1/images/generations', jsonPost(key, { prompt: 'now works', seed: 0, n: 2 }))).status, 200);
});
