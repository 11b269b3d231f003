// Token buckets, generation leases and the job queue for one API key. Pure: time is passed in, so
// the Durable Object adapter and the unit tests drive the same code.
import { queueDepth, renderQuota, type Limits } from '../../keys/record.ts';

export interface Bucket {
  tokens: number;
  /** Last refill, ms since epoch. */
  at: number;
}

export interface Lease {
  images: number;
  expiresAt: number;
  /** A job waiting for a slot: it holds its image tokens, not a slot, until promoted (FIFO by `since`). */
  waiting?: Waiting;
}

interface Waiting {
  jobId: string;
  since: number;
  runMs: number;
}

type WaitingLease = Lease & { waiting: Waiting };

export interface LimiterSnapshot {
  requests: Bucket | null;
  images: Bucket | null;
  /** Render-URL generations; absent in snapshots written before it existed. */
  renders?: Bucket | null;
  leases: Record<string, Lease>;
}

/** Which limit refused: the buckets, the concurrency cap (`concurrent`) or the job queue (`queue`). */
export type LimitName = 'requests' | 'images' | 'renders' | 'concurrent' | 'queue';

export type LeaseState = { state: 'running' } | { state: 'waiting'; position: number } | { state: 'gone' };

export interface AcquireOptions {
  /** A job may wait for a slot in the key's queue instead of being refused for concurrency. */
  jobId?: string;
  /** How long a job may wait in the queue before its place lapses. */
  queueMs?: number;
  /** A render-URL view that generates: also takes a `renders` token. */
  render?: boolean;
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
  | { allowed: false; status: LimitStatus; retryAfter: number; reason: LimitName };

/** Request tokens taken by one decision: 0 when refused. */
export type RequestDecision = Decision & { granted: number };

/** `queued`: the lease waits in the key's queue for a slot (jobs only). */
export type LeaseDecision = (Decision & { allowed: true; leaseId: string; queued: boolean }) | (Decision & { allowed: false });

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
  private promoted: string[] = [];

  constructor(snapshot: LimiterSnapshot | undefined, newId: () => string = () => crypto.randomUUID()) {
    this.state = snapshot ?? { requests: null, images: null, leases: {} };
    this.newId = newId;
  }

  snapshot(): LimiterSnapshot {
    return this.state;
  }

  /** Job ids given a slot since the last call: the Durable Object wakes those jobs. */
  takePromoted(): string[] {
    const promoted = this.promoted;
    this.promoted = [];
    return promoted;
  }

  private refillAll(limits: Limits, now: number): { requests: Bucket; images: Bucket; renders: Bucket } {
    const requests = refill(this.state.requests, limits.requests, limits.window_seconds, now);
    const images = refill(this.state.images, limits.images, limits.window_seconds, now);
    const renders = refill(this.state.renders ?? null, renderQuota(limits), limits.window_seconds, now);
    this.state.requests = requests;
    this.state.images = images;
    this.state.renders = renders;
    for (const [id, lease] of Object.entries(this.state.leases)) {
      if (lease.expiresAt > now) continue;
      delete this.state.leases[id];
      // A place in the queue that lapsed never generated anything: its tokens go back.
      if (lease.waiting) images.tokens = Math.min(limits.images, images.tokens + lease.images);
    }
    this.promote(limits, now);
    return { requests, images, renders };
  }

  private running(): Lease[] {
    return Object.values(this.state.leases).filter((lease) => !lease.waiting);
  }

  private queue(): [string, WaitingLease][] {
    return Object.entries(this.state.leases)
      .filter((entry): entry is [string, WaitingLease] => entry[1].waiting !== undefined)
      .sort(([, a], [, b]) => a.waiting.since - b.waiting.since);
  }

  /** Free slots go to waiting jobs first, oldest first, so nothing overtakes the queue. */
  private promote(limits: Limits, now: number): void {
    let free = limits.concurrent - this.running().length;
    for (const [, lease] of this.queue()) {
      if (free <= 0) break;
      this.promoted.push(lease.waiting.jobId);
      lease.expiresAt = now + lease.waiting.runMs;
      delete (lease as Lease).waiting;
      free--;
    }
  }

