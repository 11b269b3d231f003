// The real Worker in workerd (Miniflare), bundled from edge/src with esbuild, with real KV, R2,
// Durable Objects and Cache API, fresh state per instance. One instance per test file.
import assert from 'node:assert/strict';
import { build } from 'esbuild';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Miniflare, convertV4MiniflareOptions } from 'miniflare';
import { createRecord, generateKey, kvKeyFor, type Limits, type Tier } from '../../src/keys/record.ts';

process.env.CLOUDFLARE_CF_FETCH_ENABLED = 'false';

export const ENTRY = fileURLToPath(new URL('../../src/index.ts', import.meta.url));
export const GPU_SECRET = 'test-gpu-shared-secret';
export const SIGNING_KEY = 'test-url-signing-key';
/** Deliberately not the address the tests call: image URLs must come from this, not the Host header. */
export const PUBLIC_ORIGIN = 'https://images.star-api.test';

let bundled: Promise<string> | null = null;

/** esbuild, as wrangler bundles it: ESM, workerd conditions, cloudflare:* left to the runtime. */
export function bundleWorker(): Promise<string> {
  bundled ??= build({
    entryPoints: [ENTRY],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2024',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['module', 'main'],
    external: ['cloudflare:*'],
    loader: { '.yaml': 'text' }, // wrangler.toml's [[rules]] Text
    write: false,
    logLevel: 'silent',
  }).then((result) => result.outputFiles[0].text);
  return bundled;
}

export interface TestWorker {
  mf: Miniflare;
  origin: string;
  /** What the Worker wrote to its log, one entry per line. */
  logs: string[];
  fetch(path: string, init?: RequestInit): Promise<Response>;
  createKey(options?: { tier?: Tier; limits?: Partial<Limits>; name?: string }): Promise<string>;
  kvPut(key: string, value: string): Promise<void>;
  dispose(): Promise<void>;
}

export interface WorkerOptions {
  gpuUrl: string;
  vars?: Record<string, string>;
  /** Share wrangler's local state (e.g. `<persist-to>/v3`) instead of a fresh, empty one. */
  persistPath?: string;
  /** The API_KEYS namespace id; wrangler's local mode uses the id in wrangler.toml. */
  kvNamespaceId?: string;
}

export async function startWorker(options: WorkerOptions): Promise<TestWorker> {
  const script = await bundleWorker();
  const logs: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'star-edge-'));
  const scriptPath = join(dir, 'worker.js');
  writeFileSync(scriptPath, script);
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      // The Worker's JSON request logs would drown the test report; EDGE_TEST_LOGS=1 shows them.
      // Lines the Worker logs are kept in `logs` (EDGE_TEST_LOGS=1 prints them instead).
      ...(process.env.EDGE_TEST_LOGS ? {} : { handleStructuredLogs: (log: { message: string }) => void logs.push(log.message) }),
      ...(options.persistPath ? { resourcePersistencePath: options.persistPath } : {}),
      workers: [
        {
          name: 'star-api',
          modules: true,
          scriptPath,
          modulesRoot: dir,
          compatibilityDate: '2026-11-01',
          kvNamespaces: { API_KEYS: options.kvNamespaceId ?? 'API_KEYS' },
          r2Buckets: ['IMAGES'],
          durableObjects: {
            RATE_LIMITER: { className: 'RateLimiter', useSQLite: true },
            JOBS: { className: 'Job', useSQLite: true },
            IDEMPOTENCY: { className: 'IdempotencyStore', useSQLite: true },
            GENERATION_LOCKS: { className: 'GenerationLock', useSQLite: true },
          },
          bindings: {
            GPU_SERVICE_URL: options.gpuUrl,
            GPU_SHARED_SECRET: GPU_SECRET,
            URL_SIGNING_KEY: SIGNING_KEY,
            DEFAULT_MODEL: 'star-tiny',
            GPU_TIMEOUT_MS: '5000',
            WEBHOOK_RETRY_BASE_MS: '100',
            WEBHOOK_MAX_ATTEMPTS: '4',
            ALLOW_PRIVATE_WEBHOOKS: 'true',
            PUBLIC_ORIGIN,
            ...options.vars,
          },
        },
      ],
    }),
  );
  const origin = (await mf.ready).origin;
  const kv = await mf.getKVNamespace('API_KEYS');
  return {
    mf,
    origin,
    logs,
    fetch: (path, init) => mf.dispatchFetch(new URL(path, origin), init as never) as unknown as Promise<Response>,
    async createKey({ tier = 'free', limits = {}, name = 'test' } = {}) {
      const key = generateKey();
      const record = await createRecord(key, name, tier);
      record.limits = { ...record.limits, ...limits };
      await kv.put(kvKeyFor(record.kid), JSON.stringify(record));
      return key;
    },
    kvPut: (key, value) => kv.put(key, value),
    async dispose() {
      await mf.dispose();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function bearer(key: string, extra: Record<string, string> = {}): Record<string, string> {
  return { Authorization: `Bearer ${key}`, ...extra };
}

export function jsonPost(key: string, body: unknown, extra: Record<string, string> = {}): RequestInit {
  return { method: 'POST', headers: bearer(key, { 'Content-Type': 'application/json', ...extra }), body: JSON.stringify(body) };
}

/** What the RateLimit header says is left of a limit (`requests`, `images`). */
export function remaining(response: Response, limit: string): number {
  const match = new RegExp(`"${limit}";r=(\\d+);t=(\\d+)`).exec(response.headers.get('RateLimit') ?? '');
  assert.ok(match, `RateLimit header ${response.headers.get('RateLimit')} has ${limit}`);
  return Number(match[1]);
}
