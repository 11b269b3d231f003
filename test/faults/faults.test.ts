// Faults during traffic, on the real local stack: the gpu-service killed, restarted, made slow
// and made to answer garbage (a real HTTP proxy on loopback sits between the edge and the
// gpu-service and switches behaviour per case), and the edge restarted with jobs in flight.
// Each case asserts the documented status codes (503 + Retry-After unreachable, 504 timeout,
// 502 garbage, problem+json bodies), that nothing is half-written (a failed image is generated
// afresh later, never served from a store; jobs end failed, not hanging), and that service
// recovers without manual steps.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { encodeFrame, FRAMES_CONTENT_TYPE } from '@star-api/contract';
import { freePort } from '../../scripts/lib/processes.ts';
import {
  GpuProxy,
  PROBLEM_PREFIX,
  assertEdgeProblem,
  assertNoLeak,
  authHeaders,
  call,
  sleep,
  startTestStack,
  waitForJob,
  type Answer,
  type TestStack,
} from '../lib/reliability.ts';

/** The edge's GPU deadline in this stack: short, so the slow case is quick. */
const GPU_TIMEOUT_MS = 4000;

const proxy = new GpuProxy();
let stack: TestStack;
let secrets: string[];

before(async () => {
  const proxyUrl = await proxy.listen(await freePort());
  stack = await startTestStack({
    edgeGpuUrl: proxyUrl,
    edgeVars: { GPU_TIMEOUT_MS: String(GPU_TIMEOUT_MS) },
    // 1000 images a day refill ~0.01 token/s: "nothing charged" below is checked with n = 4.
    keyLimits: { requests: 100_000, images: 1000, concurrent: 100, window: 86_400 },
  });
  proxy.target = new URL(stack.gpuUrl);
  secrets = [stack.secrets.GPU_SHARED_SECRET, stack.secrets.URL_SIGNING_KEY, stack.apiKey];
});

after(async () => {
  await stack?.dispose();
  await proxy.close();
});

interface Generation {
  data: { url: string; key: string; seed: number }[];
  cached: boolean;
}

function generate(prompt: string, seed: number, n = 1): Promise<Answer> {
  return call(
    `${stack.edgeUrl}/v1/images/generations`,
    { method: 'POST', headers: authHeaders(stack.apiKey), body: JSON.stringify({ prompt, seed, n }) },
    30_000,
  );
}

function createJob(prompt: string, seed: number): Promise<Answer> {
  return call(`${stack.edgeUrl}/v1/jobs`, { method: 'POST', headers: authHeaders(stack.apiKey), body: JSON.stringify({ prompt, seed }) });
}

/** A failure answer: the status, a well-formed problem of the type, no leaks. */
function assertFailure(answer: Answer, status: number, type: string, context: string): void {
  assert.equal(answer.status, status, `${context}: ${answer.text.slice(0, 300)}`);
  const problem = assertEdgeProblem(answer, answer.text, context);
  assert.equal(problem.type, PROBLEM_PREFIX + type, context);
  assertNoLeak(answer.text, secrets, context);
  if (status === 503) {
    const retryAfter = Number(answer.headers.get('retry-after'));
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `${context}: Retry-After ${answer.headers.get('retry-after')}`);
    assert.equal(problem.retry_after, retryAfter, `${context}: retry_after matches Retry-After`);
  }
}

function imagesLeft(answer: Answer): number {
  const left = Number(/"images";r=(\d+)/.exec(answer.headers.get('ratelimit') ?? '')?.[1]);
  assert.ok(Number.isInteger(left), `RateLimit header ${answer.headers.get('ratelimit')}`);
  return left;
}

/** Image tokens left now (a cache hit reads the limiter without generating). */
async function imagesNow(): Promise<number> {
  return imagesLeft(await generate('fault baseline', 1));
}

/** A failed 4-image request charged nothing: a charge would take 4 tokens, refill adds < 1. */
function assertNotCharged(before: number, answer: Answer, context: string): void {
  assert.ok(
    imagesLeft(answer) >= before,
    `${context}: images left ${before} → ${imagesLeft(answer)}; a failed generation must charge nothing`,
  );
}

/** Nothing was stored for a failed image: once the GPU is back, it is generated afresh, and it is whole. */
async function assertGeneratedAfresh(prompt: string, seed: number): Promise<void> {
  const answer = await generate(prompt, seed);
  assert.equal(answer.status, 200, `${prompt} #${seed} after recovery: ${answer.text.slice(0, 300)}`);
  const body = JSON.parse(answer.text) as Generation;
  assert.equal(body.cached, false, `${prompt} #${seed}: a failed generation must not have left an image behind`);
  const image = await fetch(body.data[0].url);
  assert.equal(image.status, 200);
  await sharp(Buffer.from(await image.arrayBuffer()))
    .raw()
    .toBuffer();
}

