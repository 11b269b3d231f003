// Jobs in workerd: the Job Durable Object runs the generation, relays per-scale progress as SSE
// with resumable ids, cancels, fails cleanly, replays Idempotency-Keys and signs its webhooks.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeGpu, tinyPng } from './helpers/gpu-server.ts';
import { GPU_SECRET, bearer, jsonPost, remaining, startWorker, type TestWorker } from './helpers/worker.ts';
import { parseEvents } from './helpers/sse.ts';
import { Job as JobSchema, JobCreateRequest, JobEvent } from '../src/schemas.gen.ts';
import { keyId } from '../src/keys/record.ts';
import { requestFingerprint } from '../src/stores/idempotency/fingerprint.ts';

const gpu = new FakeGpu(GPU_SECRET);
let worker: TestWorker;
let key: string;

type Job = ReturnType<typeof JobSchema.parse>;
interface Event {
  id: number;
  event: string;
  data: Record<string, unknown> & { job?: Job };
}

before(async () => {
  // Queued jobs give up after 2 s here, so the queue's timeout is seen within the test.
  worker = await startWorker({ gpuUrl: await gpu.start(), vars: { JOB_QUEUE_SECONDS: '2' } });
  key = await worker.createKey({ limits: { requests: 1000, images: 1000, concurrent: 20 } });
});
after(async () => {
  await worker.dispose();
  await gpu.close();
});

async function createJob(body: unknown, headers: Record<string, string> = {}, apiKey = key): Promise<{ response: Response; job: Job }> {
  const response = await worker.fetch('/v1/jobs', jsonPost(apiKey, body, headers));
  const json = await response.json();
  return { response, job: json as Job };
}

/** Reads the stream to its end (or until `stopAt` is seen), checking each event against openapi's JobEvent. */
async function readEvents(jobId: string, lastEventId?: number, stopAt?: string, apiKey = key): Promise<Event[]> {
  const headers = bearer(apiKey, lastEventId === undefined ? {} : { 'Last-Event-ID': String(lastEventId) });
  const response = await worker.fetch(`/v1/jobs/${jobId}/events`, { headers });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('Content-Type') ?? '', /^text\/event-stream/);
  const events: Event[] = [];
  for await (const message of parseEvents(response.body!)) {
    const event: Event = { id: Number(message.id), event: message.event, data: JSON.parse(message.data) };
    const parsed = JobEvent.safeParse(event);
    assert.ok(parsed.success, `event matches the JobEvent schema: ${message.data.slice(0, 200)}`);
    events.push(event);
    if (event.event === stopAt) break;
  }
  return events;
}

async function waitFor(jobId: string, done: (job: Job) => boolean, apiKey = key): Promise<Job> {
  for (let i = 0; i < 100; i++) {
    const job = (await (await worker.fetch(`/v1/jobs/${jobId}`, { headers: bearer(apiKey) })).json()) as Job;
    if (done(job)) return job;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`job ${jobId} did not reach the expected state`);
}

