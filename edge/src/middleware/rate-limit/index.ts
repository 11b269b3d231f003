// Hono glue for the per-key limits: a request token per request (token bucket in the RateLimiter
// Durable Object, mostly from what this isolate holds: limits/request-tokens.ts), and the
// RateLimit / RateLimit-Policy headers (../../limits) on every authenticated response.
import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv } from '../../env.ts';
import type { LimitStatus } from '../../stores/rate-limit/token-bucket.ts';
import { durableRateLimitStore } from '../../stores/rate-limit/durable-object.ts';
import type { RateLimitStore } from '../../stores/rate-limit/contract.ts';
import { limitRefused, policyHeader, statusHeader } from '../../limits/rate-limit.ts';
import { RequestTokens } from '../../limits/request-tokens.ts';
import { problemFromError } from '../problem/index.ts';

/** This isolate's request tokens, shared by every request it serves. */
const requestTokens = new RequestTokens();

export function rateLimitStore(c: Context<AppEnv>): RateLimitStore {
  return durableRateLimitStore(c.env, c.get('apiKey').kid);
}

/** Records the latest limit status; the middleware writes it into the response headers. */
export function noteLimitStatus(c: Context<AppEnv>, status: LimitStatus): void {
  c.set('rateLimit', requestTokens.observe(c.get('apiKey').kid, status));
}

export function rateLimit(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const { kid, limits } = c.get('apiKey');
    const decision = await requestTokens.take(kid, limits, (want, giveBack) => rateLimitStore(c).consumeRequests(limits, want, giveBack));
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
