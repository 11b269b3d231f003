// Signed render URLs (openapi.yaml, GET /v1/render), with Web Crypto so the
// same code signs in browsers and in Node.
import { hmacSha256, sha256Hex, utf8 } from './core/crypto.ts';
import { InvalidParamsError } from './core/errors.ts';
import { randomSeed, toHex } from './core/random.ts';
import { maxRenderUrlLifetimeSeconds, renderParameterBounds } from './render-params.gen.ts';
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

type Bounds = {
  type?: string;
  enum?: readonly unknown[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
};

/** Why `value` breaks `bounds` (openapi.yaml's, via render-params.gen.ts), or undefined. */
function violation(value: unknown, bounds: Bounds): string | undefined {
  if (bounds.type === 'string' && typeof value !== 'string') return 'must be a string';
  if (bounds.type === 'boolean' && typeof value !== 'boolean') return 'must be a boolean';
  if ((bounds.type === 'number' || bounds.type === 'integer') && (typeof value !== 'number' || !Number.isFinite(value)))
    return 'must be a number';
  if (bounds.type === 'integer' && !Number.isInteger(value)) return 'must be an integer';
  if (bounds.enum && !bounds.enum.includes(value)) return `must be one of ${bounds.enum.join(', ')}`;
  if (typeof value === 'string') {
    if (bounds.pattern !== undefined && !new RegExp(bounds.pattern).test(value)) return `must match ${bounds.pattern}`;
    // The API counts characters (code points, as JSON Schema does) after NFC normalisation and trimming.
    const length = [...value.normalize('NFC').trim()].length;
    if (bounds.minLength !== undefined && length < bounds.minLength) return `must be at least ${bounds.minLength} characters`;
    if (bounds.maxLength !== undefined && length > bounds.maxLength) return `must be at most ${bounds.maxLength} characters`;
  }
  if (typeof value === 'number') {
    if (bounds.minimum !== undefined && value < bounds.minimum) return `must be ≥ ${bounds.minimum}`;
    if (bounds.maximum !== undefined && value > bounds.maximum) return `must be ≤ ${bounds.maximum}`;
    if (bounds.exclusiveMinimum !== undefined && value <= bounds.exclusiveMinimum) return `must be > ${bounds.exclusiveMinimum}`;
    if (bounds.exclusiveMaximum !== undefined && value >= bounds.exclusiveMaximum) return `must be < ${bounds.exclusiveMaximum}`;
  }
  return undefined;
}

/** Throws InvalidParamsError listing every parameter the API would refuse, and a lifetime it would. */
export function checkRenderParams(params: Record<string, unknown>, lifetimeSeconds: number): void {
  const errors: { path: string; message: string }[] = [];
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined) continue;
    const bounds: Bounds | undefined = (renderParameterBounds as Record<string, Bounds>)[name];
    const message = bounds ? violation(value, bounds) : 'is not a render parameter';
    if (message) errors.push({ path: name, message });
  }
  if (params.prompt === undefined) errors.push({ path: 'prompt', message: 'is required' });
  if (!Number.isFinite(lifetimeSeconds) || lifetimeSeconds <= 0 || lifetimeSeconds > maxRenderUrlLifetimeSeconds) {
    errors.push({ path: 'expiresIn', message: `must be between 1 and ${maxRenderUrlLifetimeSeconds} seconds (30 days)` });
  }
  if (errors.length) throw new InvalidParamsError(errors);
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
