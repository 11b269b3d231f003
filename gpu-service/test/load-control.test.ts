// Queue limits, deadlines, cancellation and responsiveness under a busy engine.
// These need controllable timing, so they use the test engine: every scale
// blocks the worker thread for TEST_ENGINE_SCALE_MS, as onnxruntime's run() does.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readFrames } from '@star-api/contract';
import type { RunningService } from '../src/server/server.ts';
import { GENERATE_PATH, generateBody, readAnswer, signedGet, signedPost, startTestService, TEST_ENGINE_ENV } from './support/service.ts';

const SCALE_MS = 80; // four scales ⇒ one engine run takes ~320 ms

let service: RunningService;
before(async () => {
  process.env.TEST_ENGINE_SCALE_MS = String(SCALE_MS);
  service = await startTestService({
    ...TEST_ENGINE_ENV,
    MAX_BATCH: '2',
    QUEUE_LIMIT: '2',
    BATCH_WINDOW_MS: '40',
    KEEP_ALIVE_MS: '100',
  });
  delete process.env.TEST_ENGINE_SCALE_MS;
});
after(() => service.shutdown());

const post = (body: Record<string, unknown>, init: Parameters<typeof signedPost>[3] = {}) =>
  signedPost(service.url, GENERATE_PATH, generateBody(body), init);

/** Resolves once the queue holds `depth` requests (observed through the service's own gauge). */
async function untilQueueDepth(depth: number): Promise<void> {
  while (!service.metrics.registry.render().includes(`star_queue_depth ${depth}\n`)) await new Promise((r) => setTimeout(r, 5));
}

/** Resolves once a batch is running in the engine. */
async function untilInFlight(): Promise<void> {
  while (!/^star_in_flight [1-9]/m.test(service.metrics.registry.render())) await new Promise((r) => setTimeout(r, 5));
}

/** Resolves once the engine has stopped `count` images in all (fails by test timeout otherwise). */
async function untilEngineCancelled(count: number): Promise<void> {
  while (service.metrics.engineCancelled.get() < count) await new Promise((r) => setTimeout(r, 5));
  assert.equal(service.metrics.engineCancelled.get(), count);
}

/** Keep-alive lines in a raw answer: empty lines where a frame header would start. */
function keepAlives(bytes: Buffer): number {
  let count = 0;
  let at = 0;
  while (at < bytes.length) {
    const end = bytes.indexOf(0x0a, at);
    if (end === at) {
      count++;
      at += 1;
    } else {
      const header = JSON.parse(bytes.subarray(at, end).toString()) as { bytes?: number };
      at = end + 1 + (header.bytes ?? 0);
    }
  }
  return count;
}

describe('load control', { timeout: 20_000 }, () => {
  it('answers 503 gpu_unavailable with Retry-After when the queue is full, and still serves what it accepted', async () => {
    const running = post({ seeds: [1, 2] }); // fills one engine run on its own
    await new Promise((r) => setTimeout(r, 20));
    const queued = [post({ seeds: [3] }), post({ seeds: [4] })];
    await untilQueueDepth(2);
    const rejected = await post({ seeds: [5] });
    assert.equal(rejected.status, 503);
    assert.equal(((await rejected.json()) as { type: string }).type, 'https://star-api.dev/problems/gpu_unavailable');
    assert.match(rejected.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
    for (const answer of await Promise.all([running, ...queued].map(async (response) => readAnswer(await response))))
      assert.ok(answer.result, 'the accepted request finished');
  });

  it('answers 504 gpu_timeout once X-Request-Deadline-Ms has passed, without waiting for the engine', async () => {
    const cancelledBefore = service.metrics.engineCancelled.get();
    const started = performance.now();
    const answer = await readAnswer(await post({ seeds: [6] }, { headers: { 'x-request-deadline-ms': '150' } }));
    const elapsed = performance.now() - started;
    assert.equal(answer.error?.status, 504);
    assert.equal(answer.error?.type, 'https://star-api.dev/problems/gpu_timeout');
    assert.ok(elapsed < 4 * SCALE_MS, `answered after ${elapsed.toFixed(0)} ms`);
    // ...and the engine drops the work at its next scale boundary.
    await untilEngineCancelled(cancelledBefore + 1);
  });

  it('cancels a request whose client disconnects, leaving the rest of its batch alone', async () => {
    const cancelledBefore = service.metrics.engineCancelled.get();
    const leaving = new AbortController();
    const leavingAnswer = await post({ seeds: [7] }, { signal: leaving.signal });
    const staying = post({ seeds: [8] });
    // Read the answer until its batch has started, then hang up.
    const frames = readFrames(leavingAnswer.body!);
    let started = await frames.next();
    while (started.value?.event !== 'started') started = await frames.next();
    assert.deepEqual(started.value.data, { scales: 4, batch_size: 2 }, 'both requests share one engine run');
    leaving.abort();

    const kept = await readAnswer(await staying);
    assert.equal(kept.result?.batch_size, 2);
    assert.deepEqual(
      kept.images.map((i) => i.seed),
      [8],
    );
    // The engine stopped the leaving request between scales (its worker-side promise rejected).
    await untilEngineCancelled(cancelledBefore + 1);
  });

  it('cancels a request whose client disconnects before reading anything', async () => {
    const cancelledBefore = service.metrics.engineCancelled.get();
    const leaving = new AbortController();
    const request = post({ seeds: [11] }, { signal: leaving.signal });
    await untilInFlight();
    leaving.abort();
    await request.then((response) => response.arrayBuffer()).catch(() => {});
    await untilEngineCancelled(cancelledBefore + 1);
  });

  it('writes keep-alive lines while an answer would otherwise be quiet, which readers skip', async () => {
    const response = await post({ seeds: [12] });
    const bytes = Buffer.from(await response.clone().arrayBuffer());
    assert.ok(keepAlives(bytes) > 0, 'a keep-alive line between frames');
    assert.deepEqual(
      (await readAnswer(response)).frames.map((e) => e.event).filter((e) => e !== 'progress'),
      ['queued', 'started', 'image', 'result'],
    );
  });

  it('keeps /healthz and /metrics answering within milliseconds while the engine is busy', async () => {
    const busy = readFrames((await post({ seeds: [9, 10] })).body!);
    let frame = await busy.next();
    while (frame.value?.event !== 'progress') frame = await busy.next();
    // The worker is now blocked inside a scale; the main thread must not be.
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      const response = i % 2 === 0 ? await fetch(`${service.url}/healthz`) : await signedGet(service.url, '/metrics');
      assert.equal(response.status, 200);
      await response.text();
      times.push(performance.now() - started);
    }
    // Median, not max: one sample may stall on a busy CI machine; an engine on the
    // event loop would stall most of them for up to a whole scale.
    const median = [...times].sort((a, b) => a - b)[2];
    assert.ok(median < SCALE_MS / 2, `healthz/metrics took ${times.map((t) => t.toFixed(1)).join(', ')} ms`);
    while (!frame.done) frame = await busy.next();
  });
});
