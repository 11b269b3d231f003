// Per-key request limits (token bucket in the RateLimiter Durable Object) and the RateLimit /
// RateLimit-Policy headers on every authenticated response. A 429 names the limit it hit, in its
// detail and as the one item of its RateLimit header.
import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv } from '../../env.ts';
import { queueDepth, renderQuota, type Limits } from '../../keys/record.ts';
import type { Decision, LimitName, LimitStatus } from '../../stores/rate-limit/token-bucket.ts';
import { durableRateLimitStore } from '../../stores/rate-limit/durable-object.ts';
import type { RateLimitStore } from '../../stores/rate-limit/contract.ts';
import { problemFromError, ProblemError } from '../problem/index.ts';

export function policyHeader(limits: Limits): string {
  return `"requests";q=${limits.requests};w=${limits.window_seconds}, "images";q=${limits.images};w=${limits.window_seconds}`;
}

export function statusHeader(status: LimitStatus): string {
  return `"requests";r=${status.requests.remaining};t=${status.requests.reset}, "images";r=${status.images.remaining};t=${status.images.reset}`;
}

/** The policy item of a limit that is not on every response (those are in policyHeader). */
function extraPolicy(limits: Limits, name: LimitName): string {
  if (name === 'renders') return `, "renders";q=${renderQuota(limits)};w=${limits.window_seconds}`;
  if (name === 'concurrent') return `, "concurrent";q=${limits.concurrent}`;
  if (name === 'queue') return `, "queue";q=${queueDepth(limits)}`;
  return '';
}

function refusalDetail(limits: Limits, name: LimitName): string {
  const per = `per ${limits.window_seconds} s`;
  switch (name) {
    case 'requests':
      return `The "requests" limit of ${limits.requests} ${per} is reached`;
    case 'images':
      return `The "images" limit of ${limits.images} generated images ${per} is reached`;
    case 'renders':
      return `The "renders" limit of ${renderQuota(limits)} render-URL generations ${per} is reached (cached views are free)`;
    case 'concurrent':
      return `The "concurrent" limit is reached: at most ${limits.concurrent} generations may run at once for this key (POST /v1/jobs queues instead)`;
    case 'queue':
      return `The "queue" limit is reached: ${limits.concurrent} jobs are running and ${queueDepth(limits)} are waiting for this key`;
  }
}

/** The 429 for any limit the limiter refused: requests, image leases, render generations, the job queue. */
export function limitRefused(limits: Limits, decision: Decision & { allowed: false }): ProblemError {
  return new ProblemError('rate_limited', refusalDetail(limits, decision.reason), {
    retryAfter: decision.retryAfter,
    headers: { 'RateLimit-Policy': policyHeader(limits) + extraPolicy(limits, decision.reason), RateLimit: `"${decision.reason}";r=0;t=${decision.retryAfter}` },
  });
}

export function rateLimitStore(c: Context<AppEnv>): RateLimitStore {
  return durableRateLimitStore(c.env, c.get('apiKey').kid);
}

/** Records the latest limit status; the middleware writes it into the response headers. */
export function noteLimitStatus(c: Context<AppEnv>, status: LimitStatus): void {
  c.set('rateLimit', status);
}

export function rateLimit(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const { limits } = c.get('apiKey');
    const decision = await rateLimitStore(c).consumeRequest(limits);
    c.set('rateLimit', decision.status);
    if (!decision.allowed) return problemFromError(c, limitRefused(limits, decision));
    await next();
    if (c.res.status === 429 && c.res.headers.has('RateLimit')) return; // names the limit it hit
    const status = c.get('rateLimit') ?? decision.status;
    const headers = { 'RateLimit-Policy': policyHeader(limits), RateLimit: statusHeader(status) };
    try {
      for (const [name, value] of Object.entries(headers)) c.res.headers.set(name, value);
    } catch {
      c.res = new Response(c.res.body, c.res);
      for (const [name, value] of Object.entries(headers)) c.res.headers.set(name, value);
    }
  };
}
