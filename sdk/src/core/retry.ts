// Retry policy: which answers are worth another try, and how long to wait.
// Pure functions so the policy can be read and tested in one place.

/** Backoff doubles from this, with jitter, up to maxBackoffMs. */
export const initialBackoffMs = 500;
export const maxBackoffMs = 8_000;
/** A Retry-After longer than this is not waited for: the error goes to the caller. */
export const maxRetryAfterMs = 60_000;

/** 408, 409 (idempotency key in flight), 429 and 5xx are transient. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/**
 * Milliseconds the server asked us to wait (`Retry-After` as seconds or as
 * an HTTP-date), or undefined when it did not say.
 */
export function retryAfterMs(headers: Headers, now: number): number | undefined {
  const value = headers.get('retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * Capped exponential backoff with jitter for retry number `retry` (1-based):
 * between 75% and 100% of min(max, initial * 2^(retry-1)), so clients that
 * failed together do not retry together.
 */
export function backoffMs(retry: number, random: () => number): number {
  const ceiling = Math.min(maxBackoffMs, initialBackoffMs * 2 ** (retry - 1));
  return ceiling * (1 - 0.25 * random());
}
