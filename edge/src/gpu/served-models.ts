// Which models the gpu-service serves, learned from its open readiness probe (GET /readyz,
// internal-api.md) and kept in the isolate, so GET /v1/models and the create-time model check cost
// no GPU round trip per request. A model the service stops serving drops out within FRESH_MS.
import type { Config } from '../env.ts';
import { READY_PATH, readyResponseSchema } from '@star-api/contract';

/** A ready answer is reused this long. */
const FRESH_MS = 30_000;
const PROBE_TIMEOUT_MS = 3_000;

interface Known {
  /** null until the service has answered ready once. */
  models: ReadonlySet<string> | null;
  /** When the last probe started (until the first ready answer, every request probes). */
  checkedAt: number;
}

/** Per gpu-service URL (one per deployment; tests run several). */
const known = new Map<string, Known>();

async function probe(config: Config, entry: Known): Promise<void> {
  entry.checkedAt = Date.now();
  try {
    const response = await fetch(config.gpuServiceUrl + READY_PATH, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    const parsed = readyResponseSchema.safeParse(response.ok ? await response.json() : null);
    if (!response.ok) await response.body?.cancel();
    // Not ready (loading, draining): keep the last answer, if any, until a ready one comes.
    if (parsed.success) entry.models = new Set(parsed.data.models);
  } catch {
    // unreachable or not JSON: as above
  }
}

/**
 * The ids of the models served, or null when the gpu-service has never answered ready to this
 * isolate (then nobody can say; callers decide). A stale answer is used while probes fail.
 * Each probe is awaited by the request that starts it (Workers may cancel work a finished request
 * left behind, and one request should not wait on another's I/O); while a refresh runs, other
 * requests use the answer already known.
 */
export async function servedModels(config: Config): Promise<ReadonlySet<string> | null> {
  let entry = known.get(config.gpuServiceUrl);
  if (!entry) {
    entry = { models: null, checkedAt: 0 };
    known.set(config.gpuServiceUrl, entry);
  }
  const age = Date.now() - entry.checkedAt;
  if (!entry.models || age >= FRESH_MS) await probe(config, entry);
  return entry.models;
}
