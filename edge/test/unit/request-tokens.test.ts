// The request tokens an isolate holds for a key: never more requests than the key's bucket, one
// Durable Object call at a time per key, batches ahead only for busy keys, unspent tokens returned.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyLimiter } from '../../src/stores/rate-limit/token-bucket.ts';
import { batchFor, RequestTokens, type TakeRequests } from '../../src/limits/request-tokens.ts';

/** A RateLimiter stand-in: the real limiter behind an asynchronous call, every call recorded. */
function durableObject(limits: { requests: number; window_seconds: number }, now: () => number) {
  const limiter = new KeyLimiter(undefined);
  const full = { images: 10, concurrent: 2, ...limits };
  const calls: { want: number; giveBack: number }[] = [];
  let inFlight = 0;
  let mostInFlight = 0;
  const ask: TakeRequests = async (want, giveBack) => {
    calls.push({ want, giveBack });
    inFlight++;
    mostInFlight = Math.max(mostInFlight, inFlight);
    await new Promise((resolve) => setTimeout(resolve, 1));
    inFlight--;
    return limiter.consumeRequests(full, now(), want, giveBack);
  };
  return { ask, calls, limits: full, mostInFlight: () => mostInFlight, left: () => limiter.peek(full, now()).requests.remaining };
}

test('a burst on a small key is counted exactly, with one call in flight at a time', async () => {
  const clock = 0;
  const dob = durableObject({ requests: 5, window_seconds: 60 }, () => clock);
  const tokens = new RequestTokens({ now: () => clock });
  const decisions = await Promise.all(Array.from({ length: 12 }, () => tokens.take('k', dob.limits, dob.ask)));
  assert.equal(decisions.filter((d) => d.allowed).length, 5);
  assert.equal(dob.mostInFlight(), 1);
  assert.ok(dob.calls.length <= 4, `${dob.calls.length} calls for one burst`);
  const refused = decisions.find((d) => !d.allowed);
  assert.ok(refused && !refused.allowed && refused.reason === 'requests' && refused.retryAfter >= 1);
});

test('a busy key takes a batch ahead, so most requests cost no call', async () => {
  const clock = 0;
  const dob = durableObject({ requests: 100_000, window_seconds: 60 }, () => clock);
  const tokens = new RequestTokens({ now: () => clock });
  for (let i = 0; i < 200; i++) assert.equal((await tokens.take('k', dob.limits, dob.ask)).allowed, true);
  assert.equal(batchFor(dob.limits), 256);
  assert.ok(dob.calls.length <= 12, `${dob.calls.length} calls for 200 requests`);
  assert.equal(dob.left(), 100_000 - dob.calls.reduce((sum, call) => sum + call.want, 0));
});

test('the remaining count a client sees includes the tokens held for it', async () => {
  const clock = 0;
  const dob = durableObject({ requests: 3_200, window_seconds: 60 }, () => clock);
  const tokens = new RequestTokens({ now: () => clock });
  let last = await tokens.take('k', dob.limits, dob.ask);
  for (let i = 0; i < 5; i++) last = await tokens.take('k', dob.limits, dob.ask);
  // Six requests taken in all, whatever the batches were.
  assert.equal(last.status.requests.remaining, 3_200 - 6);
});

test('tokens unspent when they expire go back with the next call', async () => {
  let clock = 0;
  const dob = durableObject({ requests: 3_200, window_seconds: 3_200 }, () => clock);
  const tokens = new RequestTokens({ ttlMs: 1_000, now: () => clock });
  await tokens.take('k', dob.limits, dob.ask); // cold: one token
  await tokens.take('k', dob.limits, dob.ask); // spent before expiry → busy: a batch ahead
  assert.equal(dob.calls.at(-1)?.want, batchFor(dob.limits));
  clock = 1_000; // expired, batch - 1 unspent; no refill in 1 s of a 3,200 s window worth a token
  const next = await tokens.take('k', dob.limits, dob.ask);
  assert.equal(dob.calls.at(-1)?.giveBack, batchFor(dob.limits) - 1);
  assert.equal(dob.calls.at(-1)?.want, 1, 'a key that left tokens unspent is not busy');
  assert.equal(next.status.requests.remaining, 3_200 + 1 - 3);
});

test('keys are held apart, and an isolate forgets the oldest beyond its bound', async () => {
  const clock = 0;
  const a = durableObject({ requests: 1, window_seconds: 60 }, () => clock);
  const b = durableObject({ requests: 1, window_seconds: 60 }, () => clock);
  const tokens = new RequestTokens({ now: () => clock, maxKeys: 1 });
  assert.equal((await tokens.take('a', a.limits, a.ask)).allowed, true);
  assert.equal((await tokens.take('b', b.limits, b.ask)).allowed, true);
  assert.equal((await tokens.take('a', a.limits, a.ask)).allowed, false);
  assert.equal(a.calls.length, 2);
});

test('a lease taken or settled in the isolate refreshes what later answers from held tokens show', async () => {
  const clock = 0;
  const dob = durableObject({ requests: 3_200, window_seconds: 60 }, () => clock);
  const tokens = new RequestTokens({ now: () => clock });
  await tokens.take('k', dob.limits, dob.ask);
  await tokens.take('k', dob.limits, dob.ask); // a batch is held now
  const settled = { requests: { remaining: 3_000, reset: 9 }, images: { remaining: 3, reset: 40 } };
  const shown = tokens.observe('k', settled);
  const held = batchFor(dob.limits) - 1;
  assert.deepEqual(shown, { ...settled, requests: { remaining: 3_000 + held, reset: 9 } });
  const next = await tokens.take('k', dob.limits, dob.ask);
  assert.deepEqual(next.status.images, settled.images);
  assert.equal(next.status.requests.remaining, 3_000 + held - 1);
  assert.deepEqual(tokens.observe('unknown', settled), settled);
});
