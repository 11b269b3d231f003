// Worker entry: the Hono app and the Durable Object classes wrangler.toml binds.
import { createApp } from './app.ts';
import type { Bindings } from './env.ts';

export { RateLimiter } from './stores/rate-limit/durable-object.ts';
export { Job } from './jobs/durable-object.ts';
export { IdempotencyStore } from './stores/idempotency/durable-object.ts';
export { GenerationLock } from './stores/generation-lock/durable-object.ts';

const app = createApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Bindings>;
