// Job: one Durable Object per job. It owns the job's state, runs the generation from its alarm
// (once its key's RateLimiter gives it a slot, when it was queued behind the key's limit), keeps
// the numbered event log that SSE subscribers replay (Last-Event-ID) and follow live, delivers the
// webhook with backoff, and deletes itself when the job expires.
import { DurableObject } from 'cloudflare:workers';
import { readConfig, type Bindings } from '../env.ts';
import { createLogger } from '../log.ts';
import { generate } from '../generation/service.ts';
import { generationResponse } from '../generation/response.ts';
import { durableRateLimitStore } from '../stores/rate-limit/durable-object.ts';
import { durableGenerationLock } from '../stores/generation-lock/durable-object.ts';
import { ProblemError, problemBody } from '../problems/index.ts';
import { formatEvent } from '../sse.ts';
import { deliverWebhook } from '../webhook/deliver.ts';
import { cacheR2ImageStore } from '../stores/images/cache-r2.ts';
import { FORMAT_OF_CONTENT_TYPE } from '../generation/formats.ts';
import { base64Encode } from '../crypto.ts';
import type { Job as PublicJob } from '../schemas.gen.ts';
import { TERMINAL, type JobInit, type JobStore, type StoredEvent } from './contract.ts';

interface WebhookState {
  url: string;
  secret: string;
  attempts: number;
  nextAt: number | null;
  done: boolean;
}

interface JobState {
  job: PublicJob;
  init: Omit<JobInit, 'webhook'>;
  webhook: WebhookState | null;
  nextEventId: number;
  /** GPU calls answered 503 (busy) so far; the job waits and tries again up to GPU_RETRIES times. */
  gpuRetries: number;
  retryAt: number | null;
  /** While the job waits in its key's queue for a slot: since when (ms). */
  waitingSince: number | null;
}

const GPU_RETRIES = 4;
/** A queued job is woken by the limiter when it gets a slot; this poll only covers a lost wake-up. */
const QUEUE_POLL_MS = 5_000;
const MAX_RETRY_DELAY_S = 60;

interface Subscriber {
  writer: WritableStreamDefaultWriter<Uint8Array>;
  /** Writes in event order, even when one waits for its images to be read. */
  queue: Promise<void>;
}

const EVENT_PREFIX = 'ev:';
const KEEPALIVE_MS = 15_000;
/** How long past the GPU deadline a running job may go unheard of before its watchdog alarm resumes it. */
const WATCHDOG_SLACK_MS = 5_000;
const encoder = new TextEncoder();

function eventKey(id: number): string {
  return EVENT_PREFIX + String(id).padStart(12, '0');
}

const nowS = () => Math.floor(Date.now() / 1000);

/** States stored before the queue existed have no `waitingSince`: they never wait. */
const waiting = (state: JobState) => (state.waitingSince ?? null) !== null;

