// The service's own metrics, registered once per server instance.
import { CollectedGauge, Counter, Histogram, Registry } from './metrics-registry.ts';
import type { GpuMemory } from './gpu-memory.ts';
import type { ProblemName } from './problem.ts';

export const STAGES = ['queue', 'text', 'generate', 'decode', 'encode', 'total'] as const;
export type Stage = (typeof STAGES)[number];

const LATENCY_BUCKETS_S = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64];

export interface MemoryProbe {
  /** Bytes of the engine worker's V8 heap, or undefined while unknown. */
  engineHeapBytes(): number | undefined;
  /** Last GPU memory sample (empty on CPU). */
  gpuMemory(): GpuMemory[];
  queueDepth(): number;
  inFlight(): number;
}

export function createServiceMetrics(probe: MemoryProbe) {
  const registry = new Registry();
  const requests = registry.register(new Counter('star_requests_total', 'Generate requests answered, by HTTP status.'));
  const errors = registry.register(new Counter('star_errors_total', 'Generate requests that failed, by problem type.'));
  const images = registry.register(new Counter('star_images_total', 'Images generated.'));
  const engineCancelled = registry.register(
    new Counter('star_engine_cancelled_total', 'Images the engine stopped between scales because their request was cancelled.'),
  );
  const batchSize = registry.register(new Histogram('star_batch_size', 'Images per engine run.', BATCH_SIZE_BUCKETS));
  const stageSeconds = registry.register(
    new Histogram('star_stage_seconds', 'Latency per stage of a generate request.', LATENCY_BUCKETS_S),
  );
  registry.register(
    new CollectedGauge('star_queue_depth', 'Requests waiting for the engine.', () => [{ labels: {}, value: probe.queueDepth() }]),
  );
  registry.register(
    new CollectedGauge('star_in_flight', 'Requests in the running engine batch.', () => [{ labels: {}, value: probe.inFlight() }]),
  );
  registry.register(
    new CollectedGauge('star_process_memory_bytes', 'Memory of the whole process (main thread and engine worker).', () => {
      const m = process.memoryUsage();
      return [
        { labels: { kind: 'rss' }, value: m.rss },
        { labels: { kind: 'heap_used' }, value: m.heapUsed },
        { labels: { kind: 'external' }, value: m.external },
        { labels: { kind: 'array_buffers' }, value: m.arrayBuffers },
      ];
    }),
  );
  registry.register(
    new CollectedGauge('star_engine_worker_heap_bytes', 'V8 heap used by the engine worker thread (last sample).', () => {
      const bytes = probe.engineHeapBytes();
      return bytes === undefined ? [] : [{ labels: {}, value: bytes }];
    }),
  );

  registry.register(
    new CollectedGauge('star_gpu_memory_bytes', 'GPU memory (nvidia-smi, sampled at scrape; CUDA only).', () =>
      probe.gpuMemory().flatMap(({ gpu, usedBytes, totalBytes }) => [
        { labels: { gpu, kind: 'used' }, value: usedBytes },
        { labels: { gpu, kind: 'total' }, value: totalBytes },
      ]),
    ),
  );

  return {
    registry,
    requests,
    images,
    engineCancelled,
    batchSize,
    observeStage(stage: Stage, ms: number, model: string): void {
      stageSeconds.observe(ms / 1000, { stage, model });
    },
    countError(type: ProblemName | 'client_closed'): void {
      errors.inc({ type });
    },
  };
}
export type ServiceMetrics = ReturnType<typeof createServiceMetrics>;
