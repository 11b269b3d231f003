// Service-to-service auth (internal-api.md, "Authentication"): HMAC-SHA256 over method, path,
// timestamp, a one-time nonce, every header the service acts on and the body's SHA-256, with a
// shared secret. A nonce is accepted once while its timestamp is.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { canonicalRequest, NONCE_HEADER, NONCE_PATTERN, SIGNATURE_HEADER, TIMESTAMP_HEADER } from '@star-api/contract';
import { NonceCache } from './nonce-cache.ts';
import { problemResponse } from './problem.ts';

export const MAX_CLOCK_SKEW_S = 300;
/** Live nonces remembered at most; at ~100 bytes each, about 10 MB. */
export const DEFAULT_MAX_NONCES = 100_000;

/** Lower-case name → value, for signing headers given as a plain object. */
function headerLookup(headers: Record<string, string>): (name: string) => string | undefined {
  const lower = new Map(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
  return (name) => lower.get(name);
}

/** `v1=<hex>`; exported so tests, the bench and tools sign exactly as the edge does. */
export function requestSignature(
  secret: string,
  request: { method: string; pathWithQuery: string; timestamp: string; nonce: string; header(name: string): string | null | undefined },
  body: Uint8Array | string,
): string {
  const bodySha256Hex = createHash('sha256').update(body).digest('hex');
  return (
    'v1=' +
    createHmac('sha256', secret)
      .update(canonicalRequest({ ...request, bodySha256Hex }))
      .digest('hex')
  );
}

/**
 * `headers` plus the signing headers for a request timestamped now with a fresh nonce; the
 * headers given are the ones sent, so those the service acts on (Accept, the deadline) are signed.
 */
export function signedHeaders(
  secret: string,
  method: string,
  pathWithQuery: string,
  body: Uint8Array | string,
  nowS = Math.floor(Date.now() / 1000),
  headers: Record<string, string> = {},
): Record<string, string> {
  const timestamp = String(nowS);
  const nonce = randomBytes(16).toString('base64url');
  // fetch sends `Accept: */*` when none is set; say so, so that what is signed is what is sent.
  const sent = headerLookup(headers)('accept') === undefined ? { ...headers, accept: '*/*' } : headers;
  const signature = requestSignature(secret, { method, pathWithQuery, timestamp, nonce, header: headerLookup(sent) }, body);
  return { ...sent, [TIMESTAMP_HEADER]: timestamp, [NONCE_HEADER]: nonce, [SIGNATURE_HEADER]: signature };
}

function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  // Length is not secret (always "v1=" + 64 hex); compare equal-length buffers only.
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * Rejects unsigned, badly signed, stale or replayed requests with 401. Reads the body once
 * (bounded earlier by the body limit) to hash it; handlers read it again from Hono's cache.
 * The nonce is recorded only once the signature is good, so forgeries cannot fill the cache.
 */
export function hmacAuth(
  secret: string,
  nowS: () => number = () => Date.now() / 1000,
  nonces = new NonceCache(DEFAULT_MAX_NONCES),
): MiddlewareHandler {
  return async (c, next) => {
    const timestamp = c.req.header(TIMESTAMP_HEADER);
    const nonce = c.req.header(NONCE_HEADER);
    const signature = c.req.header(SIGNATURE_HEADER);
    if (!timestamp || !nonce || !signature)
      return problemResponse('unauthorized', 'missing X-Star-Timestamp, X-Star-Nonce or X-Star-Signature');
    if (!/^\d{1,12}$/.test(timestamp)) return problemResponse('unauthorized', 'malformed X-Star-Timestamp');
    if (!NONCE_PATTERN.test(nonce)) return problemResponse('unauthorized', 'malformed X-Star-Nonce');
    const now = nowS();
    if (Math.abs(now - Number(timestamp)) > MAX_CLOCK_SKEW_S) {
      return problemResponse('unauthorized', `stale X-Star-Timestamp (more than ${MAX_CLOCK_SKEW_S} s from now)`);
    }
    const url = new URL(c.req.url);
    const body = new Uint8Array(await c.req.arrayBuffer());
    const expected = requestSignature(
      secret,
      { method: c.req.method, pathWithQuery: url.pathname + url.search, timestamp, nonce, header: (name) => c.req.header(name) },
      body,
    );
    if (!constantTimeEqual(signature, expected)) return problemResponse('unauthorized', 'bad signature');
    const claim = nonces.claim(nonce, Number(timestamp) + MAX_CLOCK_SKEW_S, now);
    if (claim === 'replayed') return problemResponse('unauthorized', 'replayed X-Star-Nonce');
    if (claim === 'full') return problemResponse('gpu_unavailable', 'too many signed requests in the signature window', { retryAfterS: 1 });
    await next();
  };
}
