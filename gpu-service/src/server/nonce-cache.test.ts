import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NonceCache } from './nonce-cache.ts';

test('a nonce is accepted once while it is live, and again after it expires', () => {
  const cache = new NonceCache(10);
  assert.equal(cache.claim('a', 1300, 1000), 'fresh');
  assert.equal(cache.claim('a', 1300, 1200), 'replayed');
  assert.equal(cache.claim('b', 1300, 1200), 'fresh');
  assert.equal(cache.claim('a', 1700, 1301), 'fresh', 'its request would be stale by now anyway');
});

test('memory is bounded: expired nonces are dropped, and a cache full of live ones refuses rather than forgets', () => {
  const cache = new NonceCache(3);
  for (const nonce of ['a', 'b', 'c']) assert.equal(cache.claim(nonce, 1100, 1000), 'fresh');
  assert.equal(cache.claim('d', 1100, 1000), 'full');
  assert.equal(cache.claim('a', 1100, 1000), 'replayed', 'a refused new nonce did not evict a live one');
  assert.equal(cache.claim('d', 1200, 1101), 'fresh');
  assert.equal(cache.size, 1);
});

test('a full sweep finds expired entries behind a live one', () => {
  const cache = new NonceCache(3);
  cache.claim('late', 2000, 1000); // a timestamp from a clock running ahead
  cache.claim('b', 1100, 1000);
  cache.claim('c', 1100, 1000);
  assert.equal(cache.claim('d', 1200, 1101), 'fresh');
  assert.equal(cache.claim('late', 2000, 1101), 'replayed');
  assert.equal(cache.size, 2);
});
