// Signed render URLs (openapi.yaml, GET /v1/render): canonical query and its HMAC.
import { hmacSha256Hex } from '../crypto.ts';

/**
 * The longest a render URL may live: `exp` at most this far ahead (openapi.yaml's
 * `x-max-lifetime-seconds` on `exp`; test/contract checks they agree). A leaked URL can then be
 * used for a month at most, and a revoked key's URLs die with the key anyway.
 */
export const MAX_RENDER_URL_LIFETIME_S = 30 * 24 * 3600;

/** Every parameter except `sig`, sorted by name (code-unit order), encoded and joined by `&`. */
export function canonicalQuery(params: Iterable<[string, string]>): string {
  return [...params]
    .filter(([name]) => name !== 'sig')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`)
    .join('&');
}

function hexToBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** `sk` is the hex of HMAC-SHA256(API key, "star-api render v1"); its bytes key the signature. */
export function renderSignature(skHex: string, canonical: string): Promise<string> {
  return hmacSha256Hex(hexToBytes(skHex), canonical);
}
