// The main thread's handle on the engine worker: starts it, runs batches,
// forwards cancellation and routes progress and results back to their callers.
import { Worker } from 'node:worker_threads';
import type { GenerateRequest, GenerateResult, ModelInfo, ProgressEvent } from '../engine/types.ts';
import type { EngineWorkerData, FromWorker, ToWorker } from './engine-protocol.ts';

export interface EngineItem {
  request: GenerateRequest;
  preview: boolean;
  signal: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
}

export interface EngineRun {
  /** One per item, in order; each settles on its own. */
  results: Promise<GenerateResult>[];
  /** Settles when the engine is free again (every item of the run has settled in the worker). */
  done: Promise<void>;
}

/** Rejection for an item the engine stopped because its signal aborted. */
export class EngineCancelled extends Error {
  override name = 'EngineCancelled';
}

/** What the batcher needs from the engine; the worker-backed client below is the one implementation. */
export interface Engine {
  readonly models: ReadonlyMap<string, ModelInfo>;
  run(model: string, items: EngineItem[]): EngineRun;
}

interface Pending {
  resolve(result: GenerateResult): void;
  reject(error: Error): void;
  onProgress?: (event: ProgressEvent) => void;
}

const WORKER_URL = new URL('./engine-worker.ts', import.meta.url);

export class EngineClient implements Engine {
  readonly models = new Map<string, ModelInfo>();
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private readonly batches = new Map<number, () => void>();
  private nextId = 1;
  private lastHeapBytes: number | undefined;
  private failure: Error | undefined;
  private closing = false;
  private readonly ready: Promise<void>;
  /** Called once if the worker dies after start (crash, out of memory). */
  onFailure: ((error: Error) => void) | undefined;

  constructor(data: EngineWorkerData) {
    this.worker = new Worker(WORKER_URL, { workerData: data });
    this.ready = new Promise((resolve, reject) => {
      this.worker.on('message', (message: FromWorker) => {
        if (message.type === 'ready') {
          for (const info of message.models) this.models.set(info.name, info);
          resolve();
        } else if (message.type === 'load_failed') {
          reject(new Error(`engine failed to load: ${message.message}`));
        } else {
          this.onMessage(message);
        }
      });
      // A worker that dies (crash, OOM) fails everything it held; nothing is left hanging.
      const die = (error: Error) => {
        if (this.failure) return;
        this.failure = error;
        this.onFailure?.(error);
        reject(error);
        for (const pending of this.pending.values()) pending.reject(error);
        this.pending.clear();
        for (const done of this.batches.values()) done();
        this.batches.clear();
      };
      this.worker.on('error', die);
      this.worker.on('exit', (code) => this.closing || die(new Error(`engine worker exited with code ${code}`)));
    });
    this.ready.catch(() => {});
  }

  /** Resolves once every configured model is loaded and warm. */
  whenReady(): Promise<void> {
    return this.ready;
  }

  get failed(): Error | undefined {
    return this.failure;
  }

  run(model: string, items: EngineItem[]): EngineRun {
    const batchId = this.nextId++;
    const done = new Promise<void>((resolve) => this.batches.set(batchId, resolve));
    const ids = items.map(() => this.nextId++);
    const results = items.map(
      (item, i) =>
        new Promise<GenerateResult>((resolve, reject) => {
          if (this.failure) return reject(this.failure);
          const cancel = () => this.post({ type: 'cancel', id: ids[i], reason: String(item.signal.reason ?? 'cancelled') });
          const settle = () => item.signal.removeEventListener('abort', cancel);
          this.pending.set(ids[i], {
            resolve: (result) => {
              settle();
              resolve(result);
            },
            reject: (error) => {
              settle();
              reject(error);
            },
            onProgress: item.onProgress,
          });
          if (item.signal.aborted) cancel();
          else item.signal.addEventListener('abort', cancel, { once: true });
        }),
    );
    if (this.failure) this.batches.get(batchId)?.();
    else
      this.post({
        type: 'run',
        batchId,
        model,
        items: items.map((item, i) => ({ id: ids[i], request: item.request, preview: item.preview })),
      });
    return { results, done };
  }

  /** Samples the worker's V8 heap (for /metrics); the last sample stays readable synchronously. */
  async sampleHeap(): Promise<number | undefined> {
    if (this.failure) return this.lastHeapBytes;
    try {
      this.lastHeapBytes = (await this.worker.getHeapStatistics()).used_heap_size;
    } catch {
      // The worker is exiting; keep the last sample.
    }
    return this.lastHeapBytes;
  }

  get heapBytes(): number | undefined {
    return this.lastHeapBytes;
  }

  async close(): Promise<void> {
    if (!this.failure) {
      const disposed = new Promise<void>((resolve) => {
        const onMessage = (message: FromWorker) => message.type === 'disposed' && resolve();
        this.worker.on('message', onMessage);
        this.worker.once('exit', () => resolve());
      });
      this.post({ type: 'dispose' });
      await Promise.race([disposed, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
    }
    this.closing = true;
    await this.worker.terminate();
  }

  private post(message: ToWorker): void {
    this.worker.postMessage(message);
  }

  private onMessage(message: FromWorker): void {
    if (message.type === 'batch_done') {
      this.batches.get(message.batchId)?.();
      this.batches.delete(message.batchId);
      return;
    }
    if (message.type !== 'progress' && message.type !== 'result' && message.type !== 'error') return;
    const pending = this.pending.get(message.id);
    if (!pending) return;
    if (message.type === 'progress') {
      pending.onProgress?.(message.event);
      return;
    }
    this.pending.delete(message.id);
    if (message.type === 'result') pending.resolve(message.result);
    else pending.reject(message.cancelled ? new EngineCancelled(message.message) : new Error(message.message));
  }
}
