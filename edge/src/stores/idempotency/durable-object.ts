// IdempotencyStore: one Durable Object per API key, so claims on a key are serialised.
import { DurableObject } from 'cloudflare:workers';
import type { Bindings } from '../../env.ts';
import type { BeginResult, IdempotencyStore as Store } from './contract.ts';

interface Entry {
  fingerprint: string;
  jobId: string | null;
  /** ms: in-flight claims lapse after CLAIM_MS (a crashed request), completed ones with their job. */
  expiresAt: number;
}

const CLAIM_MS = 60_000;

export class IdempotencyStore extends DurableObject<Bindings> {
  private entries = new Map<string, Entry>();

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      for (const [key, entry] of await ctx.storage.list<Entry>()) this.entries.set(key, entry);
    });
  }

  private put(key: string, entry: Entry): void {
    this.entries.set(key, entry);
    void this.ctx.storage.put(key, entry);
  }

  private drop(key: string): void {
    this.entries.delete(key);
    void this.ctx.storage.delete(key);
  }

  begin(key: string, fingerprint: string): BeginResult {
    const now = Date.now();
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt > now) {
      if (entry.fingerprint !== fingerprint) return { state: 'mismatch' };
      return entry.jobId ? { state: 'replay', jobId: entry.jobId } : { state: 'in_flight' };
    }
    this.put(key, { fingerprint, jobId: null, expiresAt: now + CLAIM_MS });
    void this.ctx.storage.setAlarm(now + CLAIM_MS);
    return { state: 'new' };
  }

  complete(key: string, jobId: string, expiresAt: number): void {
    const entry = this.entries.get(key);
    if (entry) this.put(key, { ...entry, jobId, expiresAt });
  }

  abandon(key: string): void {
    const entry = this.entries.get(key);
    if (entry && !entry.jobId) this.drop(key);
  }

  forget(key: string): void {
    this.drop(key);
  }

  /** Sweeps lapsed entries. */
  async alarm(): Promise<void> {
    const now = Date.now();
    let next = Infinity;
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt <= now) this.drop(key);
      else next = Math.min(next, entry.expiresAt);
    }
    if (next !== Infinity) await this.ctx.storage.setAlarm(next);
  }
}

export function durableIdempotencyStore(env: Bindings, kid: string): Store {
  const stub = env.IDEMPOTENCY.get(env.IDEMPOTENCY.idFromName(kid));
  return {
    begin: (key, fingerprint) => stub.begin(key, fingerprint),
    complete: (key, jobId, expiresAt) => stub.complete(key, jobId, expiresAt),
    abandon: (key) => stub.abandon(key),
    forget: (key) => stub.forget(key),
  };
}