describe('lifecycle and events', () => {
  let jobId: string;
  let all: Event[];

  test('POST /v1/jobs → 202, Location and a queued job', async () => {
    gpu.reset();
    gpu.delayMs = 100;
    const { response, job } = await createJob({ prompt: 'a job', seed: 77, n: 2 });
    assert.equal(response.status, 202);
    assert.equal(response.headers.get('Location'), `/v1/jobs/${job.id}`);
    assert.ok(JobSchema.safeParse(job).success);
    assert.match(job.id, /^job_[0-9A-Za-z]+$/);
    assert.equal(job.status, 'queued');
    // Provisional until the GPU's started event: the model's scale count in edge/src/models.ts (star-tiny: 7).
    assert.deepEqual(job.progress, { scale: 0, scales: 7 });
    assert.equal(job.expires_at, job.created_at + 86_400, 'provisional until the job ends');
    jobId = job.id;
  });

  test('the event stream relays queued, started, a progress per scale, then completed, and closes', async () => {
    all = await readEvents(jobId);
    assert.deepEqual(
      all.map((event) => event.event),
      ['queued', 'started', 'progress', 'progress', 'progress', 'progress', 'completed'],
    );
    assert.deepEqual(
      all.map((event) => event.id),
      [1, 2, 3, 4, 5, 6, 7],
    );
    const progress = all.filter((event) => event.event === 'progress');
    assert.deepEqual(
      progress.map((event) => event.data.scale),
      [1, 2, 3, 4],
    );
    assert.match(String(progress[0].data.preview), /^data:image\/png;base64,iVBOR/);
    const done = all.at(-1)!.data.job!;
    assert.equal(done.status, 'succeeded');
    assert.deepEqual(
      done.result?.data.map((image) => image.seed),
      [77, 78],
    );
    assert.deepEqual(done.progress, { scale: 4, scales: 4 });
    assert.ok(gpu.requests[0].preview, 'the job asked the GPU for previews');
  });

  test('Last-Event-ID resumes after the given id', async () => {
    const resumed = await readEvents(jobId, 4);
    assert.deepEqual(
      resumed.map((event) => event.id),
      [5, 6, 7],
    );
    assert.deepEqual(resumed, all.slice(4));
  });

  test('GET /v1/jobs/{id} returns the finished job with a result whose images exist', async () => {
    const response = await worker.fetch(`/v1/jobs/${jobId}`, { headers: bearer(key) });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('RateLimit') ?? '', /requests/);
    const job = (await response.json()) as Job;
    assert.equal(job.status, 'succeeded');
    assert.ok(job.completed_at! >= job.started_at!);
    assert.equal(job.expires_at, job.completed_at! + 86_400);
    const image = await worker.fetch(new URL(job.result!.data[0].url!).pathname);
    assert.equal(image.status, 200);
    await image.arrayBuffer();
  });

  test('another key cannot see, follow or cancel the job (404)', async () => {
    const other = await worker.createKey();
    for (const [path, method] of [
      [`/v1/jobs/${jobId}`, 'GET'],
      [`/v1/jobs/${jobId}`, 'DELETE'],
      [`/v1/jobs/${jobId}/events`, 'GET'],
    ] as const) {
      const response = await worker.fetch(path, { method, headers: bearer(other) });
      assert.equal(response.status, 404, `${method} ${path}`);
      await response.arrayBuffer();
    }
    const unknown = await worker.fetch('/v1/jobs/job_doesnotexist', { headers: bearer(key) });
    assert.equal(unknown.status, 404);
    await unknown.arrayBuffer();
  });

  test('a job whose images are all cached completes without a GPU call', async () => {
    gpu.reset();
    const { job } = await createJob({ prompt: 'a job', seed: 77, n: 2 });
    const events = await readEvents(job.id);
    assert.deepEqual(
      events.map((event) => event.event),
      ['queued', 'started', 'completed'],
    );
    assert.equal(events.at(-1)!.data.job!.result!.cached, true);
    assert.equal(gpu.calls, 0);
  });
});

describe('b64_json jobs', () => {
  test('results carry base64 images (read back from R2), in GET and in the completed event', async () => {
    gpu.reset();
    const { job } = await createJob({ prompt: 'inline bytes', seed: 21, n: 2, response_format: 'b64_json' });
    const events = await readEvents(job.id);
    const completed = events.at(-1)!.data.job!;
    assert.equal(completed.status, 'succeeded');
    assert.deepEqual(
      completed.result!.data.map((image) => [image.url, Buffer.from(image.b64_json!, 'base64').equals(tinyPng(image.seed))]),
      [
        [undefined, true],
        [undefined, true],
      ],
    );
    const fetched = (await (await worker.fetch(`/v1/jobs/${job.id}`, { headers: bearer(key) })).json()) as Job;
    assert.deepEqual(fetched.result, completed.result);
  });
});

