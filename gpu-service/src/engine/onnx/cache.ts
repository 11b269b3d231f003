// Built graphs are cached on disk, keyed by everything that changes their
// bytes (model, config, precision, graph shape, builder version), and reused.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Graph } from './graph.ts';
import { saveModel } from './serialize.ts';

/** Bump when graph-building code changes in a way the key would not see. */
export const BUILDER_VERSION = 1;

export function defaultCacheDir(): string {
  return resolve(process.env.STAR_CACHE_DIR ?? join(import.meta.dirname, '../../../../.cache/graphs'));
}

export interface CachedModel {
  modelPath: string;
  hit: boolean;
}

/**
 * Returns the path of the cached model for `key`, building and saving it with
 * `build` first when absent. `key` must describe everything the graph depends on.
 */
export function cachedModel(key: Record<string, unknown>, build: () => Graph, cacheDir = defaultCacheDir()): CachedModel {
  const digest = createHash('sha256').update(JSON.stringify({ ...key, builder: BUILDER_VERSION })).digest('hex').slice(0, 32);
  const dir = join(cacheDir, digest);
  const modelPath = join(dir, 'model.onnx');
  if (existsSync(modelPath)) return { modelPath, hit: true };
  mkdirSync(dir, { recursive: true });
  saveModel(build(), modelPath, { path: join(dir, 'weights.bin') });
  return { modelPath, hit: false };
}
