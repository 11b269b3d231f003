// The job runner: waits for the key's slot, runs the generation (progress events, previews) through
// the generation service, waits out a busy GPU and tries again, stops on cancellation, and runs
// again a run lost to a restart (the watchdog alarm). It changes the job through its host, the
// Job Durable Object, which stores the record and fans the events out.
import { readConfig, type Bindings } from '../env.ts';
import { createLogger } from '../log.ts';
import { generate } from '../generation/service.ts';
import { generationResponse } from '../generation/response.ts';
import { storedParams } from '../generation/params.ts';
import { durableRateLimitStore } from '../stores/rate-limit/durable-object.ts';
import { durableGenerationLock } from '../stores/generation-lock/durable-object.ts';
import type { ImageStore } from '../stores/images/contract.ts';
import { ProblemError, problemBody } from '../problems/index.ts';
import type { Job } from '../schemas.gen.ts';
import type { StoredEvent } from './contract.ts';
import { nowS, type JobRecords } from './record-store.ts';
import { queueDeadline, waiting } from './alarm.ts';

/** GPU calls answered 503 (busy) a job waits out before it fails. */
const GPU_RETRIES = 4;
const MAX_RETRY_DELAY_S = 60;

export interface RunnerHost {
  records: JobRecords;
  images(): ImageStore;
  /** The job's status or times changed: store the record and move its expiry and alarm. */
  touch(): void;
  emit(event: StoredEvent['event'], data: unknown): void;
  finish(status: 'succeeded' | 'failed' | 'cancelled', fields: Partial<Job>): void;
}

export class JobRunner {
  private env: Bindings;
  private host: RunnerHost;
  private running: AbortController | null = null;

  constructor(env: Bindings, host: RunnerHost) {
    this.env = env;
    this.host = host;
  }

  /** What the job's alarm does for its run: start it once it has a slot, try a busy GPU again when
   *  the retry is due, or resume a running job that has no run in this instance (the object was
   *  evicted or crashed mid-run and the alarm is being retried; its images are deterministic). */
  async onAlarm(): Promise<void> {
    const state = this.host.records.current;
    const due = state.retryAt === null || state.retryAt <= Date.now();
    if (state.job.status === 'queued' && waiting(state)) await this.checkSlot();
    if (state.job.status === 'queued' && !waiting(state)) await this.run();
    else if (state.job.status === 'running' && !this.running && due) await this.run();
  }

  /** The job was cancelled: stop its GPU call and give its slot and image tokens back now. */
  async cancel(): Promise<void> {
    this.running?.abort(new Error('cancelled'));
    await this.settleLease(0);
  }

  /** A job waiting in its key's queue: has the limiter given it a slot, or has it waited too long? */
  private async checkSlot(): Promise<void> {
    const state = this.host.records.current;
    const { init } = state;
    const lease = await durableRateLimitStore(this.env, init.kid).leaseState(init.limits, init.leaseId);
    if (state.job.status !== 'queued') return; // cancelled meanwhile
    if (lease.state === 'running') {
      state.waitingSince = null;
      this.host.records.save();
      return;
    }
    if (lease.state === 'waiting' && Date.now() < queueDeadline(state, readConfig(this.env), Date.now())) return;
    await this.settleLease(0);
    const waited = Math.round((Date.now() - (state.waitingSince ?? Date.now())) / 1000);
    const body = problemBody(
      'rate_limited',
      `The job waited ${waited} s in this key's queue without a free slot (at most ${init.limits.concurrent} generations run at once)`,
      {
        instance: `/v1/jobs/${init.id}`,
        requestId: init.requestId,
      },
    );
    this.host.finish('failed', { error: body });
  }

  private async run(): Promise<void> {
    const { records } = this.host;
    const state = records.current;
    const resumed = state.job.status === 'running' && state.retryAt === null;
    state.retryAt = null;
    if (!resumed) {
      state.job = { ...state.job, status: 'running', started_at: nowS() };
      this.host.touch();
      this.host.emit('started', { job: state.job });
    }
    const abort = new AbortController();
    this.running = abort;
    const { init } = state;
    const config = readConfig(this.env);
    const log = createLogger({ request_id: init.requestId, job_id: init.id });
    if (resumed) log.warn('job run resumed after an interruption');
    const deps = {
      config,
      log,
      limiter: durableRateLimitStore(this.env, init.kid),
      limits: init.limits,
      locks: (contentKey: string) => durableGenerationLock(this.env, contentKey),
      images: this.host.images(),
      requestId: init.requestId,
    };
    try {
      const outcome = await generate(deps, storedParams(init.params), {
        needBytes: false,
        signal: abort.signal,
        preview: true,
        leaseId: init.leaseId,
        onEvent: (event) => {
          if (records.state?.job.status !== 'running') return;
          const job = records.state.job;
          if (event.type === 'started') job.progress = { scale: job.progress.scale, scales: event.scales };
          if (event.type === 'progress') {
            job.progress = { scale: event.scale, scales: event.scales };
            this.host.emit('progress', {
              scale: event.scale,
              scales: event.scales,
              side: event.side,
              ...(event.previewPng ? { preview: `data:image/png;base64,${event.previewPng}` } : {}),
            });
          }
        },
      });
      if (records.state?.job.status !== 'running') return; // cancelled meanwhile
      await this.settleLease(outcome.generated);
      this.host.finish('succeeded', { result: generationResponse(outcome, init.origin, 'url') });
    } catch (error) {
      if (records.state?.job.status !== 'running') return;
      const known = error instanceof ProblemError ? error : null;
      if (known?.problem === 'gpu_unavailable' && state.gpuRetries < GPU_RETRIES) {
        // A full GPU queue is what an asynchronous job should wait out; it keeps its lease meanwhile.
        state.gpuRetries += 1;
        state.retryAt = Date.now() + Math.min(known.options.retryAfter ?? 5, MAX_RETRY_DELAY_S) * 1000;
        log.info('gpu busy; job will retry', { attempt: state.gpuRetries, retry_at: new Date(state.retryAt).toISOString() });
        records.save();
        return;
      }
      await this.settleLease(0);
      if (!known) log.error('job failed', { error: error instanceof Error ? error.message : 'unknown' });
      const body = problemBody(known?.problem ?? 'internal', known?.message ?? 'The job failed unexpectedly', {
        instance: `/v1/jobs/${init.id}`,
        requestId: init.requestId,
        errors: known?.options.errors,
        retryAfter: known?.options.retryAfter,
      });
      this.host.finish('failed', { error: body });
    } finally {
      this.running = null;
    }
  }

  /** Releasing a lease twice is a no-op. */
  private async settleLease(generated: number): Promise<void> {
    const { init } = this.host.records.current;
    try {
      await durableRateLimitStore(this.env, init.kid).release(init.limits, init.leaseId, generated);
    } catch {
      // the lease expires by itself
    }
  }
}