describe('the per-key queue', () => {
  async function until(condition: () => boolean): Promise<void> {
    for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.ok(condition(), 'condition reached');
  }

  test('4 parallel creates on a key with 2 slots → four 202s; the 2 beyond the limit are queued and run as slots free', async () => {
    gpu.reset();
    gpu.delayMs = 300;
    const free = await worker.createKey({ limits: { concurrent: 2, queue: 8, images: 100, window_seconds: 3600 } });
    const created = await Promise.all([0, 1, 2, 3].map((i) => createJob({ prompt: `parallel job ${i}`, seed: i }, {}, free)));
    assert.deepEqual(
      created.map(({ response }) => response.status),
      [202, 202, 202, 202],
    );
    for (const { job } of created) assert.equal(job.status, 'queued');
    await until(() => gpu.calls >= 2);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(gpu.calls, 2, 'only 2 run at once');
    const done = await Promise.all(created.map(({ job }) => waitFor(job.id, (j) => j.status === 'succeeded', free)));
    assert.equal(done.length, 4);
    assert.equal(gpu.calls, 4);
  });

  test('queued jobs start in the order they were accepted; past the queue depth → 429 naming the queue', async () => {
    gpu.reset();
    gpu.delayMs = 200;
    const tight = await worker.createKey({ limits: { concurrent: 1, queue: 2, images: 100, window_seconds: 3600 } });
    const jobs: Job[] = [];
    for (let i = 0; i < 3; i++) {
      const { response, job } = await createJob({ prompt: `in order ${i}`, seed: i }, {}, tight);
      assert.equal(response.status, 202);
      jobs.push(job);
    }
    const over = await worker.fetch('/v1/jobs', jsonPost(tight, { prompt: 'one too many', seed: 9 }));
    assert.equal(over.status, 429);
    assert.match(over.headers.get('RateLimit') ?? '', /^"queue";r=0;t=\d+$/);
    assert.match(over.headers.get('RateLimit-Policy') ?? '', /"queue";q=2/);
    assert.ok(Number(over.headers.get('Retry-After')) >= 1);
    const problem = (await over.json()) as { type: string; detail: string };
    assert.equal(problem.type, 'https://star-api.dev/problems/rate_limited');
    assert.match(problem.detail, /"queue" limit/);
    for (const job of jobs) await waitFor(job.id, (j) => j.status === 'succeeded', tight);
    assert.deepEqual(
      gpu.requests.map((request) => request.prompt),
      ['in order 0', 'in order 1', 'in order 2'],
    );
    const started = await Promise.all(
      jobs.map(async (job) => ((await (await worker.fetch(`/v1/jobs/${job.id}`, { headers: bearer(tight) })).json()) as Job).started_at!),
    );
    assert.deepEqual(
      [...started].sort((a, b) => a - b),
      started,
      'started_at follows acceptance order',
    );
  });

  test('cancelling a queued job frees its place and its image tokens at once', async () => {
    gpu.reset();
    gpu.delayMs = 1500;
    const tight = await worker.createKey({ limits: { concurrent: 1, queue: 1, images: 3, window_seconds: 3600 } });
    const running = await createJob({ prompt: 'holds the slot', seed: 1 }, {}, tight);
    const queued = await createJob({ prompt: 'waits', seed: 2 }, {}, tight);
    assert.equal(queued.response.status, 202);
    assert.equal(remaining(queued.response, 'images'), 1, 'a queued job holds its image token');
    assert.equal((await worker.fetch('/v1/jobs', jsonPost(tight, { prompt: 'no room', seed: 3 }))).status, 429);
    const cancelled = (await (await worker.fetch(`/v1/jobs/${queued.job.id}`, { method: 'DELETE', headers: bearer(tight) })).json()) as Job;
    assert.equal(cancelled.status, 'cancelled');
    const again = await createJob({ prompt: 'takes the place', seed: 4 }, {}, tight);
    assert.equal(again.response.status, 202, 'the place in the queue is free again');
    assert.equal(remaining(again.response, 'images'), 1, 'the cancelled job’s token came back');
    gpu.delayMs = 0;
    await waitFor(again.job.id, (j) => j.status === 'succeeded', tight);
    assert.equal((await waitFor(running.job.id, (j) => j.status === 'succeeded', tight)).status, 'succeeded');
    assert.ok(!gpu.requests.some((request) => request.prompt === 'waits'), 'the cancelled job never reached the GPU');
  });

  test('a job that waits longer than JOB_QUEUE_SECONDS fails with rate_limited and gives its tokens back', async () => {
    gpu.reset();
    gpu.delayMs = 4000;
    const tight = await worker.createKey({ limits: { concurrent: 1, queue: 1, images: 2, window_seconds: 3600 } });
    const running = await createJob({ prompt: 'slow slot holder', seed: 1 }, {}, tight);
    const queued = await createJob({ prompt: 'waits too long', seed: 2 }, {}, tight);
    const events = await readEvents(queued.job.id, undefined, undefined, tight);
    assert.deepEqual(
      events.map((event) => event.event),
      ['queued', 'failed'],
    );
    const failed = events.at(-1)!.data.job!;
    assert.equal(failed.error?.type, 'https://star-api.dev/problems/rate_limited');
    assert.match(failed.error?.detail ?? '', /waited \d+ s in this key's queue/);
    await worker.fetch(`/v1/jobs/${running.job.id}`, { method: 'DELETE', headers: bearer(tight) });
    const after = await worker.fetch('/v1/jobs', jsonPost(tight, { prompt: 'after the timeout', seed: 3, n: 2 }));
    assert.equal(after.status, 202, 'both image tokens are back');
    gpu.delayMs = 0;
    await waitFor(((await after.json()) as Job).id, (j) => j.status === 'succeeded', tight);
  });
});

describe('cancel and failure', () => {
  test('DELETE cancels a running job: stream ends with cancelled, the slot and tokens come back', async () => {
    gpu.reset();
    gpu.delayMs = 3000;
    const tight = await worker.createKey({ limits: { concurrent: 1, images: 2, window_seconds: 3600 } });
    const { job } = await createJob({ prompt: 'cancel me', seed: 1 }, {}, tight);
    const stream = readEvents(job.id, undefined, undefined, tight);
    await waitFor(job.id, (j) => j.status === 'running', tight);
    const cancelled = await worker.fetch(`/v1/jobs/${job.id}`, { method: 'DELETE', headers: bearer(tight) });
    assert.equal(cancelled.status, 200);
    const body = (await cancelled.json()) as Job;
    assert.equal(body.status, 'cancelled');
    const events = await stream;
    assert.equal(events.at(-1)!.event, 'cancelled');
    const again = (await (await worker.fetch(`/v1/jobs/${job.id}`, { method: 'DELETE', headers: bearer(tight) })).json()) as Job;
    assert.deepEqual(again, body, 'cancelling a finished job changes nothing');
    gpu.delayMs = 0;
    const next = await createJob({ prompt: 'after cancel', seed: 1 }, {}, tight);
    assert.equal(next.response.status, 202, 'the concurrency slot was released');
    assert.equal(remaining(next.response, 'images'), 1, 'and the cancelled job’s image token');
    await waitFor(next.job.id, (j) => j.status === 'succeeded', tight);
    const third = await createJob({ prompt: 'after success', seed: 1 }, {}, tight);
    assert.equal(third.response.status, 202, 'a finished job frees its slot');
    assert.equal(remaining(third.response, 'images'), 0, 'and keeps the image it generated charged');
  });

  test('a busy GPU (503) makes the job wait Retry-After and try again, not fail', async () => {
    gpu.reset();
    gpu.busyCalls = 1;
    gpu.retryAfterS = 1;
    const { job } = await createJob({ prompt: 'patient', seed: 1 });
    const events = await readEvents(job.id);
    assert.equal(events.at(-1)!.event, 'completed');
    assert.equal(events.filter((event) => event.event === 'started').length, 1);
    assert.equal(gpu.calls, 2, 'one busy answer, then the generation');
  });

  test('a GPU error mid-stream → failed job with a problem, no image stored', async () => {
    gpu.reset();
    gpu.mode = 'stream-error';
    const { job } = await createJob({ prompt: 'doomed', seed: 1 });
    const events = await readEvents(job.id);
    assert.equal(events.at(-1)!.event, 'failed');
    const failed = events.at(-1)!.data.job!;
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error?.type, 'https://star-api.dev/problems/generation_failed');
    assert.equal(failed.result, undefined);
    gpu.mode = 'ok';
  });
});