export class Job extends DurableObject<Bindings> {
  private state: JobState | null = null;
  private events: StoredEvent[] = [];
  private subscribers = new Set<Subscriber>();
  /** Event chunks whose job result is expanded to base64 on the way out, shared by subscribers. */
  private expanded = new Map<number, Promise<Uint8Array>>();
  private running: AbortController | null = null;

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      this.state = (await ctx.storage.get<JobState>('state')) ?? null;
      this.events = [...(await ctx.storage.list<StoredEvent>({ prefix: EVENT_PREFIX })).values()];
    });
  }

  private get config() {
    return readConfig(this.env);
  }

  private visible(kid: string): JobState | null {
    const state = this.state;
    if (!state || state.init.kid !== kid || state.job.expires_at <= nowS()) return null;
    return state;
  }

  private save(): void {
    if (this.state) void this.ctx.storage.put('state', this.state);
  }

  /** expires_at is provisional (created_at + TTL) until the job ends, then completed_at + TTL. */
  private touch(): void {
    const state = this.state!;
    const base = state.job.completed_at ?? state.job.created_at;
    state.job.expires_at = base + this.config.jobTtlSeconds;
    this.save();
    void this.schedule();
  }

  private async schedule(): Promise<void> {
    const state = this.state;
    if (!state) return;
    const times = [state.job.expires_at * 1000];
    if (state.job.status === 'queued' && waiting(state)) times.push(Math.min(Date.now() + QUEUE_POLL_MS, this.queueDeadline(state)));
    else if (state.job.status === 'queued') times.push(Date.now());
    // While running, a watchdog alarm: if this object restarts mid-run (deploy, eviction, crash),
    // the alarm finds the job running with no run in this instance and resumes it.
    if (state.job.status === 'running') times.push(state.retryAt ?? Date.now() + this.config.gpuTimeoutMs + WATCHDOG_SLACK_MS);
    if (state.webhook && !state.webhook.done && state.webhook.nextAt !== null) times.push(state.webhook.nextAt);
    await this.ctx.storage.setAlarm(Math.min(...times));
  }

  private queueDeadline(state: JobState): number {
    return (state.waitingSince ?? Date.now()) + this.config.jobQueueSeconds * 1000;
  }

  private emit(event: StoredEvent['event'], data: unknown): void {
    const state = this.state!;
    const terminal = event === 'completed' || event === 'failed' || event === 'cancelled';
    const stored: StoredEvent = { id: state.nextEventId++, event, data: JSON.stringify(data) };
    if (event === 'completed' && state.init.responseFormat === 'b64_json') stored.expand = true;
    this.events.push(stored);
    void this.ctx.storage.put(eventKey(stored.id), stored);
    this.save();
    for (const subscriber of this.subscribers) {
      this.send(subscriber, stored);
      if (terminal) this.close(subscriber);
    }
    if (terminal) this.subscribers.clear();
  }

  private chunk(event: StoredEvent): Promise<Uint8Array> {
    const encode = (data: string) => encoder.encode(formatEvent({ id: String(event.id), event: event.event, data }));
    if (!event.expand) return Promise.resolve(encode(event.data));
    let chunk = this.expanded.get(event.id);
    if (!chunk) {
      const { job } = JSON.parse(event.data) as { job: PublicJob };
      chunk = this.publicJob(job).then((expanded) => encode(JSON.stringify({ job: expanded })));
      this.expanded.set(event.id, chunk);
    }
    return chunk;
  }

  private send(subscriber: Subscriber, event: StoredEvent): void {
    subscriber.queue = subscriber.queue
      .then(async () => subscriber.writer.write(await this.chunk(event)))
      .catch(() => {
        this.subscribers.delete(subscriber);
      });
  }

  private close(subscriber: Subscriber): void {
    subscriber.queue = subscriber.queue.then(() => subscriber.writer.close()).catch(() => {});
  }

  /**
   * The job as clients see it. Results are stored with URLs only (Durable Object values are
   * bounded); a b64_json job gets its images read back from R2 when it is read.
   */
  private async publicJob(job: PublicJob): Promise<PublicJob> {
    const state = this.state;
    if (!job.result || state?.init.responseFormat !== 'b64_json') return job;
    const data = await Promise.all(
      job.result.data.map(async ({ url: _url, ...image }) => {
        const format = FORMAT_OF_CONTENT_TYPE[image.content_type];
        const stored = await cacheR2ImageStore(this.env, state.init.origin, (promise) => this.ctx.waitUntil(promise)).find(image.key, format, true);
        if (!stored?.bytes) throw new ProblemError('internal', 'A stored image of this job is missing');
        return { ...image, b64_json: base64Encode(stored.bytes) };
      }),
    );
    return { ...job, result: { ...job.result, data } };
  }

  private finish(status: 'succeeded' | 'failed' | 'cancelled', fields: Partial<PublicJob>): void {
    const state = this.state!;
    state.job = { ...state.job, ...fields, status, completed_at: nowS() };
    if (status === 'succeeded') state.job.progress = { scale: state.job.progress.scales, scales: state.job.progress.scales };
    this.touch();
    this.emit(status === 'succeeded' ? 'completed' : status, { job: state.job });
    if (state.webhook) {
      state.webhook.nextAt = Date.now();
      this.save();
      void this.schedule();
    }
  }

  async create(init: JobInit): Promise<PublicJob> {
    if (this.state) return this.state.job;
    const created = nowS();
    const { webhook, ...rest } = init;
    this.state = {
      job: {
        id: init.id,
        object: 'job',
        status: 'queued',
        model: init.params.model,
        created_at: created,
        expires_at: created + this.config.jobTtlSeconds,
        progress: { scale: 0, scales: init.scales },
      },
      init: rest,
      webhook: webhook ? { ...webhook, attempts: 0, nextAt: null, done: false } : null,
      nextEventId: 1,
      gpuRetries: 0,
      retryAt: null,
      waitingSince: init.waitsForSlot ? Date.now() : null,
    };
    this.emit('queued', { job: this.state.job });
    this.touch();
    return this.state.job;
  }

  async get(kid: string): Promise<PublicJob | null> {
    const state = this.visible(kid);
    return state ? this.publicJob(state.job) : null;
  }

  async cancel(kid: string): Promise<PublicJob | null> {
    const state = this.visible(kid);
    if (!state) return null;
    if (TERMINAL.has(state.job.status)) return this.publicJob(state.job);
    this.finish('cancelled', {});
    this.running?.abort(new Error('cancelled'));
    // Give the slot and the image tokens back now; releasing a lease twice is a no-op.
    await this.settleLease(0);
    return state.job;
  }

  /** The RateLimiter promoted this job's lease from the queue: run it now rather than at the next poll. */
  async wake(): Promise<void> {
    if (this.state?.job.status === 'queued') await this.ctx.storage.setAlarm(Date.now());
  }

  async fetch(request: Request): Promise<Response> {
    const kid = request.headers.get('X-Star-Kid') ?? '';
    const last = Number(request.headers.get('Last-Event-ID') ?? '0');
    const state = this.visible(kid);
    if (!state) return new Response(null, { status: 404 });
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const subscriber: Subscriber = { writer: writable.getWriter(), queue: Promise.resolve() };
    // Replay and subscribe in one synchronous step, so no event falls between the two.
    for (const event of this.events) if (event.id > last) this.send(subscriber, event);
    if (TERMINAL.has(state.job.status)) {
      this.close(subscriber);
    } else {
      this.subscribers.add(subscriber);
      const keepalive = setInterval(() => {
        if (!this.subscribers.has(subscriber)) return clearInterval(keepalive);
        subscriber.queue = subscriber.queue
          .then(() => subscriber.writer.write(encoder.encode(': keepalive\n\n')))
          .catch(() => {
            this.subscribers.delete(subscriber);
            clearInterval(keepalive);
          });
      }, KEEPALIVE_MS);
    }
    return new Response(readable, { headers: { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache' } });
  }

  async alarm(): Promise<void> {
    const state = this.state;
    if (!state) return;
    if (state.job.expires_at <= nowS()) {
      this.state = null;
      this.events = [];
      await this.ctx.storage.deleteAll();
      return;
    }
    // A running job with no run in this instance lost it (the object was evicted or crashed mid-run
    // and the alarm is being retried): run it again; its images are deterministic.
    // A retry after a busy GPU is due the same way.
    const due = state.retryAt === null || state.retryAt <= Date.now();
    if (state.job.status === 'queued' && waiting(state)) await this.checkSlot();
    if (state.job.status === 'queued' && !waiting(state)) await this.run();
    else if (state.job.status === 'running' && !this.running && due) await this.run();
    if (state.webhook && !state.webhook.done && state.webhook.nextAt !== null && state.webhook.nextAt <= Date.now()) await this.deliver();
    await this.schedule();
  }

  /** A job waiting in its key's queue: has the limiter given it a slot, or has it waited too long? */
  private async checkSlot(): Promise<void> {
    const state = this.state!;
    const { init } = state;
    const lease = await durableRateLimitStore(this.env, init.kid).leaseState(init.limits, init.leaseId);
    if (state.job.status !== 'queued') return; // cancelled meanwhile
    if (lease.state === 'running') {
      state.waitingSince = null;
      this.save();
      return;
    }
    if (lease.state === 'waiting' && Date.now() < this.queueDeadline(state)) return;
    await this.settleLease(0);
    const waited = Math.round((Date.now() - state.waitingSince!) / 1000);
    const body = problemBody('rate_limited', `The job waited ${waited} s in this key's queue without a free slot (at most ${init.limits.concurrent} generations run at once)`, {
      instance: `/v1/jobs/${init.id}`,
      requestId: init.requestId,
    });
    this.finish('failed', { error: body });
  }

  private async run(): Promise<void> {
    const state = this.state!;
    const resumed = state.job.status === 'running' && state.retryAt === null;
    state.retryAt = null;
    if (!resumed) {
      state.job = { ...state.job, status: 'running', started_at: nowS() };
      this.touch();
      this.emit('started', { job: state.job });
    }
    const abort = new AbortController();
    this.running = abort;
    const { init } = state;
    const log = createLogger({ request_id: init.requestId, job_id: init.id });
    if (resumed) log.warn('job run resumed after an interruption');
    const deps = {
      config: this.config,
      log,
      limiter: durableRateLimitStore(this.env, init.kid),
      limits: init.limits,
      locks: (contentKey: string) => durableGenerationLock(this.env, contentKey),
      images: cacheR2ImageStore(this.env, init.origin, (promise) => this.ctx.waitUntil(promise)),
      requestId: init.requestId,
    };
    try {
      const outcome = await generate(deps, init.params, {
        needBytes: false,
        signal: abort.signal,
        preview: true,
        leaseId: init.leaseId,
        onEvent: (event) => {
          if (this.state?.job.status !== 'running') return;
          const job = this.state.job;
          if (event.type === 'started') job.progress = { scale: job.progress.scale, scales: event.scales };
          if (event.type === 'progress') {
            job.progress = { scale: event.scale, scales: event.scales };
            this.emit('progress', { scale: event.scale, scales: event.scales, side: event.side, ...(event.previewPng ? { preview: 'data:image/png;base64,' + event.previewPng } : {}) });
          }
        },
      });
      if (this.state?.job.status !== 'running') return; // cancelled meanwhile
      await this.settleLease(outcome.generated);
      this.finish('succeeded', { result: generationResponse(outcome, init.origin, 'url') });
    } catch (error) {
      if (this.state?.job.status !== 'running') return;
      const known = error instanceof ProblemError ? error : null;
      if (known?.problem === 'gpu_unavailable' && state.gpuRetries < GPU_RETRIES) {
        // A full GPU queue is what an asynchronous job should wait out; it keeps its lease meanwhile.
        state.gpuRetries += 1;
        state.retryAt = Date.now() + Math.min(known.options.retryAfter ?? 5, MAX_RETRY_DELAY_S) * 1000;
        log.info('gpu busy; job will retry', { attempt: state.gpuRetries, retry_at: new Date(state.retryAt).toISOString() });
        this.save();
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
      this.finish('failed', { error: body });
    } finally {
      this.running = null;
    }
  }

  private async settleLease(generated: number): Promise<void> {
    const { init } = this.state!;
    try {
      await durableRateLimitStore(this.env, init.kid).release(init.limits, init.leaseId, generated);
    } catch {
      // the lease expires by itself
    }
  }

  private async deliver(): Promise<void> {
    const state = this.state!;
    const webhook = state.webhook!;
    webhook.attempts += 1;
    let body: string;
    try {
      body = JSON.stringify(await this.publicJob(state.job));
    } catch {
      body = JSON.stringify(state.job);
    }
    const result = await deliverWebhook(webhook.url, webhook.secret, `${state.job.id}:${state.job.status}`, body, this.config.allowPrivateWebhooks);
    const log = createLogger({ request_id: state.init.requestId, job_id: state.job.id });
    if (result.delivered) {
      webhook.done = true;
      webhook.nextAt = null;
      log.info('webhook delivered', { attempts: webhook.attempts });
    } else if (!result.retryable || webhook.attempts >= this.config.webhookMaxAttempts) {
      webhook.done = true;
      webhook.nextAt = null;
      log.warn('webhook abandoned', { attempts: webhook.attempts, reason: result.reason });
    } else {
      webhook.nextAt = Date.now() + this.config.webhookRetryBaseMs * 2 ** (webhook.attempts - 1);
      log.info('webhook retry scheduled', { attempts: webhook.attempts, reason: result.reason });
    }
    this.save();
  }
}

export function durableJobStore(env: Bindings, id: string): JobStore {
  const stub = env.JOBS.get(env.JOBS.idFromName(id));
  return {
    create: (init) => stub.create(init),
    get: (kid) => stub.get(kid),
    cancel: (kid) => stub.cancel(kid),
    events: async (kid, lastEventId) => {
      const response = await stub.fetch('https://job/events', { headers: { 'X-Star-Kid': kid, 'Last-Event-ID': String(lastEventId) } });
      if (response.status === 404) return null;
      return response;
    },
  };
}
