// What an isolate remembers between requests for a while (API-key records, stored images' metadata):
// entries expire after their TTL, and past `maxEntries` the oldest written goes first. Module state in
// a Worker lives as long as its isolate, so each cache is per isolate, never shared or persisted.
export class IsolateCache<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();
  private readonly maxEntries: number;

  constructor(maxEntries = 10_000) {
    this.maxEntries = maxEntries;
  }

  get(key: string, now = Date.now()): V | undefined {
    const entry = this.entries.get(key);
    if (entry && now < entry.until) return entry.value;
    this.entries.delete(key);
    return undefined;
  }

  set(key: string, value: V, ttlMs: number, now = Date.now()): void {
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value ?? '');
    this.entries.set(key, { value, until: now + ttlMs });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}