describe('idempotency', () => {
  test('the same key and body → the same job, marked Idempotent-Replayed', async () => {
    const body = { prompt: 'idempotent', seed: 5 };
    const first = await createJob(body, { 'Idempotency-Key': 'idem-1' });
    const second = await createJob(body, { 'Idempotency-Key': 'idem-1' });
    assert.equal(first.response.status, 202);
    assert.equal(second.response.status, 202);
    assert.equal(second.job.id, first.job.id);
    assert.equal(second.response.headers.get('Idempotent-Replayed'), 'true');
    assert.equal(first.response.headers.get('Idempotent-Replayed'), null);
  });

  test('the same key with a different body → 422 idempotency_key_reused', async () => {
    await createJob({ prompt: 'one body', seed: 5 }, { 'Idempotency-Key': 'idem-2' });
    const { response, job } = await createJob({ prompt: 'another body', seed: 5 }, { 'Idempotency-Key': 'idem-2' });
    assert.equal(response.status, 422);
    assert.equal((job as unknown as { type: string }).type, 'https://star-api.dev/problems/idempotency_key_reused');
  });

  test('keys are per API key: another key may reuse the same Idempotency-Key', async () => {
    const other = await worker.createKey();
    const mine = await createJob({ prompt: 'shared idem', seed: 5 }, { 'Idempotency-Key': 'idem-3' });
    const theirs = await createJob({ prompt: 'shared idem', seed: 5 }, { 'Idempotency-Key': 'idem-3' }, other);
    assert.equal(theirs.response.status, 202);
    assert.notEqual(theirs.job.id, mine.job.id);
  });

  test('parallel duplicates create exactly one job; the rest replay it or get 409', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, () => createJob({ prompt: 'parallel idem', seed: 5 }, { 'Idempotency-Key': 'idem-4' })),
    );
    const accepted = results.filter((result) => result.response.status === 202);
    const conflicts = results.filter((result) => result.response.status === 409);
    assert.equal(accepted.length + conflicts.length, 8);
    assert.equal(new Set(accepted.map((result) => result.job.id)).size, 1);
    for (const result of conflicts)
      assert.equal((result.job as unknown as { type: string }).type, 'https://star-api.dev/problems/conflict');
  });

  test('a duplicate while the first request is still in flight → 409 conflict', async () => {
    // Hold "the first request" in flight deterministically: claim the key in the real store with
    // the fingerprint that body has, as the route does before it creates the job.
    const body = { prompt: 'in flight', seed: 5 };
    const ns = await worker.mf.getDurableObjectNamespace('IDEMPOTENCY');
    const stub = ns.get(ns.idFromName(await keyId(key))) as unknown as {
      begin(key: string, fingerprint: string): Promise<{ state: string }>;
    };
    const claim = await stub.begin('idem-5', await requestFingerprint(JobCreateRequest.parse(body)));
    assert.equal(claim.state, 'new');
    const { response, job } = await createJob(body, { 'Idempotency-Key': 'idem-5' });
    assert.equal(response.status, 409);
    assert.equal((job as unknown as { type: string }).type, 'https://star-api.dev/problems/conflict');
    const spelledOut = await createJob({ seed: 5, n: 1, cfg: 4.5, prompt: '  in flight ' }, { 'Idempotency-Key': 'idem-5' });
    assert.equal(spelledOut.response.status, 409, 'defaults, key order and whitespace do not change the fingerprint');
  });

  test('an Idempotency-Key over 255 characters → 400', async () => {
    const { response } = await createJob({ prompt: 'long idem' }, { 'Idempotency-Key': 'k'.repeat(256) });
    assert.equal(response.status, 400);
  });
});

