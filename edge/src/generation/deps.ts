// GenerationDeps for a request context.
import type { Context } from 'hono';
import type { AppEnv } from '../env.ts';
import { rateLimitStore } from '../middleware/rate-limit/index.ts';
import type { GenerationDeps } from './service.ts';
import { durableGenerationLock } from '../stores/generation-lock/durable-object.ts';

export function depsFor(c: Context<AppEnv>): GenerationDeps {
  return {
    env: c.env,
    config: c.get('config'),
    log: c.get('log'),
    limiter: rateLimitStore(c),
    limits: c.get('apiKey').limits,
    locks: (contentKey) => durableGenerationLock(c.env, contentKey),
    waitUntil: (promise) => c.executionCtx.waitUntil(promise),
    origin: c.get('config').publicOrigin,
    requestId: c.get('requestId'),
  };
}
