// What an isolate remembers between requests: gone after its TTL, and bounded, oldest written first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IsolateCache } from '../../src/isolate-cache.ts';

test('an entry is kept until its TTL passes, and can be deleted before', () => {
  const cache = new IsolateCache<string>();
  cache.set('a', 'record', 1_000, 0);
  assert.equal(cache.get('a', 999), 'record');
  assert.equal(cache.get('a', 1_000), undefined);
  cache.set('b', 'record', 1_000, 0);
  cache.delete('b');
  assert.equal(cache.get('b', 1), undefined);
});

test('past its bound the oldest written entry goes first; writing again renews an entry', () => {
  const cache = new IsolateCache<number>(2);
  cache.set('a', 1, 1_000, 0);
  cache.set('b', 2, 1_000, 0);
  cache.set('a', 3, 1_000, 0); // a is now the newest
  cache.set('c', 4, 1_000, 0);
  assert.deepEqual(
    ['a', 'b', 'c'].map((key) => cache.get(key, 1)),
    [3, undefined, 4],
  );
});
