// An API key's record by key id, as KV holds it (the bearer middleware and render URLs both read it).
import type { Bindings } from '../env.ts';
import { kvKeyFor, parseRecord, type ApiKeyRecord } from './record.ts';

/** KV may serve a record up to a minute old at the edge (cacheTtl), so a revocation takes ≤ 60 s. */
export const KEY_CACHE_TTL_S = 60;

export async function lookupKey(env: Bindings, kid: string): Promise<ApiKeyRecord | null> {
  return parseRecord(await env.API_KEYS.get(kvKeyFor(kid), { type: 'json', cacheTtl: KEY_CACHE_TTL_S }));
}
