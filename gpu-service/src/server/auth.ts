// Service-to-service auth (internal-api.md, "Authentication"): HMAC-SHA256 over
// method, path, timestamp and the body's SHA-256, with a shared secret.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { canonicalRequest } from './contract.ts';
import { problemResponse } from './problem.ts';

export const TIMESTAMP_HEADER = 'x-star-timestamp';
export const SIGNATURE_HEADER = 'x-star-signature';
export const MAX_CLOCK_SKEW_S = 300;

/** `v1=<hex>`; exported so tests, the bench and tools sign exactly as the edge does. */
export function requestSignature(secret: string, method: string, pathWithQuery: string, timestamp: string, body: Uint8Array | string): string {
  const bodyHash = createHash('sha256').update(body).digest('hex');
  return 'v1=' + createHmac('sha256', secret).update(canonicalRequest(method, pathWithQuery, timestamp, bodyHash)).digest('hex');
}

/** Headers for a signed request, timestamped now. */
export function signedHeaders(secret: string, method: string, pathWithQuery: string, body: Uint8Array | string, nowS = Math.floor(Date.now() / 1000)): Record<string, string> {
  const timestamp = String(nowS);
  return {
    [TIMESTAMP_HEADER]: timestamp,
    [SIGNATURE_HEADER]: requestSignature(secret, method, pathWithQuery, timestamp, body),
  };
}

function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  // Length is not secret (always "v1=" + 64 hex); compare equal-length buffers only.
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * Rejects unsigned, badly signed or stale requests with 401. Reads the body once
 * (bounded earlier by the body limit) to hash it; handlers read it again from Hono's cache.
 */
export function hmacAuth(secret: string, nowS: () => number = () => Date.now() / 1000): MiddlewareHandler {
  return async (c, next) => {
    const timestamp = c.req.header(TIMESTAMP_HEADER);
    const signature = c.req.header(SIGNATURE_HEADER);
    if (!timestamp || !signature) return problemResponse('unauthorized', 'missing X-Star-Timestamp or X-Star-Signature');
    if (!/^\d{1,12}$/.test(timestamp)) return problemResponse('unauthorized', 'malformed X-Star-Timestamp');
    if (Math.abs(nowS() - Number(timestamp)) > MAX_CLOCK_SKEW_S) {
      return problemResponse('unauthorized', `stale X-Star-Timestamp (more than ${MAX_CLOCK_SKEW_S} s from now)`);
    }
    const url = new URL(c.req.url);
    const body = new Uint8Array(await c.req.arrayBuffer());
    const expected = requestSignature(secret, c.req.method, url.pathname + url.search, timestamp, body);
    if (!constantTimeEqual(signature, expected)) return problemResponse('unauthorized', 'bad signature');
    await next();
  };
}
