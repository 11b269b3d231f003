// Bounded queue + micro-batcher in front of the engine. Requests for the same
// model that arrive within BATCH_WINDOW_MS of the oldest waiting one share one
// engine run of up to MAX_BATCH images; a batch starts early once full, and
// work that queued behind a running batch starts as soon as that run ends.
// One run at a time: the engine owns the device, and a second concurrent run
// would only contend for it.
import type { GenerateRequest, ProgressEvent, RgbImage, StageTimings } from '../engine/types.ts';
import { EngineCancelled } from './engine-client.ts';
import type { Engine } from './engine-client.ts';
import { preferredBatchSizes } from './batch-sizes.ts';
import { ProblemError } from './problem.ts';

export interface BatcherOptions {
  maxBatch: number;
  queueLimit: number;
  batchWindowMs: number;
}

export interface JobSpec {
  model: string;
  /** Image i is generated from its own seed alone, so the batcher may pack it with other jobs' images. */
  request: GenerateRequest;
  preview: boolean;
  /** Aborted by the caller when its client goes away. */
  signal: AbortSignal;
  deadlineMs: number;
  onStarted?: (info: { batchSize: number; scales: number }) => void;
  onProgress?: (progress: ProgressEvent) => void;
}

export interface JobResult {
  images: RgbImage[];
  timings: StageTimings;
  queueMs: number;
  batchSize: number;
}

interface Job {
  spec: JobSpec;
  enqueuedAt: number;
  /** Aborts the job's engine items: client gone or deadline passed. */
  controller: AbortController;
  resolve(result: JobResult): void;
  reject(error: unknown): void;
}

export interface BatchRecord {
  model: string;
  images: number;
  requests: number;
}

export class Batcher {
  private readonly queue: Job[] = [];
  private running = 0;
  private timer: NodeJS.Timeout | undefined;
  private draining = false;
  private lastBatchMs = 1000;
  private readonly idleWaiters: (() => void)[] = [];
  private readonly engine: Engine;
  private readonly options: BatcherOptions;
  private readonly preferredSizes: Set<number>;
  /** Called as each engine run starts (metrics). */
  onBatch: ((batch: BatchRecord) => void) | undefined;
  /** Called with a request's image count when the engine stopped it early because it was cancelled. */
  onEngineCancelled: ((images: number) => void) | undefined;

  constructor(engine: Engine, options: BatcherOptions) {
    this.engine = engine;
    this.options = options;
    this.preferredSizes = new Set(preferredBatchSizes(options.maxBatch));
  }

  get queueDepth(): number {
    return this.queue.length;
  }

  get inFlight(): number {
    return this.running;
  }

  /**
   * Accepts a job or throws ProblemError('gpu_unavailable') at once (queue full,
   * draining). `position` is the number of requests ahead of it in the queue.
   */
  submit(spec: JobSpec): { position: number; result: Promise<JobResult> } {
    if (this.draining) throw new ProblemError('gpu_unavailable', 'the service is shutting down', 5);
    if (this.queue.length >= this.options.queueLimit) {
      throw new ProblemError('gpu_unavailable', `queue is full (${this.options.queueLimit} waiting)`, this.retryAfterS());
    }
    const controller = new AbortController();
    const result = new Promise<JobResult>((resolve, reject) => {
      const job: Job = { spec, enqueuedAt: performance.now(), controller, resolve, reject };
      const deadline = setTimeout(
        () => this.abort(job, new ProblemError('gpu_timeout', `deadline of ${spec.deadlineMs} ms passed`)),
        spec.deadlineMs,
      );
      const onClientAbort = () => this.abort(job, spec.signal.reason ?? new Error('client went away'));
      spec.signal.addEventListener('abort', onClientAbort, { once: true });
      job.resolve = (value) => {
        clearTimeout(deadline);
        spec.signal.removeEventListener('abort', onClientAbort);
        resolve(value);
      };
      job.reject = (error) => {
        clearTimeout(deadline);
        spec.signal.removeEventListener('abort', onClientAbort);
        reject(error);
      };
      this.queue.push(job);
      if (spec.signal.aborted) onClientAbort();
    });
    const position = Math.max(0, this.queue.length - 1);
    this.schedule();
    return { position, result };
  }

  /** Stops intake; resolves once every accepted job has settled and the engine is idle. */
  drain(): Promise<void> {
    this.draining = true;
    return this.whenIdle();
  }

  get isDraining(): boolean {
    return this.draining;
  }

  private whenIdle(): Promise<void> {
    if (this.queue.length === 0 && this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private retryAfterS(): number {
    const runsAhead = Math.ceil((this.queue.length + 1) / this.options.maxBatch);
    return Math.max(1, Math.ceil((runsAhead * this.lastBatchMs) / 1000));
  }

  private abort(job: Job, reason: unknown): void {
    const index = this.queue.indexOf(job);
    if (index >= 0) this.queue.splice(index, 1);
    // Running jobs are stopped by the engine between scales; the caller hears now.
    job.controller.abort(reason);
    job.reject(reason);
    this.notifyIfIdle();
  }

  private schedule(): void {
    if (this.running > 0 || this.queue.length === 0) return;
    const head = this.queue[0];
    const waitMs = head.enqueuedAt + this.options.batchWindowMs - performance.now();
    const waitingImages = this.queue.filter((job) => job.spec.model === head.spec.model).reduce((sum, job) => sum + imageCount(job), 0);
    if (waitMs <= 0 || waitingImages >= this.options.maxBatch) {
      this.dispatch();
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.schedule();
      }, waitMs);
    }
  }

  private dispatch(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const model = this.queue[0].spec.model;
    const batch: Job[] = [];
    let images = 0;
    // FIFO within the model; a job that does not fit waits for the next run.
    for (const job of this.queue) {
      if (job.spec.model !== model) continue;
      if (images + imageCount(job) > this.options.maxBatch) break;
      batch.push(job);
      images += imageCount(job);
    }
    // Keep to a preferred size (see batch-sizes.ts) when the tail can wait; the head job always goes.
    while (batch.length > 1 && !this.preferredSizes.has(images)) {
      const tail = batch.pop();
      if (tail) images -= imageCount(tail);
    }
    for (const job of batch) this.queue.splice(this.queue.indexOf(job), 1);

    const startedAt = performance.now();
    const scales = this.engine.models.get(model)?.patchNums.length ?? 1;
    this.running = batch.length;
    const run = this.engine.run(
      model,
      batch.map((job) => ({
        request: job.spec.request,
        preview: job.spec.preview,
        signal: job.controller.signal,
        onProgress: job.spec.onProgress,
      })),
    );
    this.onBatch?.({ model, images, requests: batch.length });
    batch.forEach((job, i) => {
      const queueMs = startedAt - job.enqueuedAt;
      job.spec.onStarted?.({ batchSize: images, scales });
      run.results[i].then(
        (result) => job.resolve({ images: result.images, timings: result.timings, queueMs, batchSize: result.batchSize }),
        (error: unknown) => {
          if (error instanceof EngineCancelled) this.onEngineCancelled?.(imageCount(job));
          job.reject(job.controller.signal.aborted ? job.controller.signal.reason : error);
        },
      );
    });
    void run.done.then(() => {
      this.running = 0;
      this.lastBatchMs = performance.now() - startedAt;
      this.notifyIfIdle();
      // Work that queued during the run has waited long enough: no extra window.
      if (this.queue.length > 0) this.dispatch();
    });
  }

  private notifyIfIdle(): void {
    if (this.queue.length > 0 || this.running > 0) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}

function imageCount(job: Job): number {
  return job.spec.request.seeds.length;
}
