import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffMs, isRetryableStatus, maxBackoffMs, retryAfterMs } from './retry.ts';

test('408, 409, 429 and 5xx are retryable; other statuses are not', () => {
  assert.deepEqual(
    [400, 401, 403, 404, 408, 409, 413, 422, 429, 500, 502, 503, 504].filter(isRetryableStatus),
    [408, 409, 429, 500, 502, 503, 504],
  );
});

test('Retry-After: seconds, fractional seconds, HTTP-date, past date, garbage', () => {
  const now = Date.parse('2026-11-23T12:00:00Z');
  const after = (value: string) => retryAfterMs(new Headers({ 'retry-after': value }), now);
  assert.equal(after('7'), 7000);
  assert.equal(after('0.5'), 500);
  assert.equal(after('Mon, 23 Nov 2026 12:00:30 GMT'), 30_000);
  assert.equal(after('Mon, 23 Nov 2026 11:00:00 GMT'), 0);
  assert.equal(after('soon'), undefined);
  assert.equal(retryAfterMs(new Headers(), now), undefined);
});

test('backoff doubles per retry, loses at most 25% to jitter, and is capped', () => {
  assert.deepEqual(
    [1, 2, 3, 4].map((retry) => backoffMs(retry, () => 0)),
    [500, 1000, 2000, 4000],
  );
  assert.deepEqual([1, 2].map((retry) => backoffMs(retry, () => 0.999999)).map(Math.round), [375, 750]);
  assert.equal(
    backoffMs(20, () => 0),
    maxBackoffMs,
  );
});
