import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GenerateResult, ModelInfo } from '../engine/types.ts';
import { Batcher } from './batcher.ts';
import type { JobSpec } from './batcher.ts';
import type { Engine, EngineItem, EngineRun } from './engine-client.ts';
import { ProblemError } from './problem.ts';

/** An in-memory engine that records its runs and finishes each when told to. */
class RecordingEngine implements Engine {
  readonly models = new Map<string, ModelInfo>([
    ['a', { name: 'a', resolution: 4, patchNums: [1, 2] }],
    ['b', { name: 'b', resolution: 4, patchNums: [1, 2] }],
  ]);
  readonly runs: { model: string; seeds: number[]; finish(): void }[] = [];
  run(model: string, items: EngineItem[]): EngineRun {
    const done = Promise.withResolvers<void>();
    const results = items.map(() => Promise.withResolvers<GenerateResult>());
    const seeds = items.flatMap((item) => item.request.seeds);
    this.runs.push({
      model,
      seeds,
      finish: () => {
        for (const [i, r] of results.entries()) {
          r.resolve({
            images: items[i].request.seeds.map(() => ({ width: 4, height: 4, data: new Uint8Array(48) })),
            batchSize: seeds.length,
            timings: { textMs: 0, generateMs: 1, decodeMs: 0, totalMs: 1 },
          });
        }
        done.resolve();
      },
    });
    return { results: results.map((r) => r.promise), done: done.promise };
  }
}

const job = (model: string, ...seeds: number[]): JobSpec => ({
  model,
  request: { prompt: 'p', seeds, cfg: 1, top_k: 1, top_p: 1, more_smooth: false },
  preview: false,
  signal: new AbortController().signal,
  deadlineMs: 10_000,
});
const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Batcher', () => {
  it('puts same-model requests arriving within the window into one run, other models into their own', async () => {
    const engine = new RecordingEngine();
    const batcher = new Batcher(engine, { maxBatch: 8, queueLimit: 10, batchWindowMs: 20 });
    const results = [batcher.submit(job('a', 1)), batcher.submit(job('b', 2)), batcher.submit(job('a', 3, 4, 5))].map((s) => s.result);
    await tick(40);
    assert.deepEqual(
      engine.runs.map((r) => [r.model, r.seeds]),
      [['a', [1, 3, 4, 5]]],
    );
    engine.runs[0].finish();
    await tick(30);
    assert.deepEqual(
      engine.runs.map((r) => [r.model, r.seeds]),
      [
        ['a', [1, 3, 4, 5]],
        ['b', [2]],
      ],
    );
    engine.runs[1].finish();
    const settled = await Promise.all(results);
    assert.deepEqual(
      settled.map((r) => r.batchSize),
      [4, 1, 4],
    );
  });

  it('forms batches of preferred sizes (powers of two) when the tail can wait for the next run', async () => {
    const engine = new RecordingEngine();
    const batcher = new Batcher(engine, { maxBatch: 8, queueLimit: 10, batchWindowMs: 10 });
    const results = [batcher.submit(job('a', 1)), batcher.submit(job('a', 2, 3))].map((s) => s.result);
    await tick(30);
    assert.deepEqual(
      engine.runs.map((r) => r.seeds),
      [[1]],
      '3 images are not a preferred size',
    );
    engine.runs[0].finish();
    await tick();
    assert.deepEqual(
      engine.runs.map((r) => r.seeds),
      [[1], [2, 3]],
      'the rest runs next, a single job of any size',
    );
    engine.runs[1].finish();
    await Promise.all(results);
  });

  it('starts at once when MAX_BATCH images are waiting, and leaves a job that does not fit for the next run', async () => {
    const engine = new RecordingEngine();
    const batcher = new Batcher(engine, { maxBatch: 3, queueLimit: 10, batchWindowMs: 10_000 });
    const results = [batcher.submit(job('a', 1, 2)), batcher.submit(job('a', 3, 4))].map((s) => s.result);
    await tick();
    assert.deepEqual(
      engine.runs.map((r) => r.seeds),
      [[1, 2]],
    );
    assert.equal(batcher.queueDepth, 1);
    engine.runs[0].finish();
    await tick();
    assert.deepEqual(
      engine.runs.map((r) => r.seeds),
      [
        [1, 2],
        [3, 4],
      ],
      'the waiting job is next, without waiting for the window',
    );
    engine.runs[1].finish();
    await Promise.all(results);
  });

  it('refuses work beyond QUEUE_LIMIT with gpu_unavailable and a Retry-After', async () => {
    const batcher = new Batcher(new RecordingEngine(), { maxBatch: 8, queueLimit: 1, batchWindowMs: 1000 });
    const waiting = batcher.submit({ ...job('a', 1), deadlineMs: 1 });
    waiting.result.catch(() => {});
    assert.throws(
      () => batcher.submit(job('a', 2)),
      (error: unknown) => error instanceof ProblemError && error.problem === 'gpu_unavailable' && (error.retryAfterS ?? 0) >= 1,
    );
    await assert.rejects(waiting.result, (error: unknown) => error instanceof ProblemError && error.problem === 'gpu_timeout');
  });

  it('drains: refuses new work, resolves once accepted work has finished', async () => {
    const engine = new RecordingEngine();
    const batcher = new Batcher(engine, { maxBatch: 8, queueLimit: 10, batchWindowMs: 0 });
    const accepted = batcher.submit(job('a', 1)).result;
    let drained = false;
    const drain = batcher.drain().then(() => (drained = true));
    assert.throws(() => batcher.submit(job('a', 2)), /shutting down/);
    await tick(5);
    assert.equal(drained, false);
    engine.runs[0].finish();
    await drain;
    assert.equal((await accepted).images.length, 1);
  });
});
