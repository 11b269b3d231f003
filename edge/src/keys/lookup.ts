// An API key's record by key id, as KV holds it (the bearer middleware and render URLs both read it).
// Two caches stand between a request and KV's store: KV's own copy at the edge (cacheTtl) and the
// records this isolate has read, so that a busy key costs no KV read per request. Only records are
// kept, never keys (callers compare the key's hash with the record's); unknown key ids are not.
import type { Bindings } from '../env.ts';
import { kvKeyFor, parseRecord, type ApiKeyRecord } from './record.ts';

/** KV may serve a record up to a minute old at the edge (cacheTtl; 60 s is its minimum). */
export const KEY_CACHE_TTL_S = 60;
/** How long an isolate keeps a record it read, unless KEY_CACHE_SECONDS says otherwise: a revocation
 *  takes effect within KEY_CACHE_TTL_S + that, 70 s by default. */
export const KEY_ISOLATE_CACHE_S = 10;

const MAX_RECORDS = 10_000;
const records = new Map<string, { record: ApiKeyRecord; until: number }>();

export async function lookupKey(env: Bindings, kid: string, isolateSeconds: number): Promise<ApiKeyRecord | null> {
  const now = Date.now();
  const kept = records.get(kid);
  if (kept && now < kept.until) return kept.record;
  records.delete(kid);
  const record = parseRecord(await env.API_KEYS.get(kvKeyFor(kid), { type: 'json', cacheTtl: KEY_CACHE_TTL_S }));
  if (record && isolateSeconds > 0) {
    if (records.size >= MAX_RECORDS) records.delete(records.keys().next().value ?? '');
    records.set(kid, { record, until: now + isolateSeconds * 1000 });
  }
  return record;
}
