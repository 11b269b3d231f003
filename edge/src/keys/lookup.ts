// An API key's record by key id, as KV holds it (the bearer middleware and render URLs both read it).
// Two caches stand between a request and KV's store: KV's own copy at the edge (cacheTtl) and the
// records this isolate has read, so that a busy key costs no KV read per request. Only records are
// kept, never keys (callers compare the key's hash with the record's); unknown key ids are not.
import type { Bindings } from '../env.ts';
import { IsolateCache } from '../isolate-cache.ts';
import { kvKeyFor, parseRecord, type ApiKeyRecord } from './record.ts';

/** KV may serve a record up to a minute old at the edge (cacheTtl; 60 s is its minimum). */
export const KEY_CACHE_TTL_S = 60;
/** How long an isolate keeps a record it read, unless KEY_CACHE_SECONDS says otherwise: a revocation
 *  takes effect within KEY_CACHE_TTL_S + that, 70 s by default. */
export const KEY_ISOLATE_CACHE_S = 10;

const records = new IsolateCache<ApiKeyRecord>();

export async function lookupKey(env: Bindings, kid: string, isolateSeconds: number): Promise<ApiKeyRecord | null> {
  const kept = records.get(kid);
  if (kept) return kept;
  const record = parseRecord(await env.API_KEYS.get(kvKeyFor(kid), { type: 'json', cacheTtl: KEY_CACHE_TTL_S }));
  if (record && isolateSeconds > 0) records.set(kid, record, isolateSeconds * 1000);
  return record;
}
