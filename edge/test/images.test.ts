// GET /v1/images/{key}.{ext} in workerd: immutable caching headers, ETag / 304, byte ranges, CORS.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeGpu, tinyPng } from './helpers/gpu-server.ts';
import { GPU_SECRET, jsonPost, startWorker, type TestWorker } from './helpers/worker.ts';

const gpu = new FakeGpu(GPU_SECRET);
let worker: TestWorker;
let path: string;
let imageKey: string;

before(async () => {
  worker = await startWorker({ gpuUrl: await gpu.start() });
  const key = await worker.createKey();
  const response = await worker.fetch('/v1/images/generations', jsonPost(key, { prompt: 'an image to fetch', seed: 3 }));
  const body = (await response.json()) as { data: { url: string; key: string }[] };
  path = new URL(body.data[0].url).pathname;
  imageKey = body.data[0].key;
});
after(async () => {
  await worker.dispose();
  await gpu.close();
});

test('the image is public, immutable and carries a strong ETag', async () => {
  const response = await worker.fetch(path);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('Cache-Control'), 'public, max-age=31536000, immutable');
  assert.equal(response.headers.get('ETag'), `"${imageKey}"`);
  assert.equal(response.headers.get('Content-Type'), 'image/png');
  assert.deepEqual(Buffer.from(await response.arrayBuffer()), tinyPng(3));
});

test('HEAD answers the headers without the bytes', async () => {
  const response = await worker.fetch(path, { method: 'HEAD' });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('ETag'), `"${imageKey}"`);
  assert.equal(response.headers.get('Content-Length'), String(tinyPng(3).length));
  assert.equal((await response.arrayBuffer()).byteLength, 0);
});

test('If-None-Match with the ETag → 304 without a body', async () => {
  const response = await worker.fetch(path, { headers: { 'If-None-Match': `W/"nope", "${imageKey}"` } });
  assert.equal(response.status, 304);
  assert.equal(response.headers.get('ETag'), `"${imageKey}"`);
  assert.equal((await response.arrayBuffer()).byteLength, 0);
  const other = await worker.fetch(path, { headers: { 'If-None-Match': '"something-else"' } });
  assert.equal(other.status, 200);
  await other.arrayBuffer();
});

test('a byte range → 206 with Content-Range and exactly those bytes', async () => {
  const whole = tinyPng(3);
  const response = await worker.fetch(path, { headers: { Range: 'bytes=1-3' } });
  assert.equal(response.status, 206);
  assert.equal(response.headers.get('Content-Range'), `bytes 1-3/${whole.length}`);
  assert.deepEqual(Buffer.from(await response.arrayBuffer()), whole.subarray(1, 4));
  const suffix = await worker.fetch(path, { headers: { Range: 'bytes=-4' } });
  assert.equal(suffix.status, 206);
  assert.deepEqual(Buffer.from(await suffix.arrayBuffer()), whole.subarray(whole.length - 4));
});

test('an unsatisfiable range → 416 problem with Content-Range bytes */size', async () => {
  const response = await worker.fetch(path, { headers: { Range: 'bytes=100000-' } });
  assert.equal(response.status, 416);
  assert.equal(response.headers.get('Content-Range'), `bytes */${tinyPng(3).length}`);
  const body = (await response.json()) as { type: string };
  assert.equal(body.type, 'https://star-api.dev/problems/range_not_satisfiable');
});

test('an unknown key → 404, a malformed one → 400', async () => {
  const missing = await worker.fetch(`/v1/images/${'0'.repeat(64)}.png`);
  assert.equal(missing.status, 404);
  assert.equal(missing.headers.get('Content-Type'), 'application/problem+json');
  await missing.arrayBuffer();
  const malformed = await worker.fetch('/v1/images/../../etc.png');
  assert.ok(malformed.status === 400 || malformed.status === 404);
  await malformed.arrayBuffer();
  const badExt = await worker.fetch(`/v1/images/${imageKey}.gif`);
  assert.equal(badExt.status, 400);
  await badExt.arrayBuffer();
});

test('the same image under another extension is another object (the format is in the key)', async () => {
  const response = await worker.fetch(path.replace(/\.png$/, '.webp'));
  assert.equal(response.status, 404);
  await response.arrayBuffer();
});

test('CORS: preflight allows Authorization and the API headers; responses expose ids and limits', async () => {
  const preflight = await worker.fetch('/v1/jobs', {
    method: 'OPTIONS',
    headers: {
      Origin: 'https://app.example',
      'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'authorization, content-type, idempotency-key',
    },
  });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get('Access-Control-Allow-Origin'), '*');
  assert.match(preflight.headers.get('Access-Control-Allow-Headers') ?? '', /Authorization/);
  assert.match(preflight.headers.get('Access-Control-Allow-Headers') ?? '', /Idempotency-Key/);
  const response = await worker.fetch(path, { headers: { Origin: 'https://app.example' } });
  assert.equal(response.headers.get('Access-Control-Allow-Origin'), '*');
  assert.match(response.headers.get('Access-Control-Expose-Headers') ?? '', /X-Request-Id.*RateLimit/);
  await response.arrayBuffer();
  const refused = await worker.fetch('/v1/models', { headers: { Origin: 'https://app.example' } });
  assert.equal(refused.status, 401);
  assert.equal(refused.headers.get('Access-Control-Allow-Origin'), '*', 'browsers can read error bodies too');
  await refused.arrayBuffer();
});

test('GET / serves the playground page', async () => {
  const response = await worker.fetch('/');
  assert.equal(response.status, 200);
  assert.match(response.headers.get('Content-Type') ?? '', /text\/html/);
  const html = await response.text();
  assert.match(html, /\/v1\/jobs/);
  assert.match(html, /events/);
});