/** Polls until a fresh generation answers 200 (recovery without manual steps), at most `ms`. */
async function recovered(label: string, ms = 30_000): Promise<number> {
  const started = Date.now();
  for (let i = 0; Date.now() - started < ms; i++) {
    const answer = await generate(`recovery check ${label}`, i).catch(() => null);
    if (answer?.status === 200) return Date.now() - started;
    await sleep(250);
  }
  assert.fail(`${label}: the stack did not recover within ${ms} ms`);
}

test('healthy through the proxy: a miss is generated, a repeat is a cache hit', async () => {
  proxy.mode = { kind: 'pass' };
  const first = await generate('fault baseline', 1);
  assert.equal(first.status, 200, first.text);
  assert.equal((JSON.parse(first.text) as Generation).cached, false);
  const again = await generate('fault baseline', 1);
  assert.equal((JSON.parse(again.text) as Generation).cached, true);
});

test('GPU service killed during traffic: in-flight and later requests → 503 + Retry-After, jobs fail, nothing stored; restart recovers', async () => {
  proxy.mode = { kind: 'pass' };
  // Traffic in flight, then SIGKILL: requests either finished first or fail as "unreachable".
  const inFlight = Array.from({ length: 6 }, (_, i) => generate('killed mid-flight', i));
  await sleep(60);
  await stack.gpu.stop('SIGKILL');
  const answers = await Promise.all(inFlight);
  const failedSeeds: number[] = [];
  answers.forEach((answer, i) => {
    if (answer.status === 200) return;
    assertFailure(answer, 503, 'gpu_unavailable', `in-flight request ${i}`);
    failedSeeds.push(i);
  });

  // While it is down: every generation 503 with Retry-After, nothing charged.
  for (let seed = 100; seed < 104; seed++) {
    const before = await imagesNow();
    const answer = await generate('while the GPU is down', seed, 4);
    assertFailure(answer, 503, 'gpu_unavailable', `down, seed ${seed}`);
    assertNotCharged(before, answer, `down, seed ${seed}`);
  }
  // A job accepted while it is down ends failed (not hanging), with the same problem.
  const created = await createJob('job while the GPU is down', 1);
  assert.equal(created.status, 202, created.text);
  const job = await waitForJob(stack.edgeUrl, stack.apiKey, (JSON.parse(created.text) as { id: string }).id, 30_000);
  assert.equal(job.status, 'failed');
  assert.equal(job.error?.type, `${PROBLEM_PREFIX}gpu_unavailable`);
  // Cache hits do not need the GPU.
  assert.equal((JSON.parse((await generate('fault baseline', 1)).text) as Generation).cached, true);

  // Restart (what the platform's supervisor does); the edge needs no intervention.
  await stack.restartGpu();
  const ms = await recovered('after kill');
  assert.ok(ms < 10_000, `first success ${ms} ms after the GPU was back`);
  for (const seed of failedSeeds) await assertGeneratedAfresh('killed mid-flight', seed);
  for (const seed of [100, 101]) await assertGeneratedAfresh('while the GPU is down', seed);
  const retried = await createJob('job while the GPU is down', 1);
  const retriedJob = await waitForJob(stack.edgeUrl, stack.apiKey, (JSON.parse(retried.text) as { id: string }).id, 30_000);
  assert.equal(retriedJob.status, 'succeeded', 'the same job submitted again succeeds');
});

test('GPU service restarted (SIGTERM, drains) under steady traffic: only 200 or 503 + Retry-After, then all 200', async () => {
  proxy.mode = { kind: 'pass' };
  let stop = false;
  const seen: Answer[] = [];
  let seed = 1000;
  const clients = Array.from({ length: 3 }, async () => {
    while (!stop) {
      const answer = await generate('steady traffic', seed++);
      seen.push(answer);
      if (answer.status !== 200) await sleep(100);
    }
  });
  await sleep(500);
  await stack.restartGpu();
  await sleep(500);
  stop = true;
  await Promise.all(clients);
  assert.ok(seen.length > 3, `traffic flowed (${seen.length} requests)`);
  for (const [i, answer] of seen.entries()) {
    if (answer.status !== 200) assertFailure(answer, 503, 'gpu_unavailable', `restart traffic #${i}`);
  }
  const after = await Promise.all([generate('steady traffic, after', 1), generate('steady traffic, after', 2)]);
  for (const answer of after) assert.equal(answer.status, 200, answer.text);
});

test(`GPU slower than GPU_TIMEOUT_MS (${GPU_TIMEOUT_MS} ms): 504 at the deadline, nothing charged or stored, jobs fail; recovers`, async () => {
  const before = await imagesNow();
  proxy.mode = { kind: 'delay', ms: GPU_TIMEOUT_MS + 3000 };
  const started = Date.now();
  const answer = await generate('too slow', 1, 4);
  const took = Date.now() - started;
  assertFailure(answer, 504, 'gpu_timeout', 'slow GPU');
  assert.ok(took >= GPU_TIMEOUT_MS - 100 && took < GPU_TIMEOUT_MS + 2500, `gave up after ${took} ms`);
  assertNotCharged(before, answer, 'slow GPU');
  const created = await createJob('too slow job', 1);
  assert.equal(created.status, 202);
  const job = await waitForJob(stack.edgeUrl, stack.apiKey, (JSON.parse(created.text) as { id: string }).id, 30_000);
  assert.equal(job.status, 'failed');
  assert.equal(job.error?.type, `${PROBLEM_PREFIX}gpu_timeout`);
  assert.equal(job.error?.status, 504);

  proxy.mode = { kind: 'pass' };
  await recovered('after slow');
  await assertGeneratedAfresh('too slow', 1);
});

