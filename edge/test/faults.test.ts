// GPU deadline and reachability in workerd: a slow GPU → 504, a dead one → 503 + Retry-After,
// and neither stores an image nor charges the key.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeGpu } from './helpers/gpu-server.ts';
import { GPU_SECRET, bearer, jsonPost, remaining, startWorker, type TestWorker } from './helpers/worker.ts';

const gpu = new FakeGpu(GPU_SECRET);
let worker: TestWorker;
let key: string;

// Expiry is whole seconds: with a TTL of 1 s a job created at x.9 s is past its provisional
// expiry (created_at + TTL) at x+1 s and is deleted while it runs; 2 s always leaves it a second.
const JOB_TTL_SECONDS = 2;

before(async () => {
  worker = await startWorker({
    gpuUrl: await gpu.start(),
    vars: { GPU_TIMEOUT_MS: '300', ALLOW_PRIVATE_WEBHOOKS: 'false', JOB_TTL_SECONDS: String(JOB_TTL_SECONDS) },
  });
  key = await worker.createKey({ limits: { images: 3, window_seconds: 3600 } });
});
after(async () => {
  await worker.dispose();
  await gpu.close();
});

test('a GPU that misses the deadline → 504 gpu_timeout, nothing charged', async () => {
  gpu.delayMs = 3000;
  const started = Date.now();
  const response = await worker.fetch('/v1/images/generations', jsonPost(key, { prompt: 'too slow', seed: 1 }));
  assert.equal(response.status, 504);
  assert.ok(Date.now() - started < 2500, 'the edge gave up at its deadline, not when the GPU answered');
  const body = (await response.json()) as { type: string };
  assert.equal(body.type, 'https://star-api.dev/problems/gpu_timeout');
  assert.equal(remaining(response, 'images'), 3);
  gpu.delayMs = 0;
});

test('webhooks to loopback or plain http are refused in production configuration', async () => {
  for (const webhook_url of [
    'http://example.com/hook',
    'https://127.0.0.1/hook',
    'https://localhost/hook',
    'https://[::1]/hook',
    'https://10.1.2.3/x',
    'https://169.254.169.254/latest',
  ]) {
    const response = await worker.fetch('/v1/jobs', jsonPost(key, { prompt: 'hook', webhook_url }));
    assert.equal(response.status, 400, webhook_url);
    const body = (await response.json()) as { errors: { path: string }[] };
    assert.equal(body.errors[0].path, 'webhook_url');
  }
});

test('a finished job expires JOB_TTL_SECONDS after completion: 404, storage deleted by its alarm', async () => {
  const created = await worker.fetch('/v1/jobs', jsonPost(key, { prompt: 'short-lived', seed: 1 }));
  assert.equal(created.status, 202);
  const { id } = (await created.json()) as { id: string };
  interface JobView {
    status: string;
    completed_at?: number;
    expires_at: number;
  }
  const read = async (): Promise<JobView> => (await (await worker.fetch(`/v1/jobs/${id}`, { headers: bearer(key) })).json()) as JobView;
  let job = await read();
  for (let i = 0; i < 40 && job.status !== 'succeeded'; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    job = await read();
  }
  assert.equal(job.status, 'succeeded');
  assert.equal(job.expires_at, job.completed_at! + JOB_TTL_SECONDS);
  let status = 200;
  for (let i = 0; i < 60 && status === 200; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const response = await worker.fetch(`/v1/jobs/${id}`, { headers: bearer(key) });
    status = response.status;
    await response.arrayBuffer();
  }
  assert.equal(status, 404);
  const events = await worker.fetch(`/v1/jobs/${id}/events`, { headers: bearer(key) });
  assert.equal(events.status, 404);
  await events.arrayBuffer();
});

test('an unreachable GPU → 503 gpu_unavailable with Retry-After, nothing charged', async () => {
  await gpu.close();
  const fresh = await worker.createKey({ limits: { images: 3, window_seconds: 3600 } });
  const response = await worker.fetch('/v1/images/generations', jsonPost(fresh, { prompt: 'nobody home', seed: 1 }));
  assert.equal(response.status, 503);
  assert.ok(Number(response.headers.get('Retry-After')) >= 1);
  const body = (await response.json()) as { type: string; retry_after: number };
  assert.equal(body.type, 'https://star-api.dev/problems/gpu_unavailable');
  assert.equal(body.retry_after, Number(response.headers.get('Retry-After')));
  assert.equal(remaining(response, 'images'), 3);
});
