// Signed render URLs (openapi.yaml, GET /v1/render), with Web Crypto so the
// same code signs in browsers and in Node.
import { hmacSha256, sha256Hex, utf8 } from './core/crypto.ts';
import { randomSeed, toHex } from './core/random.ts';
import type { RenderParams } from './types.ts';

/** Fixed message that derives the signing key from the API key. */
const signingKeyMessage = 'star-api render v1';

export interface RenderUrlInput {
  apiKey: string;
  baseURL: string;
  params: RenderParams;
  /** Unix seconds. */
  expiresAt: number;
}

export async function signRenderUrl({ apiKey, baseURL, params, expiresAt }: RenderUrlInput): Promise<string> {
  const query: Record<string, string> = {};
  for (const [name, value] of Object.entries({ ...params, seed: params.seed ?? randomSeed() })) {
    if (value !== undefined) query[name] = String(value);
  }
  query.kid = (await sha256Hex(apiKey)).slice(0, 16);
  query.exp = String(Math.floor(expiresAt));
  const canonical = canonicalQuery(query);
  const signingKey = await hmacSha256(utf8(apiKey), utf8(signingKeyMessage));
  const sig = toHex(await hmacSha256(signingKey, utf8(canonical)));
  return `${baseURL}/v1/render?${canonical}&sig=${sig}`;
}

/** Every parameter but `sig`, sorted by name (code-unit order), URI-encoded, joined by `&`. */
export function canonicalQuery(query: Record<string, string>): string {
  return Object.keys(query)
    .filter((name) => name !== 'sig')
    .sort()
    .map((name) => `${encodeURIComponent(name)}=${encodeURIComponent(query[name])}`)
    .join('&');
}
