// RateLimiter: one Durable Object per API key, so every decision for a key is serialised.
// State changes synchronously in memory; the put is not awaited because the output gate holds the
// reply until it is durable.
import { DurableObject } from 'cloudflare:workers';
import type { Bindings } from '../../env.ts';
import type { Limits } from '../../keys/record.ts';
import type { RateLimitStore } from './contract.ts';
import { KeyLimiter, type Decision, type LeaseDecision, type LimitStatus, type LimiterSnapshot } from './token-bucket.ts';

export class RateLimiter extends DurableObject<Bindings> {
  private limiter = new KeyLimiter(undefined);

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      this.limiter = new KeyLimiter(await ctx.storage.get<LimiterSnapshot>('state'));
    });
  }

  private persist(): void {
    void this.ctx.storage.put('state', this.limiter.snapshot());
  }

  consumeRequest(limits: Limits): Decision {
    const decision = this.limiter.consumeRequest(limits, Date.now());
    this.persist();
    return decision;
  }

  acquire(limits: Limits, images: number, leaseMs: number): LeaseDecision {
    const decision = this.limiter.acquire(limits, images, leaseMs, Date.now());
    this.persist();
    return decision;
  }

  release(limits: Limits, leaseId: string, used: number): LimitStatus {
    const status = this.limiter.release(limits, leaseId, used, Date.now());
    this.persist();
    return status;
  }
}

export function durableRateLimitStore(env: Bindings, kid: string): RateLimitStore {
  const stub = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(kid));
  return {
    consumeRequest: (limits) => stub.consumeRequest(limits),
    acquire: (limits, images, leaseMs) => stub.acquire(limits, images, leaseMs),
    release: (limits, leaseId, used) => stub.release(limits, leaseId, used),
  };
}