  /** Called after refillAll, which leaves both buckets set. */
  private status(limits: Limits): LimitStatus {
    const { requests, images } = this.state;
    if (!requests || !images) throw new Error('limiter status read before its buckets were refilled');
    return {
      requests: statusOf(requests, limits.requests, limits.window_seconds),
      images: statusOf(images, limits.images, limits.window_seconds),
    };
  }

  /**
   * Request tokens against the requests bucket: `want` of them, or as many as there are (at least
   * one, else refused). `giveBack` returns tokens an isolate took earlier and did not spend
   * (limits/request-tokens.ts); they go back before anything is taken.
   */
  consumeRequests(limits: Limits, now: number, want = 1, giveBack = 0): RequestDecision {
    const { requests } = this.refillAll(limits, now);
    requests.tokens = Math.min(limits.requests, requests.tokens + Math.max(0, giveBack));
    if (requests.tokens < 1) {
      return {
        allowed: false,
        granted: 0,
        status: this.status(limits),
        retryAfter: secondsUntil(requests, 1, limits.requests, limits.window_seconds),
        reason: 'requests',
      };
    }
    const granted = Math.max(1, Math.min(Math.floor(want), Math.floor(requests.tokens)));
    requests.tokens -= granted;
    return { allowed: true, granted, status: this.status(limits) };
  }

  /**
   * Reserves `images` image tokens and one concurrency slot until released or `leaseMs` passes.
   * With `jobId`, a job that finds every slot taken waits in the key's queue (tokens reserved, no
   * slot) and is promoted when one frees; a full queue refuses it.
   */
  acquire(limits: Limits, images: number, leaseMs: number, now: number, options: AcquireOptions = {}): LeaseDecision {
    const { images: bucket, renders } = this.refillAll(limits, now);
    const refuse = (reason: LimitName, retryAfter: number): LeaseDecision => ({
      allowed: false,
      status: this.status(limits),
      retryAfter,
      reason,
    });
    if (images > limits.images) return refuse('images', limits.window_seconds);
    if (bucket.tokens < images) return refuse('images', secondsUntil(bucket, images, limits.images, limits.window_seconds));
    if (options.render && renders.tokens < 1)
      return refuse('renders', secondsUntil(renders, 1, renderQuota(limits), limits.window_seconds));
    const running = this.running();
    const full = running.length >= limits.concurrent;
    let lease: Lease = { images, expiresAt: now + leaseMs };
    if (full) {
      const soonest = Math.min(...running.map((held) => held.expiresAt));
      const retryAfter = Math.min(5, Math.max(1, Math.ceil((soonest - now) / 1000)));
      if (options.jobId === undefined) return refuse('concurrent', retryAfter);
      if (this.queue().length >= queueDepth(limits)) return refuse('queue', retryAfter);
      lease = { images, expiresAt: now + (options.queueMs ?? leaseMs), waiting: { jobId: options.jobId, since: now, runMs: leaseMs } };
    }
    bucket.tokens -= images;
    if (options.render) renders.tokens -= 1;
    const leaseId = this.newId();
    this.state.leases[leaseId] = lease;
    return { allowed: true, status: this.status(limits), leaseId, queued: full };
  }

  /** Whether a lease holds a slot, waits in the queue (1 = next), or is gone (released or lapsed). */
  leaseState(limits: Limits, leaseId: string, now: number): LeaseState {
    this.refillAll(limits, now);
    const lease = this.state.leases[leaseId];
    if (!lease) return { state: 'gone' };
    if (!lease.waiting) return { state: 'running' };
    return { state: 'waiting', position: this.queue().findIndex(([id]) => id === leaseId) + 1 };
  }

  /** Ends a lease (or a place in the queue); the images it reserved but did not generate go back. */
  release(limits: Limits, leaseId: string, used: number, now: number): LimitStatus {
    const lease = this.state.leases[leaseId];
    const bucket = this.refillAll(limits, now).images;
    if (lease) {
      delete this.state.leases[leaseId];
      const refund = Math.max(0, lease.images - Math.max(0, used));
      bucket.tokens = Math.min(limits.images, bucket.tokens + refund);
      this.promote(limits, now);
    }
    return this.status(limits);
  }

  /** Read-only view for headers. */
  peek(limits: Limits, now: number): LimitStatus {
    this.refillAll(limits, now);
    return this.status(limits);
  }
}
