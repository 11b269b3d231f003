// The pure limiter the RateLimiter Durable Object wraps: refill, headers, leases, refunds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyLimiter } from '../../src/stores/rate-limit/token-bucket.ts';

const limits = { requests: 60, images: 20, window_seconds: 60, concurrent: 2 };
let ids = 0;
const limiter = () => new KeyLimiter(undefined, () => `lease-${++ids}`);

test('a fresh bucket is full and each request takes one token', () => {
  const l = limiter();
  const first = l.consumeRequests(limits, 0);
  assert.equal(first.allowed, true);
  assert.equal(first.status.requests.remaining, 59);
  assert.equal(first.status.requests.reset, 1, 'one token to refill at 1 token/s');
});

test('an empty bucket refuses with Retry-After until the next token, then refills continuously', () => {
  const l = limiter();
  const tight = { ...limits, requests: 2, window_seconds: 10 };
  assert.equal(l.consumeRequests(tight, 0).allowed, true);
  assert.equal(l.consumeRequests(tight, 0).allowed, true);
  const refused = l.consumeRequests(tight, 0);
  assert.equal(refused.allowed, false);
  assert.equal(refused.allowed === false && refused.retryAfter, 5);
  assert.equal(l.consumeRequests(tight, 4_999).allowed, false);
  assert.equal(l.consumeRequests(tight, 5_000).allowed, true);
});

test('refill never exceeds capacity', () => {
  const l = limiter();
  l.consumeRequests(limits, 0);
  assert.equal(l.consumeRequests(limits, 10 * 60_000).status.requests.remaining, 59);
});

test('leases reserve image tokens and a slot; release refunds what was not generated', () => {
  const l = limiter();
  const a = l.acquire(limits, 4, 60_000, 0);
  assert.equal(a.allowed, true);
  assert.equal(a.status.images.remaining, 16);
  const b = l.acquire(limits, 1, 60_000, 0);
  assert.equal(b.allowed, true);
  const c = l.acquire(limits, 1, 60_000, 0);
  assert.equal(c.allowed === false && c.reason, 'concurrent');
  assert.ok(a.allowed);
  assert.equal(l.release(limits, a.leaseId, 1, 0).images.remaining, 18, '3 of 4 refunded');
  assert.equal(l.release(limits, a.leaseId, 0, 0).images.remaining, 18, 'a second release is a no-op');
  assert.equal(l.acquire(limits, 1, 60_000, 0).allowed, true, 'the slot is free again');
});

test('a job past the concurrent limit waits in the queue holding its tokens, and is promoted FIFO when a slot frees', () => {
  const l = limiter();
  const one = { ...limits, concurrent: 1, queue: 2 };
  const running = l.acquire(one, 1, 60_000, 0, { jobId: 'job-a' });
  assert.ok(running.allowed && !running.queued);
  const b = l.acquire(one, 2, 60_000, 1, { jobId: 'job-b', queueMs: 10_000 });
  const c = l.acquire(one, 1, 60_000, 2, { jobId: 'job-c', queueMs: 10_000 });
  assert.ok(b.allowed && b.queued && c.allowed && c.queued);
  assert.equal(c.status.images.remaining, 16, 'queued jobs hold their image tokens');
  const full = l.acquire(one, 1, 60_000, 3, { jobId: 'job-d' });
  assert.equal(full.allowed === false && full.reason, 'queue');
  const sync = l.acquire(one, 1, 60_000, 3);
  assert.equal(sync.allowed === false && sync.reason, 'concurrent', 'without a job id nothing queues');
  assert.deepEqual(l.leaseState(one, c.leaseId, 4), { state: 'waiting', position: 2 });
  l.takePromoted();
  l.release(one, running.leaseId, 1, 5);
  assert.deepEqual(l.takePromoted(), ['job-b'], 'the oldest waiting job gets the slot');
  assert.deepEqual(l.leaseState(one, b.leaseId, 6), { state: 'running' });
  assert.deepEqual(l.leaseState(one, c.leaseId, 6), { state: 'waiting', position: 1 });
});

