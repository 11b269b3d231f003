// A stand-in engine implementing the real Pipeline interface, for server tests
// that need controllable timing (queue overflow, deadlines, shutdown drain,
// cancellation mid-batch). Loaded by the engine worker via ENGINE_MODULE.
//
// TEST_ENGINE_SCALE_MS: time per scale. The wait blocks the worker thread
// (Atomics.wait), as onnxruntime's run() does, so a responsive main thread
// proves the engine really runs off the event loop.
import type { Device } from '../../src/engine/onnx/target.ts';
import type { BatchItem, GenerateOptions, GenerateRequest, GenerateResult, ModelInfo, Pipeline, RgbImage } from '../../src/engine/types.ts';

const SIDE = 16;
export const CRASH_PROMPT = 'crash the engine';
const PATCH_NUMS = [1, 2, 4, 8];

function blockFor(ms: number): void {
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Deterministic pixels from the seed alone (mirrors the real engine's promise). */
export function testImage(seed: number, side = SIDE): RgbImage {
  const data = new Uint8Array(side * side * 3);
  let state = (seed ^ 0x9e3779b9) >>> 0;
  for (let i = 0; i < data.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    data[i] = state >>> 24;
  }
  return { width: side, height: side, data };
}

class TestPipeline implements Pipeline {
  readonly info: ModelInfo;
  private readonly scaleMs: number;
  constructor(name: string, scaleMs: number) {
    this.info = { name, resolution: SIDE, patchNums: PATCH_NUMS };
    this.scaleMs = scaleMs;
  }

  generateBatch(items: BatchItem[]): Promise<GenerateResult>[] {
    // Fault injection: this prompt kills the engine's thread mid-batch, as a CUDA fault or OOM would.
    if (items.some((item) => item.request.prompt === CRASH_PROMPT)) setTimeout(() => process.exit(70), this.scaleMs);
    const batchSize = items.reduce((sum, item) => sum + item.request.seeds.length, 0);
    const settles = items.map(() => Promise.withResolvers<GenerateResult>());
    void (async () => {
      const live = new Set(items.keys());
      const started = performance.now();
      for (let s = 0; s < PATCH_NUMS.length && live.size > 0; s++) {
        blockFor(this.scaleMs);
        // Yield so cancel messages queued during the blocking wait are delivered.
        await new Promise((resolve) => setImmediate(resolve));
        for (const i of [...live]) {
          const options: GenerateOptions = items[i].options ?? {};
          if (options.signal?.aborted) {
            live.delete(i);
            settles[i].reject(options.signal.reason);
            continue;
          }
          const side = PATCH_NUMS[s];
          const previews = options.preview ? items[i].request.seeds.map((seed) => testImage(seed, side)) : undefined;
          options.onProgress?.({ scale: s + 1, scales: PATCH_NUMS.length, side, ...(previews ? { previews } : {}) });
        }
      }
      const totalMs = performance.now() - started;
      for (const i of live) {
        settles[i].resolve({
          images: items[i].request.seeds.map((seed) => testImage(seed)),
          batchSize,
          timings: { textMs: 0, generateMs: totalMs, decodeMs: 0, totalMs },
        });
      }
    })();
    return settles.map((s) => s.promise);
  }

  generate(request: GenerateRequest, options?: GenerateOptions): Promise<GenerateResult> {
    return this.generateBatch([{ request, options }])[0];
  }

  async dispose(): Promise<void> {}
}

export async function loadPipeline(modelNameOrDir: string, _options: { device: Device; modelDir?: string }): Promise<Pipeline> {
  if (!/^(star-tiny|test-[a-z0-9-]+)$/.test(modelNameOrDir)) throw new Error(`test engine: unknown model ${modelNameOrDir}`);
  return new TestPipeline(modelNameOrDir, Number(process.env.TEST_ENGINE_SCALE_MS ?? 5));
}
