// Request signing for the gpu-service (internal-api.md, "Authentication").
import { canonicalRequest, NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER } from '@star-api/contract';
import { hmacSha256Hex, randomToken, sha256Hex } from '../crypto.ts';

/**
 * `headers` (the ones to send, Accept and the deadline among them) plus a timestamp, a fresh
 * nonce and `v1=hex(HMAC-SHA256(secret, canonicalRequest(...)))` over them and the body.
 */
export async function signRequest(
  secret: string,
  method: string,
  path: string,
  body: string,
  headers: Record<string, string>,
  nowS = Math.floor(Date.now() / 1000),
): Promise<Record<string, string>> {
  const timestamp = String(nowS);
  const nonce = randomToken(16);
  const byName = new Map(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
  const canonical = canonicalRequest({
    method,
    pathWithQuery: path,
    timestamp,
    nonce,
    header: (name) => byName.get(name),
    bodySha256Hex: await sha256Hex(body),
  });
  return {
    ...headers,
    [TIMESTAMP_HEADER]: timestamp,
    [NONCE_HEADER]: nonce,
    [SIGNATURE_HEADER]: `v1=${await hmacSha256Hex(secret, canonical)}`,
  };
}