test('a place in the queue that lapses is dropped and its tokens return; a released one frees the place', () => {
  const l = limiter();
  const one = { ...limits, concurrent: 1, queue: 1 };
  assert.ok(l.acquire(one, 1, 3_600_000, 0).allowed);
  const waiting = l.acquire(one, 3, 3_600_000, 0, { jobId: 'job-w', queueMs: 1_000 });
  assert.ok(waiting.allowed && waiting.queued);
  assert.equal(l.acquire(one, 1, 3_600_000, 500, { jobId: 'job-x' }).allowed, false);
  assert.deepEqual(l.leaseState(one, waiting.leaseId, 1_000), { state: 'gone' });
  assert.equal(l.peek(one, 1_000).images.remaining, 19, 'the lapsed place refunded its 3 tokens');
  const next = l.acquire(one, 1, 3_600_000, 1_000, { jobId: 'job-y' });
  assert.ok(next.allowed && next.queued);
  l.release(one, next.leaseId, 0, 1_001);
  assert.ok(l.acquire(one, 1, 3_600_000, 1_002, { jobId: 'job-z' }).allowed, 'cancelling frees the place');
});

test('render generations take a token of their own bucket as well as an image token', () => {
  const l = limiter();
  const tight = { ...limits, renders: 1, concurrent: 10 };
  const first = l.acquire(tight, 1, 60_000, 0, { render: true });
  assert.ok(first.allowed);
  const second = l.acquire(tight, 1, 60_000, 0, { render: true });
  assert.equal(second.allowed === false && second.reason, 'renders');
  assert.equal(second.status.images.remaining, 19, 'the refused render took no image token');
  assert.ok(l.acquire(tight, 1, 60_000, 0).allowed, 'API generations do not use the renders bucket');
});

test('a request for more images than the bucket holds is refused, never partially charged', () => {
  const l = limiter();
  const refused = l.acquire({ ...limits, images: 3 }, 4, 60_000, 0);
  assert.equal(refused.allowed, false);
  assert.equal(refused.status.images.remaining, 3);
});

test('expired leases free their slot (a crashed generation cannot hold it forever)', () => {
  const l = limiter();
  const one = { ...limits, concurrent: 1 };
  assert.equal(l.acquire(one, 1, 1_000, 0).allowed, true);
  assert.equal(l.acquire(one, 1, 1_000, 500).allowed, false);
  assert.equal(l.acquire(one, 1, 1_000, 1_000).allowed, true);
});

test('state survives a snapshot round trip (what the Durable Object persists)', () => {
  const l = limiter();
  l.consumeRequests(limits, 0);
  const restored = new KeyLimiter(JSON.parse(JSON.stringify(l.snapshot())));
  assert.equal(restored.consumeRequests(limits, 0).status.requests.remaining, 58);
});

test('property: under any sequence of requests, leases and releases, buckets stay within [0, capacity] and never over-admit', async () => {
  const fc = (await import('fast-check')).default;
  const op = fc.oneof(
    fc.record({ kind: fc.constant('request' as const), dt: fc.integer({ min: 0, max: 5_000 }) }),
    fc.record({ kind: fc.constant('acquire' as const), dt: fc.integer({ min: 0, max: 5_000 }), images: fc.integer({ min: 1, max: 6 }) }),
    fc.record({ kind: fc.constant('release' as const), dt: fc.integer({ min: 0, max: 5_000 }), used: fc.integer({ min: 0, max: 6 }) }),
  );
  const small = { requests: 5, images: 8, window_seconds: 60, concurrent: 2 };
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const l = new KeyLimiter(undefined);
      let now = 0;
      let admittedRequests = 0;
      let chargedImages = 0;
      const open: { id: string; images: number }[] = [];
      for (const step of ops) {
        now += step.dt;
        if (step.kind === 'request') {
          const decision = l.consumeRequests(small, now);
          if (decision.allowed) admittedRequests++;
          assert.ok(decision.status.requests.remaining >= 0 && decision.status.requests.remaining <= small.requests);
        } else if (step.kind === 'acquire') {
          const decision = l.acquire(small, step.images, 3_600_000, now);
          if (decision.allowed) {
            open.push({ id: decision.leaseId, images: step.images });
            chargedImages += step.images;
          }
          assert.ok(open.length <= small.concurrent);
          assert.ok(decision.status.images.remaining >= 0 && decision.status.images.remaining <= small.images);
        } else if (open.length > 0) {
          const lease = open.shift()!;
          const status = l.release(small, lease.id, step.used, now);
          chargedImages -= lease.images - Math.min(lease.images, step.used);
          assert.ok(status.images.remaining >= 0 && status.images.remaining <= small.images);
        }
      }
      // Admissions are bounded by the capacity plus what the elapsed time refilled.
      const refill = (capacity: number) => capacity + Math.floor((now / 1000) * (capacity / small.window_seconds)) + 1;
      assert.ok(admittedRequests <= refill(small.requests));
      assert.ok(chargedImages <= refill(small.images));
    }),
    { numRuns: 300 },
  );
});
