// Token buckets and generation leases for one API key. Pure: time is passed in, so the Durable
// Object adapter and the unit tests drive the same code.
import type { Limits } from '../../keys/record.ts';

export interface Bucket {
  tokens: number;
  /** Last refill, ms since epoch. */
  at: number;
}

export interface Lease {
  images: number;
  expiresAt: number;
}

export interface LimiterSnapshot {
  requests: Bucket | null;
  images: Bucket | null;
  leases: Record<string, Lease>;
}

export interface BucketStatus {
  /** Whole tokens left. */
  remaining: number;
  /** Seconds until the bucket is full again. */
  reset: number;
}

export interface LimitStatus {
  requests: BucketStatus;
  images: BucketStatus;
}

export type Decision =
  | { allowed: true; status: LimitStatus }
  | { allowed: false; status: LimitStatus; retryAfter: number; reason: 'requests' | 'images' | 'concurrency' };

export type LeaseDecision = (Decision & { allowed: true; leaseId: string }) | (Decision & { allowed: false });

function refill(bucket: Bucket | null, capacity: number, windowSeconds: number, now: number): Bucket {
  if (!bucket) return { tokens: capacity, at: now };
  const rate = capacity / (windowSeconds * 1000);
  return { tokens: Math.min(capacity, bucket.tokens + Math.max(0, now - bucket.at) * rate), at: now };
}

function statusOf(bucket: Bucket, capacity: number, windowSeconds: number): BucketStatus {
  const missing = capacity - bucket.tokens;
  return { remaining: Math.floor(bucket.tokens), reset: Math.ceil((missing * windowSeconds) / capacity) };
}

function secondsUntil(bucket: Bucket, cost: number, capacity: number, windowSeconds: number): number {
  return Math.max(1, Math.ceil(((cost - bucket.tokens) * windowSeconds) / capacity));
}

export class KeyLimiter {
  private state: LimiterSnapshot;
  private readonly newId: () => string;

  constructor(snapshot: LimiterSnapshot | undefined, newId: () => string = () => crypto.randomUUID()) {
    this.state = snapshot ?? { requests: null, images: null, leases: {} };
    this.newId = newId;
  }

  snapshot(): LimiterSnapshot {
    return this.state;
  }

  private refillAll(limits: Limits, now: number): { requests: Bucket; images: Bucket } {
    const requests = refill(this.state.requests, limits.requests, limits.window_seconds, now);
    const images = refill(this.state.images, limits.images, limits.window_seconds, now);
    this.state.requests = requests;
    this.state.images = images;
    for (const [id, lease] of Object.entries(this.state.leases)) if (lease.expiresAt <= now) delete this.state.leases[id];
    return { requests, images };
  }

  private status(limits: Limits): LimitStatus {
    return {
      requests: statusOf(this.state.requests!, limits.requests, limits.window_seconds),
      images: statusOf(this.state.images!, limits.images, limits.window_seconds),
    };
  }

  /** One request against the requests bucket. */
  consumeRequest(limits: Limits, now: number): Decision {
    const { requests } = this.refillAll(limits, now);
    if (requests.tokens < 1) {
      return { allowed: false, status: this.status(limits), retryAfter: secondsUntil(requests, 1, limits.requests, limits.window_seconds), reason: 'requests' };
    }
    requests.tokens -= 1;
    return { allowed: true, status: this.status(limits) };
  }

  /** Reserves `images` image tokens and one concurrency slot until released or `leaseMs` passes. */
  acquire(limits: Limits, images: number, leaseMs: number, now: number): LeaseDecision {
    const bucket = this.refillAll(limits, now).images;
    const inFlight = Object.values(this.state.leases).length;
    if (images > limits.images) {
      return { allowed: false, status: this.status(limits), retryAfter: limits.window_seconds, reason: 'images' };
    }
    if (bucket.tokens < images) {
      return { allowed: false, status: this.status(limits), retryAfter: secondsUntil(bucket, images, limits.images, limits.window_seconds), reason: 'images' };
    }
    if (inFlight >= limits.concurrent) {
      const soonest = Math.min(...Object.values(this.state.leases).map((lease) => lease.expiresAt));
      return { allowed: false, status: this.status(limits), retryAfter: Math.min(5, Math.max(1, Math.ceil((soonest - now) / 1000))), reason: 'concurrency' };
    }
    bucket.tokens -= images;
    const leaseId = this.newId();
    this.state.leases[leaseId] = { images, expiresAt: now + leaseMs };
    return { allowed: true, status: this.status(limits), leaseId };
  }

  /** Ends a lease; the images it reserved but did not generate go back into the bucket. */
  release(limits: Limits, leaseId: string, used: number, now: number): LimitStatus {
    const lease = this.state.leases[leaseId];
    const bucket = this.refillAll(limits, now).images;
    if (lease) {
      delete this.state.leases[leaseId];
      const refund = Math.max(0, lease.images - Math.max(0, used));
      bucket.tokens = Math.min(limits.images, bucket.tokens + refund);
    }
    return this.status(limits);
  }

  /** Read-only view for headers. */
  peek(limits: Limits, now: number): LimitStatus {
    this.refillAll(limits, now);
    return this.status(limits);
  }
}
