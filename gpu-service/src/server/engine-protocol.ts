// Messages between the main thread (engine-client.ts) and the engine worker
// (engine-worker.ts). Plain data only: everything here crosses postMessage.
import type { Device, Precision } from '../engine/onnx/target.ts';
import type { GenerateRequest, GenerateResult, ModelInfo, ProgressEvent } from '../engine/types.ts';

export interface EngineWorkerData {
  engineModule: string;
  models: string[];
  device: Device;
  precision: Precision | undefined;
  modelDir: string | undefined;
  /** Batch sizes up to this are warmed at start (batch-sizes.ts). */
  maxBatch: number;
}

export interface RunItem {
  /** Unique per item for the worker's lifetime; cancel, progress and settle refer to it. */
  id: number;
  request: GenerateRequest;
  preview: boolean;
}

export type ToWorker =
  | { type: 'run'; batchId: number; model: string; items: RunItem[] }
  | { type: 'cancel'; id: number; reason: string }
  | { type: 'dispose' };

export type FromWorker =
  | { type: 'ready'; models: ModelInfo[] }
  | { type: 'load_failed'; message: string }
  | { type: 'progress'; id: number; event: ProgressEvent }
  | { type: 'result'; id: number; result: GenerateResult }
  | { type: 'error'; id: number; message: string; cancelled: boolean }
  /** Every item of the batch has settled: the engine is free for the next one. */
  | { type: 'batch_done'; batchId: number }
  | { type: 'disposed' };
