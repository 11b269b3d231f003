// GenerationDeps, and the image store, for a request context.
import type { Context } from 'hono';
import type { AppEnv } from '../env.ts';
import { rateLimitStore } from '../middleware/rate-limit/index.ts';
import type { GenerationDeps } from './service.ts';
import type { ImageStore } from '../stores/images/contract.ts';
import { durableGenerationLock } from '../stores/generation-lock/durable-object.ts';
import { cacheR2ImageStore } from '../stores/images/cache-r2.ts';

export function depsFor(c: Context<AppEnv>): GenerationDeps {
  return {
    config: c.get('config'),
    log: c.get('log'),
    limiter: rateLimitStore(c),
    limits: c.get('apiKey').limits,
    locks: (contentKey) => durableGenerationLock(c.env, contentKey),
    images: imageStoreFor(c),
    requestId: c.get('requestId'),
  };
}

export function imageStoreFor(c: Context<AppEnv>): ImageStore {
  return cacheR2ImageStore(c.env, c.get('config').publicOrigin, (promise) => c.executionCtx.waitUntil(promise));
}
