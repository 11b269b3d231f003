// The rate-limit store: one per API key. Adapters: Durable Object (production, tests in workerd).
import type { Limits } from '../../keys/record.ts';
import type { Decision, LeaseDecision, LimitStatus } from './token-bucket.ts';

export interface RateLimitStore {
  consumeRequest(limits: Limits): Promise<Decision>;
  acquire(limits: Limits, images: number, leaseMs: number): Promise<LeaseDecision>;
  release(limits: Limits, leaseId: string, used: number): Promise<LimitStatus>;
}
