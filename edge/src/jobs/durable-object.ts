// Job: one Durable Object per job, the glue between the job's pieces: its record and event log
// (record-store.ts), its run (runner.ts), its SSE subscribers (event-fan-out.ts) and its webhook
// (../webhook/delivery.ts), all woken by one alarm (alarm.ts). It deletes itself when the job expires.
import { DurableObject } from 'cloudflare:workers';
import { readConfig, type Bindings } from '../env.ts';
import { createLogger } from '../log.ts';
import { ProblemError } from '../problems/index.ts';
import { cacheR2ImageStore } from '../stores/images/cache-r2.ts';
import type { ImageStore } from '../stores/images/contract.ts';
import { FORMAT_OF_CONTENT_TYPE } from '../generation/formats.ts';
import { base64Encode } from '../crypto.ts';
import { attemptDelivery, newDelivery, nextAttemptAt, type WebhookDelivery } from '../webhook/delivery.ts';
import type { Job as PublicJob } from '../schemas.gen.ts';
import { TERMINAL, type JobInit, type JobStore, type StoredEvent } from './contract.ts';
import { JobRecords, nowS } from './record-store.ts';
import { EventFanOut } from './event-fan-out.ts';
import { JobRunner } from './runner.ts';
import { nextAlarm } from './alarm.ts';

export class Job extends DurableObject<Bindings> {
  private records: JobRecords;
  private fanOut: EventFanOut;
  private runner: JobRunner;

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    this.records = new JobRecords(ctx.storage);
    this.fanOut = new EventFanOut((data) => this.expandResult(data));
    // Host methods are closures, not public methods: a Durable Object's public methods are RPC.
    this.runner = new JobRunner(env, {
      records: this.records,
      images: () => this.images(),
      touch: () => this.touch(),
      emit: (event, data) => this.emit(event, data),
      finish: (status, fields) => this.finish(status, fields),
    });
    ctx.blockConcurrencyWhile(() => this.records.load());
  }

  private get config() {
    return readConfig(this.env);
  }

  private images(): ImageStore {
    return cacheR2ImageStore(this.env, this.records.current.init.origin, (promise) => this.ctx.waitUntil(promise));
  }

  private touch(): void {
    this.records.touch(this.config.jobTtlSeconds);
    void this.schedule();
  }

  private async schedule(): Promise<void> {
    const state = this.records.state;
    if (state) await this.ctx.storage.setAlarm(nextAlarm(state, this.config, Date.now()));
  }

  private emit(event: StoredEvent['event'], data: unknown): void {
    const expand = event === 'completed' && this.records.current.init.responseFormat === 'b64_json';
    this.fanOut.publish(this.records.append(event, data, expand));
  }

  /**
   * The job as clients see it. Results are stored with URLs only (Durable Object values are
   * bounded); a b64_json job gets its images read back from the image store when it is read.
   */
  private async publicJob(job: PublicJob): Promise<PublicJob> {
    if (!job.result || this.records.state?.init.responseFormat !== 'b64_json') return job;
    const images = this.images();
    const data = await Promise.all(
      job.result.data.map(async ({ url: _url, ...image }) => {
        const stored = await images.find(image.key, FORMAT_OF_CONTENT_TYPE[image.content_type], true);
        if (!stored?.bytes) throw new ProblemError('internal', 'A stored image of this job is missing');
        return { ...image, b64_json: base64Encode(stored.bytes) };
      }),
    );
    return { ...job, result: { ...job.result, data } };
  }

  /** A stored `completed` event's data with the job's images as base64, for SSE subscribers. */
  private async expandResult(data: string): Promise<string> {
    const { job } = JSON.parse(data) as { job: PublicJob };
    return JSON.stringify({ job: await this.publicJob(job) });
  }

  private finish(status: 'succeeded' | 'failed' | 'cancelled', fields: Partial<PublicJob>): void {
    const state = this.records.current;
    state.job = { ...state.job, ...fields, status, completed_at: nowS() };
    if (status === 'succeeded') state.job.progress = { scale: state.job.progress.scales, scales: state.job.progress.scales };
    this.touch();
    this.emit(status === 'succeeded' ? 'completed' : status, { job: state.job });
    if (state.webhook) {
      state.webhook.nextAt = Date.now();
      this.records.save();
      void this.schedule();
    }
  }

  async create(init: JobInit): Promise<PublicJob> {
    if (this.records.state) return this.records.state.job;
    const created = nowS();
    const { webhook, ...rest } = init;
    this.records.state = {
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
      webhook: webhook ? newDelivery(webhook) : null,
      nextEventId: 1,
      gpuRetries: 0,
      retryAt: null,
      waitingSince: init.waitsForSlot ? Date.now() : null,
    };
    this.emit('queued', { job: this.records.state.job });
    this.touch();
    return this.records.state.job;
  }

  async get(kid: string): Promise<PublicJob | null> {
    const state = this.records.visible(kid);
    return state ? this.publicJob(state.job) : null;
  }

  async cancel(kid: string): Promise<PublicJob | null> {
    const state = this.records.visible(kid);
    if (!state) return null;
    if (TERMINAL.has(state.job.status)) return this.publicJob(state.job);
    this.finish('cancelled', {});
    await this.runner.cancel();
    return state.job;
  }

  /** The RateLimiter promoted this job's lease from the queue: run it now rather than at the next poll. */
  async wake(): Promise<void> {
    if (this.records.state?.job.status === 'queued') await this.ctx.storage.setAlarm(Date.now());
  }

  async fetch(request: Request): Promise<Response> {
    const kid = request.headers.get('X-Star-Kid') ?? '';
    const last = Number(request.headers.get('Last-Event-ID') ?? '0');
    const state = this.records.visible(kid);
    if (!state) return new Response(null, { status: 404 });
    const stream = this.fanOut.subscribe(this.records.events, last, TERMINAL.has(state.job.status));
    return new Response(stream, { headers: { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache' } });
  }

  async alarm(): Promise<void> {
    const state = this.records.state;
    if (!state) return;
    if (this.records.expired()) {
      await this.records.clear();
      return;
    }
    await this.runner.onAlarm();
    const webhookAt = nextAttemptAt(state.webhook);
    if (state.webhook && webhookAt !== null && webhookAt <= Date.now()) await this.deliver(state.webhook);
    await this.schedule();
  }

  private async deliver(webhook: WebhookDelivery): Promise<void> {
    const state = this.records.current;
    let body: string;
    try {
      body = JSON.stringify(await this.publicJob(state.job));
    } catch {
      body = JSON.stringify(state.job);
    }
    const log = createLogger({ request_id: state.init.requestId, job_id: state.job.id });
    const { webhookMaxAttempts, webhookRetryBaseMs, allowPrivateWebhooks } = this.config;
    await attemptDelivery(
      webhook,
      `${state.job.id}:${state.job.status}`,
      body,
      { maxAttempts: webhookMaxAttempts, retryBaseMs: webhookRetryBaseMs, allowPrivate: allowPrivateWebhooks },
      log,
    );
    this.records.save();
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
