// /v1/jobs: create (202, Idempotency-Key), get, cancel, and the SSE event stream.
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../env.ts';
import { JobCreateRequest, JobId } from '../schemas.gen.ts';
import { readJson, toParams, validate, invalid } from '../generation/validate.ts';
import { findModel } from '@star-api/contract';
import { assertServed } from '../models.ts';
import { problem } from '../middleware/problem/index.ts';
import { ProblemError } from '../problems/index.ts';
import { rateLimitStore, noteLimitStatus } from '../middleware/rate-limit/index.ts';
import { limitRefused } from '../limits/rate-limit.ts';
import { IDEMPOTENCY_KEY_LENGTH } from '../limits/request.ts';
import { durableJobStore } from '../jobs/durable-object.ts';
import { durableIdempotencyStore } from '../stores/idempotency/durable-object.ts';
import { checkWebhookTarget } from '../webhook/target.ts';
import { requestFingerprint } from '../stores/idempotency/fingerprint.ts';
import type { Job } from '../schemas.gen.ts';

const ALPHANUMERIC = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export function newJobId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  // 24 base-62 characters ≈ 142 bits; the slight modulo bias costs nothing that matters for an id.
  let id = '';
  for (const byte of bytes) id += ALPHANUMERIC[byte % 62];
  return `job_${id}`;
}

/** The limiter keeps a queued job's place a little longer than the job waits, so the job ends it. */
const QUEUE_SLACK_MS = 60_000;

/** Locally (ALLOW_PRIVATE_WEBHOOKS) webhooks may use http; the schema is otherwise openapi's. */
const LocalJobCreateRequest = JobCreateRequest.extend({ webhook_url: z.url().max(2048).optional() });

function jobResponse(c: Context<AppEnv>, job: Job, status: 200 | 202, replayed = false): Response {
  const headers: Record<string, string> = {};
  if (status === 202) headers.Location = `/v1/jobs/${job.id}`;
  if (replayed) headers['Idempotent-Replayed'] = 'true';
  return c.json(job, status, headers);
}

function jobIdParam(c: Context<AppEnv>): string {
  const id = c.req.param('id') ?? '';
  if (!JobId.safeParse(id).success) throw new ProblemError('not_found', 'No such job');
  return id;
}

export const jobs = new Hono<AppEnv>()
  .post('/', async (c) => {
    const config = c.get('config');
    const apiKey = c.get('apiKey');
    const request = validate(config.allowPrivateWebhooks ? LocalJobCreateRequest : JobCreateRequest, await readJson(c.req.raw));
    if (request.webhook_url) {
      const verdict = checkWebhookTarget(request.webhook_url, config.allowPrivateWebhooks);
      if (!verdict.ok) throw invalid(`webhook_url ${verdict.reason}`, [{ path: 'webhook_url', message: verdict.reason }]);
    }
    const idempotencyKey = c.req.header('Idempotency-Key');
    const { min, max } = IDEMPOTENCY_KEY_LENGTH;
    if (idempotencyKey !== undefined && (idempotencyKey.length < min || idempotencyKey.length > max)) {
      throw invalid(`Idempotency-Key must be ${min} to ${max} characters`, [
        { path: 'Idempotency-Key', message: `length must be ${min}..${max}` },
      ]);
    }
    const params = toParams(request, config, apiKey.kid);
    await assertServed(config, params.model);
    const idempotency = durableIdempotencyStore(c.env, apiKey.kid);
    if (idempotencyKey !== undefined) {
      const fingerprint = await requestFingerprint(request);
      const claim = await idempotency.begin(idempotencyKey, fingerprint);
      if (claim.state === 'mismatch') return problem(c, 'idempotency_key_reused', 'This Idempotency-Key was used with a different body');
      if (claim.state === 'in_flight') return problem(c, 'conflict', 'A request with this Idempotency-Key is still being handled');
      if (claim.state === 'replay') {
        const job = await durableJobStore(c.env, claim.jobId).get(apiKey.kid);
        if (job) return jobResponse(c, job, 202, true);
        await idempotency.forget(idempotencyKey);
        const again = await idempotency.begin(idempotencyKey, fingerprint);
        if (again.state !== 'new') return problem(c, 'conflict', 'A request with this Idempotency-Key is still being handled');
      }
    }
    let leaseId: string | null = null;
    try {
      const id = newJobId();
      // Past the key's concurrent limit the job waits in the key's queue (FIFO), holding its image tokens.
      const lease = await rateLimitStore(c).acquire(apiKey.limits, params.seeds.length, config.gpuTimeoutMs + 15 * 60_000, {
        jobId: id,
        queueMs: config.jobQueueSeconds * 1000 + QUEUE_SLACK_MS,
      });
      noteLimitStatus(c, lease.status);
      if (!lease.allowed) throw limitRefused(apiKey.limits, lease);
      leaseId = lease.leaseId;
      const job = await durableJobStore(c.env, id).create({
        id,
        kid: apiKey.kid,
        params,
        responseFormat: request.response_format,
        origin: config.publicOrigin,
        limits: apiKey.limits,
        leaseId,
        waitsForSlot: lease.queued,
        scales: findModel(params.model)?.scales.length ?? 1,
        requestId: c.get('requestId'),
        ...(request.webhook_url ? { webhook: { url: request.webhook_url, secret: apiKey.whsec } } : {}),
      });
      leaseId = null; // the job owns it now
      if (idempotencyKey !== undefined)
        await idempotency.complete(idempotencyKey, job.id, job.expires_at * 1000 + config.jobTtlSeconds * 1000);
      return jobResponse(c, job, 202);
    } catch (error) {
      if (leaseId)
        await rateLimitStore(c)
          .release(apiKey.limits, leaseId, 0)
          .catch(() => {});
      if (idempotencyKey !== undefined) await idempotency.abandon(idempotencyKey);
      throw error;
    }
  })
  .get('/:id', async (c) => {
    const job = await durableJobStore(c.env, jobIdParam(c)).get(c.get('apiKey').kid);
    return job ? jobResponse(c, job, 200) : problem(c, 'not_found', 'No such job');
  })
  .delete('/:id', async (c) => {
    const job = await durableJobStore(c.env, jobIdParam(c)).cancel(c.get('apiKey').kid);
    return job ? jobResponse(c, job, 200) : problem(c, 'not_found', 'No such job');
  })
  .get('/:id/events', async (c) => {
    const lastHeader = c.req.header('Last-Event-ID') ?? '0';
    const last = /^\d{1,15}$/.test(lastHeader) ? Number(lastHeader) : 0;
    const stream = await durableJobStore(c.env, jobIdParam(c)).events(c.get('apiKey').kid, last);
    if (!stream) return problem(c, 'not_found', 'No such job');
    return new Response(stream.body, {
      status: 200,
      headers: { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no' },
    });
  });