describe('webhooks', () => {
  let receiver: Server;
  const deliveries: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];
  let failuresLeft = 1;

  before(async () => {
    receiver = createServer(async (req, res) => {
      const parts: Buffer[] = [];
      for await (const part of req) parts.push(part as Buffer);
      deliveries.push({ headers: req.headers, body: Buffer.concat(parts).toString('utf8') });
      if (failuresLeft-- > 0) res.writeHead(500).end('try again');
      else res.writeHead(204).end();
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  });
  after(() => new Promise<void>((resolve) => receiver.close(() => resolve())));

  test('the terminal job is POSTed, signed with the key-derived secret, and retried after a 5xx', async () => {
    gpu.reset();
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const { job } = await createJob({ prompt: 'hooked', seed: 3, webhook_url: url });
    for (let i = 0; i < 100 && deliveries.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(deliveries.length, 2, 'one failure, then one success');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(deliveries.length, 2, 'no delivery after the success');
    const whsec = `whsec_${createHmac('sha256', key).update('star-api webhook v1').digest('hex')}`;
    for (const delivery of deliveries) {
      const signature = String(delivery.headers['star-signature']);
      const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(signature);
      assert.ok(match, signature);
      assert.equal(match[2], createHmac('sha256', whsec).update(`${match[1]}.${delivery.body}`).digest('hex'));
      const delivered = JSON.parse(delivery.body) as Job;
      assert.equal(delivered.id, job.id);
      assert.equal(delivered.status, 'succeeded');
    }
  });
});
