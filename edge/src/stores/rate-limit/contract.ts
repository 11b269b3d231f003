// The rate-limit store: one per API key. Adapters: Durable Object (production, tests in workerd).
import type { Limits } from '../../keys/record.ts';
import type { AcquireOptions, LeaseDecision, LeaseState, LimitStatus, RequestDecision } from './token-bucket.ts';

export interface RateLimitStore {
  /** See KeyLimiter.consumeRequests: `want` tokens (or what is left), after `giveBack` unspent ones. */
  consumeRequests(limits: Limits, want: number, giveBack: number): Promise<RequestDecision>;
  acquire(limits: Limits, images: number, leaseMs: number, options?: AcquireOptions): Promise<LeaseDecision>;
  leaseState(limits: Limits, leaseId: string): Promise<LeaseState>;
  release(limits: Limits, leaseId: string, used: number): Promise<LimitStatus>;
}
