// Per-key request limits (token bucket in the RateLimiter Durable Object) and the RateLimit /
// RateLimit-Policy headers on every authenticated response, 429s included.
import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv } from '../../env.ts';
import type { Limits } from '../../keys/record.ts';
import type { LeaseDecision, LimitStatus } from '../../stores/rate-limit/token-bucket.ts';
import { durableRateLimitStore } from '../../stores/rate-limit/durable-object.ts';
import type { RateLimitStore } from '../../stores/rate-limit/contract.ts';
import { problem, ProblemError } from '../problem/index.ts';

export function policyHeader(limits: Limits): string {
  return `"requests";q=${limits.requests};w=${limits.window_seconds}, "images";q=${limits.images};w=${limits.window_seconds}`;
}

export function statusHeader(status: LimitStatus): string {
  return `"requests";r=${status.requests.remaining};t=${status.requests.reset}, "images";r=${status.images.remaining};t=${status.images.reset}`;
}

/** The 429 for an image lease the limiter refused (synchronous generations and job submission alike). */
export function leaseRefused(limits: Limits, decision: LeaseDecision & { allowed: false }): ProblemError {
  const detail = decision.reason === 'concurrency' ? `At most ${limits.concurrent} generations may run at once for this key` : `Image limit of ${limits.images} per ${limits.window_seconds} s reached`;
  return new ProblemError('rate_limited', detail, { retryAfter: decision.retryAfter });
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
    if (!decision.allowed) {
      return problem(c, 'rate_limited', `Request limit of ${limits.requests} per ${limits.window_seconds} s reached`, {
        retryAfter: decision.retryAfter,
        headers: { 'RateLimit-Policy': policyHeader(limits), RateLimit: statusHeader(decision.status) },
      });
    }
    await next();
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
