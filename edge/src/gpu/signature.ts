// Request signing for the gpu-service (internal-api.md, "Authentication").
import { canonicalRequest } from '../../../gpu-service/src/server/contract.ts';
import { hmacSha256Hex, sha256Hex } from '../crypto.ts';

/** `v1=hex(HMAC-SHA256(secret, METHOD\nPATH\nTIMESTAMP\nhex(SHA-256(body))))` with the timestamp header. */
export async function signRequest(secret: string, method: string, path: string, body: string, nowS = Math.floor(Date.now() / 1000)): Promise<Record<string, string>> {
  const timestamp = String(nowS);
  const canonical = canonicalRequest(method, path, timestamp, await sha256Hex(body));
  return { 'X-Star-Timestamp': timestamp, 'X-Star-Signature': 'v1=' + (await hmacSha256Hex(secret, canonical)) };
}
