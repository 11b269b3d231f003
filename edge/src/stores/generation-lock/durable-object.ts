// GenerationLock: one Durable Object per content key, so identical misses anywhere in the world
// share one GPU call. Claims live in memory only: a lost claim (eviction, crash) just lets the
// next request generate, which is safe because the image for a key never changes.
import { DurableObject } from 'cloudflare:workers';
import type { Bindings } from '../../env.ts';
import type { Claim, GenerationLockStore, Outcome } from './contract.ts';

export class GenerationLock extends DurableObject<Bindings> {
  private owner: string | null = null;
  private expiresAt = 0;
  private waiters = new Set<(outcome: Outcome) => void>();

  claim(owner: string, ttlMs: number): Claim {
    const now = Date.now();
    if (this.owner !== null && this.expiresAt > now) return this.owner === owner ? 'owner' : 'wait';
    this.owner = owner;
    this.expiresAt = now + ttlMs;
    return 'owner';
  }

  wait(timeoutMs: number): Promise<Outcome> {
    if (this.owner === null || this.expiresAt <= Date.now()) return Promise.resolve('failed');
    return new Promise<Outcome>((resolve) => {
      const done = (outcome: Outcome) => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve(outcome);
      };
      const timer = setTimeout(() => done('timeout'), timeoutMs);
      this.waiters.add(done);
    });
  }

  release(owner: string, outcome: 'stored' | 'failed'): void {
    if (this.owner !== owner) return;
    this.owner = null;
    for (const waiter of [...this.waiters]) waiter(outcome);
  }
}

export function durableGenerationLock(env: Bindings, contentKey: string): GenerationLockStore {
  const stub = env.GENERATION_LOCKS.get(env.GENERATION_LOCKS.idFromName(contentKey));
  return {
    claim: (owner, ttlMs) => stub.claim(owner, ttlMs),
    wait: (timeoutMs) => stub.wait(timeoutMs),
    release: (owner, outcome) => stub.release(owner, outcome),
  };
}
