// The rate-limit store: one per API key. Adapters: Durable Object (production, tests in workerd).
import type { Limits } from '../../keys/record.ts';
import type { AcquireOptions, Decision, LeaseDecision, LeaseState, LimitStatus } from './token-bucket.ts';

export interface RateLimitStore {
  consumeRequest(limits: Limits): Promise<Decision>;
  acquire(limits: Limits, images: number, leaseMs: number, options?: AcquireOptions): Promise<LeaseDecision>;
  leaseState(limits: Limits, leaseId: string): Promise<LeaseState>;
  release(limits: Limits, leaseId: string, used: number): Promise<LimitStatus>;
}
