// Built graphs are cached on disk, keyed by everything that changes their
// bytes (model, config, precision, graph shape, builder version), and reused.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Graph } from './graph.ts';
import { saveModel } from './serialize.ts';
import { POOL_FILE, WeightPool } from './weight-pool.ts';

/** Bump when graph-building code changes in a way the key would not see. */
export const BUILDER_VERSION = 11;

export function defaultCacheDir(): string {
  return resolve(process.env.STAR_CACHE_DIR ?? join(import.meta.dirname, '../../../../.cache/graphs'));
}

export interface CachedModel {
  modelPath: string;
  hit: boolean;
}

export interface CacheOptions {
  /**
   * Graphs built with the same pool name store their large tensors once, in
   * a shared weight pool (weight-pool.ts), e.g. every graph of one model.
   */
  pool?: string;
}

/**
 * Returns the path of the cached model for `key`, building and saving it with
 * `build` first when absent. `key` must describe everything the graph depends on.
 */
export function cachedModel(
  key: Record<string, unknown>,
  build: () => Graph,
  cacheDir = defaultCacheDir(),
  options: CacheOptions = {},
): CachedModel {
  const digestInput = options.pool ? { ...key, builder: BUILDER_VERSION, pool: options.pool } : { ...key, builder: BUILDER_VERSION };
  const digest = createHash('sha256').update(JSON.stringify(digestInput)).digest('hex').slice(0, 32);
  if (options.pool)
    return cachedPooledModel(digest, build, join(cacheDir, 'pools', createHash('sha256').update(options.pool).digest('hex').slice(0, 32)));
  const dir = join(cacheDir, digest);
  const modelPath = join(dir, 'model.onnx');
  if (existsSync(modelPath)) return { modelPath, hit: true };
  mkdirSync(dir, { recursive: true });
  saveModel(build(), modelPath, { path: join(dir, 'weights.bin') });
  return { modelPath, hit: false };
}

/**
 * Pooled graphs live in the pool's folder beside its weights file
 * (onnxruntime only reads external data from the model's own folder).
 */
function cachedPooledModel(digest: string, build: () => Graph, poolDir: string): CachedModel {
  const modelPath = join(poolDir, `${digest}.onnx`);
  if (existsSync(modelPath)) return { modelPath, hit: true };
  const pool = WeightPool.open(poolDir);
  try {
    if (existsSync(modelPath)) return { modelPath, hit: true }; // built by another process while we waited
    saveModel(build(), modelPath, {
      path: join(poolDir, `${digest}.own.bin`),
      place: (raw) => ({ location: POOL_FILE, offset: pool.place(raw) }),
    });
  } finally {
    pool.close();
  }
  return { modelPath, hit: false };
}