test('GPU answering garbage: 502 generation_failed for every kind of bad answer, reset → 503; nothing stored; recovers', async () => {
  /** What the edge's check of a PNG's first bytes accepts. */
  const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]);
  const timings = { queue_ms: 0, text_ms: 0, generate_ms: 0, decode_ms: 0, encode_ms: 0, total_ms: 0 };
  const result = encodeFrame('result', { model: 'star-tiny', width: 64, height: 64, batch_size: 1, timings });
  /** An answer in the contract's frames whose image frames are `image(seed)`. */
  const framed = (request: string, image: (seed: number) => Uint8Array) => ({
    contentType: FRAMES_CONTENT_TYPE,
    body: Buffer.concat([...(JSON.parse(request) as { seeds: number[] }).seeds.map(image), result]),
  });
  const garbage: [string, (body: string) => { status?: number; contentType: string; body: string | Uint8Array }][] = [
    ['text instead of frames', () => ({ contentType: 'text/plain', body: 'Segmentation fault (core dumped)' })],
    ['JSON instead of frames', () => ({ contentType: 'application/json', body: '{"model":"star-tiny","images":[]}' })],
    [
      'frames cut short',
      () => ({ contentType: FRAMES_CONTENT_TYPE, body: encodeFrame('image', { seed: 1, format: 'png' }, PNG_SIGNATURE).subarray(0, 40) }),
    ],
    ['a result of the wrong shape', () => ({ contentType: FRAMES_CONTENT_TYPE, body: encodeFrame('result', { ok: true }) })],
    [
      'bytes that are not an image',
      (request) => framed(request, (seed) => encodeFrame('image', { seed, format: 'png' }, Buffer.from('not a png at all'))),
    ],
    ['the wrong seed', (request) => framed(request, (seed) => encodeFrame('image', { seed: seed + 1, format: 'png' }, PNG_SIGNATURE))],
    [
      'a 500 with an HTML body',
      () => ({
        status: 500,
        contentType: 'text/html',
        body: '<h1>Internal Server Error</h1><pre>at Object.<anonymous> (/srv/app.ts:1:1)</pre>',
      }),
    ],
  ];
  for (const [i, [what, respond]] of garbage.entries()) {
    proxy.mode = { kind: 'pass' };
    const before = await imagesNow();
    proxy.mode = { kind: 'garbage', respond };
    const answer = await generate('garbage answers', 10 * i, 4);
    assertFailure(answer, 502, 'generation_failed', what);
    assertNotCharged(before, answer, what);
  }
  proxy.mode = { kind: 'garbage', respond: garbage[0][1] };
  const created = await createJob('garbage job', 1);
  const job = await waitForJob(stack.edgeUrl, stack.apiKey, (JSON.parse(created.text) as { id: string }).id, 30_000);
  assert.equal(job.status, 'failed');
  assert.equal(job.error?.type, `${PROBLEM_PREFIX}generation_failed`);
  assertNoLeak(JSON.stringify(job), secrets, 'failed job');

  proxy.mode = { kind: 'reset' };
  assertFailure(await generate('connection reset', 1), 503, 'gpu_unavailable', 'connection reset');

  proxy.mode = { kind: 'pass' };
  await recovered('after garbage');
  for (let i = 0; i < garbage.length; i++) await assertGeneratedAfresh('garbage answers', 10 * i);
});

test('edge restarted with jobs in flight: every job still reaches a terminal state, no manual steps', async () => {
  // Slow enough that the jobs are running when the edge goes down, well inside the deadline.
  proxy.mode = { kind: 'delay', ms: 2500 };
  const ids: string[] = [];
  for (let seed = 0; seed < 3; seed++) {
    const created = await createJob('edge restart job', seed);
    assert.equal(created.status, 202, created.text);
    ids.push((JSON.parse(created.text) as { id: string }).id);
  }
  await sleep(800);
  await stack.restartEdge();
  proxy.mode = { kind: 'pass' };
  for (const id of ids) {
    const job = await waitForJob(stack.edgeUrl, stack.apiKey, id, 30_000);
    if (job.status === 'succeeded') {
      for (const image of job.result!.data) assert.equal((await fetch(image.url)).status, 200, `job ${id}: image ${image.url}`);
    } else {
      assert.equal(job.status, 'failed', `job ${id}`);
      assert.ok(job.error?.type.startsWith(PROBLEM_PREFIX), `job ${id}: ${JSON.stringify(job.error)}`);
    }
  }
  await recovered('after edge restart');
  const health = await call(`${stack.edgeUrl}/healthz`);
  assert.equal(health.status, 200);
});
