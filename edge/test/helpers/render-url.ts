// Signed render paths for edge tests, made as openapi.yaml describes with node:crypto
// (independently of the Worker's code, so a test compares the two).
import { createHash, createHmac } from 'node:crypto';

/** `GET /v1/render?…&sig=` for these parameters (`exp` included when the test sets one). */
export function signedPath(apiKey: string, params: Record<string, string>): string {
  const sk = createHmac('sha256', apiKey).update('star-api render v1').digest();
  const all: Record<string, string> = { kid: createHash('sha256').update(apiKey).digest('hex').slice(0, 16), ...params };
  const canonical = Object.keys(all)
    .sort()
    .map((name) => `${encodeURIComponent(name)}=${encodeURIComponent(all[name])}`)
    .join('&');
  const sig = createHmac('sha256', sk).update(canonical).digest('hex');
  return `/v1/render?${new URLSearchParams({ ...all, sig })}`;
}

/** An expiry an hour from now, unix seconds. */
export const future = () => String(Math.floor(Date.now() / 1000) + 3600);
