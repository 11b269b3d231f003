// Served models in workerd: GET /v1/models lists what the gpu-service's readiness probe names, and a
// model it does not serve is refused with 404 model_not_found at create time (sync, jobs, render),
// before anything is charged, queued or sent to the GPU.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { createServer } from 'node:net';
import { FakeGpu } from './helpers/gpu-server.ts';
import { GPU_SECRET, bearer, jsonPost, startWorker, type TestWorker } from './helpers/worker.ts';

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

function imagesLeft(response: Response): number {
  return Number(/"images";r=(\d+)/.exec(response.headers.get('RateLimit') ?? '')?.[1]);
}

/** Signed as openapi.yaml describes, independently of the Worker's code. */
function renderPath(apiKey: string, params: Record<string, string>): string {
  const sk = createHmac('sha256', apiKey).update('star-api render v1').digest();
  const all: Record<string, string> = { kid: createHash('sha256').update(apiKey).digest('hex').slice(0, 16), exp: String(Math.floor(Date.now() / 1000) + 600), ...params };
  const canonical = Object.keys(all).sort().map((name) => `${encodeURIComponent(name)}=${encodeURIComponent(all[name])}`).join('&');
  return `/v1/render?${new URLSearchParams({ ...all, sig: createHmac('sha256', sk).update(canonical).digest('hex') })}`;
}

test('GET /v1/models lists only the models the gpu-service serves', async () => {
  const response = await worker.fetch('/v1/models', { headers: bearer(key) });
  assert.equal(response.status, 200);
  const body = (await response.json()) as { data: { id: string; default: boolean; resolution: number }[] };
  assert.deepEqual(body.data.map((model) => model.id), ['star-tiny', 'star-256-d16']);
  assert.deepEqual(body.data.filter((model) => model.default).map((model) => model.id), ['star-tiny']);
  assert.equal(body.data[1].resolution, 256);
});

test('a known model the deployment does not serve → 404 model_not_found for sync, jobs and render; nothing charged or sent', async () => {
  gpu.reset();
  await assertModelNotFound(await worker.fetch('/v1/images/generations', jsonPost(key, { prompt: 'x', model: 'star-1024-d30' })), 'sync');
  await assertModelNotFound(await worker.fetch('/v1/jobs', jsonPost(key, { prompt: 'x', model: 'star-512-d30' })), 'job');
  await assertModelNotFound(await worker.fetch(renderPath(key, { prompt: 'x', model: 'star-1024-d30' })), 'render');
  assert.equal(gpu.calls, 0, 'the GPU was never asked');
  const served = await worker.fetch('/v1/images/generations', jsonPost(key, { prompt: 'x', model: 'star-256-d16', seed: 1 }));
  assert.equal(served.status, 200, 'a served model works');
  assert.equal(imagesLeft(served), 4, 'only the served generation was charged');
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
