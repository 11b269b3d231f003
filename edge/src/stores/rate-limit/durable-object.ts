// RateLimiter: one Durable Object per API key, so every decision for a key is serialised.
// State changes synchronously in memory and is written behind (allowUnconfirmed): the reply does
// not wait for the write. Should the object crash before a write lands, the key's state falls back
// by that one change (a token or slot given back early, or a refund missed); leases also expire on
// their own, so nothing stays stuck. When a slot goes to a queued job, the job is woken at once
// (its own alarm also polls, should the wake-up be lost).
import { DurableObject } from 'cloudflare:workers';
import type { Bindings } from '../../env.ts';
import type { Limits } from '../../keys/record.ts';
import type { RateLimitStore } from './contract.ts';
import {
  KeyLimiter,
  type AcquireOptions,
  type LeaseDecision,
  type LeaseState,
  type LimitStatus,
  type LimiterSnapshot,
  type RequestDecision,
} from './token-bucket.ts';

export class RateLimiter extends DurableObject<Bindings> {
  private limiter = new KeyLimiter(undefined);

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      this.limiter = new KeyLimiter(await ctx.storage.get<LimiterSnapshot>('state'));
    });
  }

  /** Writes the state behind, and wakes the jobs that were just given a slot. */
  private commit(): void {
    void this.ctx.storage.put('state', this.limiter.snapshot(), { allowUnconfirmed: true });
    for (const jobId of this.limiter.takePromoted()) {
      this.ctx.waitUntil(
        this.env.JOBS.get(this.env.JOBS.idFromName(jobId))
          .wake()
          .catch(() => {}),
      );
    }
  }

  consumeRequests(limits: Limits, want: number, giveBack: number): RequestDecision {
    const decision = this.limiter.consumeRequests(limits, Date.now(), want, giveBack);
    this.commit();
    return decision;
  }

  acquire(limits: Limits, images: number, leaseMs: number, options?: AcquireOptions): LeaseDecision {
    const decision = this.limiter.acquire(limits, images, leaseMs, Date.now(), options);
    this.commit();
    return decision;
  }

  leaseState(limits: Limits, leaseId: string): LeaseState {
    const state = this.limiter.leaseState(limits, leaseId, Date.now());
    this.commit();
    return state;
  }

  release(limits: Limits, leaseId: string, used: number): LimitStatus {
    const status = this.limiter.release(limits, leaseId, used, Date.now());
    this.commit();
    return status;
  }
}

export function durableRateLimitStore(env: Bindings, kid: string): RateLimitStore {
  const stub = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(kid));
  return {
    consumeRequests: (limits, want, giveBack) => stub.consumeRequests(limits, want, giveBack),
    acquire: (limits, images, leaseMs, options) => stub.acquire(limits, images, leaseMs, options),
    leaseState: (limits, leaseId) => stub.leaseState(limits, leaseId),
    release: (limits, leaseId, used) => stub.release(limits, leaseId, used),
  };
}
