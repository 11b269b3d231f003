// API keys: what KV stores for a key (never the key itself) and how it is derived from the key.
import { z } from 'zod';
import { hmacSha256Hex, randomToken, sha256Hex } from '../crypto.ts';

export const limitsSchema = z.object({
  /** Token bucket: `requests` per `window_seconds`, refilled continuously. */
  requests: z.number().int().positive(),
  /** Token bucket of generated images per `window_seconds`. */
  images: z.number().int().positive(),
  window_seconds: z.number().int().positive(),
  /** Generations (GPU calls or jobs) in flight at once. */
  concurrent: z.number().int().positive(),
  /** Jobs that may wait for a free slot beyond `concurrent` (FIFO); absent in older records. */
  queue: z.number().int().nonnegative().optional(),
  /** Render-URL views that generate (cache misses), per `window_seconds`; absent in older records. */
  renders: z.number().int().positive().optional(),
});
export type Limits = z.infer<typeof limitsSchema>;

export const TIERS = {
  free: { requests: 60, images: 20, window_seconds: 60, concurrent: 2, queue: 8, renders: 10 },
  pro: { requests: 600, images: 200, window_seconds: 60, concurrent: 8, queue: 32, renders: 100 },
} as const satisfies Record<string, Limits>;

/** Records written before `queue` and `renders` existed get the free tier's values. */
export function queueDepth(limits: Limits): number {
  return limits.queue ?? TIERS.free.queue;
}

export function renderQuota(limits: Limits): number {
  return limits.renders ?? TIERS.free.renders;
}
export type Tier = keyof typeof TIERS;

export const apiKeyRecordSchema = z.object({
  kid: z.string().regex(/^[0-9a-f]{16}$/),
  /** hex SHA-256 of the key; compared in constant time. */
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  /** Render-URL signing key, hex HMAC-SHA256(key, "star-api render v1"). */
  sk: z.string().regex(/^[0-9a-f]{64}$/),
  /** Webhook signing secret, derivable by the key's owner (see webhooks). */
  whsec: z.string().regex(/^whsec_[0-9a-f]{64}$/),
  name: z.string(),
  tier: z.string(),
  limits: limitsSchema,
  created_at: z.number().int(),
  revoked_at: z.number().int().optional(),
});
export type ApiKeyRecord = z.infer<typeof apiKeyRecordSchema>;

export const KEY_PATTERN = /^sk_[A-Za-z0-9_-]{20,200}$/;
export const RENDER_KEY_CONTEXT = 'star-api render v1';
export const WEBHOOK_KEY_CONTEXT = 'star-api webhook v1';

export function kvKeyFor(kid: string): string {
  return `key:${kid}`;
}

/** The public key id: first 16 hex digits of SHA-256(key). */
export async function keyId(key: string): Promise<string> {
  return (await sha256Hex(key)).slice(0, 16);
}

export async function renderSigningKey(key: string): Promise<string> {
  return hmacSha256Hex(key, RENDER_KEY_CONTEXT);
}

export async function webhookSecret(key: string): Promise<string> {
  return `whsec_${await hmacSha256Hex(key, WEBHOOK_KEY_CONTEXT)}`;
}

export function generateKey(): string {
  return `sk_${randomToken(32)}`;
}

export async function createRecord(key: string, name: string, tier: Tier, now = Date.now()): Promise<ApiKeyRecord> {
  const hash = await sha256Hex(key);
  return {
    kid: hash.slice(0, 16),
    hash,
    sk: await renderSigningKey(key),
    whsec: await webhookSecret(key),
    name,
    tier,
    limits: { ...TIERS[tier] },
    created_at: Math.floor(now / 1000),
  };
}

export function parseRecord(raw: unknown): ApiKeyRecord | null {
  const parsed = apiKeyRecordSchema.safeParse(raw);
  return parsed.success ? parsed.data : null;
}
