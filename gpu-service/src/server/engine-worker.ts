// Hosts the engine's Pipelines in a worker thread: onnxruntime-node's run()
// holds the thread it is called on, so HTTP, health checks and cancellation
// stay on the main thread and remain responsive while a batch generates.
import { parentPort, workerData } from 'node:worker_threads';
import type { Device, Precision } from '../engine/onnx/target.ts';
import type { GenerateResult, Pipeline } from '../engine/types.ts';
import { preferredBatchSizes } from './batch-sizes.ts';
import { readGpuMemory } from './gpu-memory.ts';
import type { EngineWorkerData, FromWorker, RunItem, ToWorker } from './engine-protocol.ts';

interface EngineModule {
  loadPipeline(
    modelNameOrDir: string,
    // maxBatchSessions: how many batch sizes' sessions to keep (the real engine's LRU); others ignore it.
    // gpuFreeBytes and maxBatch: the real engine's GPU memory plan (engine/memory-plan.ts).
    options: {
      device: Device;
      precision?: Precision;
      modelDir?: string;
      maxBatchSessions?: number;
      gpuFreeBytes?: number;
      maxBatch?: number;
    },
  ): Promise<Pipeline>;
}

if (!parentPort) throw new Error('engine-worker.ts runs as a worker thread (engine-client.ts starts it)');
const port = parentPort;
const data = workerData as EngineWorkerData;
const pipelines = new Map<string, Pipeline>();
const cancellers = new Map<number, AbortController>();

function send(message: FromWorker): void {
  port.postMessage(message);
}

async function load(): Promise<void> {
  const engine = (await import(data.engineModule)) as EngineModule;
  const sizes = preferredBatchSizes(data.maxBatch);
  for (const model of data.models) {
    // On CUDA the plan reads free memory before each model loads, so later models see what earlier ones took.
    const gpuFreeBytes = data.device === 'cuda' ? (await readGpuMemory())[0]?.freeBytes : undefined;
    const pipeline = await engine.loadPipeline(model, {
      device: data.device,
      ...(data.precision ? { precision: data.precision } : {}),
      maxBatchSessions: sizes.length,
      maxBatch: data.maxBatch,
      ...(gpuFreeBytes !== undefined ? { gpuFreeBytes } : {}),
      ...(data.modelDir ? { modelDir: data.modelDir } : {}),
    });
    // Warm up every batch size the batcher prefers, with previews, so that every shape
    // the decoder sees (full images and each preview size) has its sessions, first-run
    // allocations and, on CUDA, cuDNN's algorithm search done: /readyz means "fast now".
    for (const size of sizes) {
      const warmUp = {
        prompt: 'warm up',
        seeds: Array.from({ length: size }, (_, seed) => seed),
        cfg: 1,
        top_k: 1,
        top_p: 1,
        more_smooth: false,
      };
      await pipeline.generate(warmUp, { preview: true, onProgress: () => {} });
    }
    pipelines.set(model, pipeline);
  }
  send({ type: 'ready', models: [...pipelines.values()].map((p) => p.info) });
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function run(batchId: number, model: string, items: RunItem[]): Promise<void> {
  const controllers = items.map((item) => {
    const controller = new AbortController();
    cancellers.set(item.id, controller);
    return controller;
  });
  let results: Promise<GenerateResult>[];
  try {
    const pipeline = pipelines.get(model);
    if (!pipeline) throw new Error(`model ${model} is not loaded`);
    results = pipeline.generateBatch(
      items.map((item, i) => ({
        request: item.request,
        options: {
          preview: item.preview,
          signal: controllers[i].signal,
          onProgress: (event) => send({ type: 'progress', id: item.id, event }),
        },
      })),
    );
  } catch (error) {
    results = items.map(() => Promise.reject(error));
  }
  await Promise.allSettled(
    results.map(async (promise, i) => {
      const id = items[i].id;
      try {
        send({ type: 'result', id, result: await promise });
      } catch (error) {
        send({ type: 'error', id, message: errorMessage(error), cancelled: controllers[i].signal.aborted });
      } finally {
        cancellers.delete(id);
      }
    }),
  );
  send({ type: 'batch_done', batchId });
}

port.on('message', (message: ToWorker) => {
  if (message.type === 'run') void run(message.batchId, message.model, message.items);
  else if (message.type === 'cancel') cancellers.get(message.id)?.abort(new Error(message.reason));
  else if (message.type === 'dispose') {
    void Promise.allSettled([...pipelines.values()].map((p) => p.dispose())).then(() => send({ type: 'disposed' }));
  }
});

load().catch((error: unknown) => send({ type: 'load_failed', message: errorMessage(error) }));
