// Served models in workerd: GET /v1/models lists what the gpu-service's readiness probe names, and a
// model it does not serve is refused with 404 model_not_found at create time (sync, jobs, render),
// before anything is charged, queued or sent to the GPU.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { FakeGpu } from './helpers/gpu-server.ts';
import { GPU_SECRET, bearer, jsonPost, remaining, startWorker, type TestWorker } from './helpers/worker.ts';
import { future, signedPath } from './helpers/render-url.ts';

const gpu = new FakeGpu(GPU_SECRET);
let worker: TestWorker;
let key: string;

before(async () => {
  gpu.models = ['star-tiny', 'star-256-d16'];
  worker = await startWorker({ gpuUrl: await gpu.start() });
  key = await worker.createKey({ limits: { images: 5, window_seconds: 3600 } });
});
after(async () => {
  await worker.dispose();
  await gpu.close();
});

interface Problem {
  type: string;
  status: number;
  detail: string;
  errors?: { path: string }[];
}

async function assertModelNotFound(response: Response, context: string): Promise<void> {
  assert.equal(response.status, 404, context);
  assert.equal(response.headers.get('Content-Type'), 'application/problem+json');
  const problem = (await response.json()) as Problem;
  assert.equal(problem.type, 'https://star-api.dev/problems/model_not_found', context);
  assert.equal(problem.errors?.[0].path, 'model');
}

test('GET /v1/models lists only the models the gpu-service serves', async () => {
  const response = await worker.fetch('/v1/models', { headers: bearer(key) });
  assert.equal(response.status, 200);
  const body = (await response.json()) as { data: { id: string; default: boolean; resolution: number }[] };
  assert.deepEqual(
    body.data.map((model) => model.id),
    ['star-tiny', 'star-256-d16'],
  );
  assert.deepEqual(
    body.data.filter((model) => model.default).map((model) => model.id),
    ['star-tiny'],
  );
  assert.equal(body.data[1].resolution, 256);
});

test('a known model the deployment does not serve → 404 model_not_found for sync, jobs and render; nothing charged or sent', async () => {
  gpu.reset();
  await assertModelNotFound(await worker.fetch('/v1/images/generations', jsonPost(key, { prompt: 'x', model: 'star-1024-d30' })), 'sync');
  await assertModelNotFound(await worker.fetch('/v1/jobs', jsonPost(key, { prompt: 'x', model: 'star-512-d30' })), 'job');
  await assertModelNotFound(await worker.fetch(signedPath(key, { prompt: 'x', model: 'star-1024-d30', exp: future() })), 'render');
  assert.equal(gpu.calls, 0, 'the GPU was never asked');
  const served = await worker.fetch('/v1/images/generations', jsonPost(key, { prompt: 'x', model: 'star-256-d16', seed: 1 }));
  assert.equal(served.status, 200, 'a served model works');
  assert.equal(remaining(served, 'images'), 4, 'only the served generation was charged');
});

test('a model nobody knows → 404 model_not_found too', async () => {
  await assertModelNotFound(await worker.fetch('/v1/jobs', jsonPost(key, { prompt: 'x', model: 'star-9000' })), 'job');
});

test('before the gpu-service has ever answered ready, GET /v1/models is 503 gpu_unavailable with Retry-After', async () => {
  // A port that was free a moment ago: nothing listens there.
  const port = await new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
  const dark = await startWorker({ gpuUrl: `http://127.0.0.1:${port}` });
  try {
    const darkKey = await dark.createKey();
    const response = await dark.fetch('/v1/models', { headers: bearer(darkKey) });
    assert.equal(response.status, 503);
    assert.ok(Number(response.headers.get('Retry-After')) >= 1);
    assert.equal(((await response.json()) as Problem).type, 'https://star-api.dev/problems/gpu_unavailable');
  } finally {
    await dark.dispose();
  }
});
