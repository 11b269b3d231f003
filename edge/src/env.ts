// Bindings as wrangler.toml declares them, and the typed configuration read from them once.
import type { RateLimiter } from './stores/rate-limit/durable-object.ts';
import type { Job } from './jobs/durable-object.ts';
import type { IdempotencyStore } from './stores/idempotency/durable-object.ts';
import type { GenerationLock } from './stores/generation-lock/durable-object.ts';
import { KEY_ISOLATE_CACHE_S } from './keys/lookup.ts';
import type { ApiKeyRecord } from './keys/record.ts';
import type { Logger } from './log.ts';
import type { LimitStatus } from './stores/rate-limit/token-bucket.ts';
import { parsePublicOrigin } from './public-origin.ts';

export interface Bindings {
  API_KEYS: KVNamespace;
  IMAGES: R2Bucket;
  RATE_LIMITER: DurableObjectNamespace<RateLimiter>;
  JOBS: DurableObjectNamespace<Job>;
  IDEMPOTENCY: DurableObjectNamespace<IdempotencyStore>;
  GENERATION_LOCKS: DurableObjectNamespace<GenerationLock>;
  GPU_SERVICE_URL: string;
  GPU_SHARED_SECRET: string;
  URL_SIGNING_KEY: string;
  CONTENT_KEY_SECRET?: string;
  DEFAULT_MODEL?: string;
  GPU_TIMEOUT_MS?: string;
  JOB_TTL_SECONDS?: string;
  JOB_QUEUE_SECONDS?: string;
  WEBHOOK_MAX_ATTEMPTS?: string;
  WEBHOOK_RETRY_BASE_MS?: string;
  ALLOW_PRIVATE_WEBHOOKS?: string;
  KEY_CACHE_SECONDS?: string;
  PUBLIC_ORIGIN: string;
}

export interface Config {
  defaultModel: string;
  gpuServiceUrl: string;
  gpuSharedSecret: string;
  contentKeySecret: string;
  gpuTimeoutMs: number;
  jobTtlSeconds: number;
  /** How long a job may wait in its key's queue for a free slot before it fails. */
  jobQueueSeconds: number;
  webhookMaxAttempts: number;
  webhookRetryBaseMs: number;
  allowPrivateWebhooks: boolean;
  /** How long an isolate trusts a key record it read (keys/lookup.ts); 0 reads KV every time. */
  keyCacheSeconds: number;
  /** Scheme, host and port of the public API (`https://api.star-api.dev`): image URLs are built on it, never on the Host header. */
  publicOrigin: string;
}

export class ConfigError extends Error {}

/** An integer setting of at least `min` (1 unless said), or `fallback` when unset. */
function integerSetting(env: Bindings, name: keyof Bindings, fallback: number, min = 1): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new ConfigError(`${name} must be an integer ≥ ${min}`);
  return value;
}

function publicOrigin(env: Bindings): string {
  const origin = parsePublicOrigin(required(env, 'PUBLIC_ORIGIN'));
  if (origin === null) throw new ConfigError('PUBLIC_ORIGIN must be an http(s) origin such as https://api.example.com (no path)');
  return origin;
}

function required(env: Bindings, name: 'GPU_SERVICE_URL' | 'GPU_SHARED_SECRET' | 'URL_SIGNING_KEY' | 'PUBLIC_ORIGIN'): string {
  const value = env[name];
  if (typeof value !== 'string' || value === '') throw new ConfigError(`${name} is not set`);
  return value;
}

const cache = new WeakMap<Bindings, Config>();

/** Reads and validates the configuration; memoised per `env` object (one per isolate). */
export function readConfig(env: Bindings): Config {
  const hit = cache.get(env);
  if (hit) return hit;
  const gpuServiceUrl = required(env, 'GPU_SERVICE_URL').replace(/\/+$/, '');
  if (!/^https?:\/\//.test(gpuServiceUrl)) throw new ConfigError('GPU_SERVICE_URL must be an http(s) URL');
  const config: Config = {
    defaultModel: env.DEFAULT_MODEL || 'star-tiny',
    gpuServiceUrl,
    gpuSharedSecret: required(env, 'GPU_SHARED_SECRET'),
    contentKeySecret: env.CONTENT_KEY_SECRET || required(env, 'URL_SIGNING_KEY'),
    gpuTimeoutMs: integerSetting(env, 'GPU_TIMEOUT_MS', 120_000),
    jobTtlSeconds: integerSetting(env, 'JOB_TTL_SECONDS', 86_400),
    jobQueueSeconds: integerSetting(env, 'JOB_QUEUE_SECONDS', 900),
    webhookMaxAttempts: integerSetting(env, 'WEBHOOK_MAX_ATTEMPTS', 5),
    webhookRetryBaseMs: integerSetting(env, 'WEBHOOK_RETRY_BASE_MS', 2_000),
    allowPrivateWebhooks: env.ALLOW_PRIVATE_WEBHOOKS === 'true',
    keyCacheSeconds: integerSetting(env, 'KEY_CACHE_SECONDS', KEY_ISOLATE_CACHE_S, 0),
    publicOrigin: publicOrigin(env),
  };
  cache.set(env, config);
  return config;
}

export interface Variables {
  requestId: string;
  config: Config;
  log: Logger;
  apiKey: ApiKeyRecord;
  rateLimit: LimitStatus;
}

export interface AppEnv {
  Bindings: Bindings;
  Variables: Variables;
}
