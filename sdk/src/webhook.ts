// Verifying a webhook delivery (the edge's scheme, edge/src/webhook/deliver.ts):
// `Star-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(key = UTF-8 of whsec, message = t + "." + raw body)>`.
import { constantTimeEqual, hmacSha256, utf8 } from './core/crypto.ts';
import { WebhookVerificationError } from './core/errors.ts';
import { toHex } from './core/random.ts';
import type { Job } from './types.ts';

export const webhookSignatureHeader = 'Star-Signature';
/** Deliveries older or newer than this many seconds are refused by default (replays, clock skew). */
export const defaultWebhookTolerance = 300;

/** Fetch `Headers`, or a plain object such as Node's `req.headers` (names in any case). */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

export interface VerifyWebhookOptions {
  /** Seconds a delivery's timestamp may differ from now. Default 300. */
  tolerance?: number;
  /** The current time, unix seconds. For tests. */
  now?: number;
}

function headerValue(headers: WebhookHeaders, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const key = Object.keys(headers).find((candidate) => candidate.toLowerCase() === name.toLowerCase());
  const value = key === undefined ? undefined : headers[key];
  return Array.isArray(value) ? value.join(',') : value;
}

/**
 * Checks that a webhook delivery comes from star-api and is fresh, and returns the job it
 * carries. Pass the raw body exactly as received (not re-serialised JSON), the request's
 * headers and the key's webhook secret (`whsec_…`). Throws WebhookVerificationError otherwise.
 *
 * @example
 * ```ts
 * app.post('/hook', express.raw({ type: 'application/json' }), async (req, res) => {
 *   const job = await verifyWebhook(req.body, req.headers, process.env.STAR_WEBHOOK_SECRET!);
 *   console.log(job.id, job.status);
 *   res.sendStatus(204);
 * });
 * ```
 */
export async function verifyWebhook(
  body: string | Uint8Array,
  headers: WebhookHeaders,
  secret: string,
  options: VerifyWebhookOptions = {},
): Promise<Job> {
  const header = headerValue(headers, webhookSignatureHeader);
  if (!header) throw new WebhookVerificationError(`No ${webhookSignatureHeader} header`);
  const fields = header.split(',').map((part) => part.trim().split('='));
  const timestamp = fields.find(([name]) => name === 't')?.[1] ?? '';
  const signatures = fields.filter(([name, value]) => name === 'v1' && value !== undefined).map(([, value]) => value);
  if (!/^\d{1,12}$/.test(timestamp) || signatures.length === 0)
    throw new WebhookVerificationError(`Malformed ${webhookSignatureHeader} header`);

  const now = options.now ?? Math.floor(Date.now() / 1000);
  const tolerance = options.tolerance ?? defaultWebhookTolerance;
  if (Math.abs(now - Number(timestamp)) > tolerance)
    throw new WebhookVerificationError(`The delivery's timestamp is more than ${tolerance} s from now`);

  const raw = typeof body === 'string' ? utf8(body) : body;
  const prefix = utf8(`${timestamp}.`);
  const message = new Uint8Array(prefix.length + raw.length);
  message.set(prefix);
  message.set(raw, prefix.length);
  const expected = toHex(await hmacSha256(utf8(secret), message));
  // Every v1 entry is compared (none short-circuits), so the time taken says nothing about which matched.
  const matched = signatures.map((signature) => constantTimeEqual(signature, expected)).includes(true);
  if (!matched) throw new WebhookVerificationError('The signature does not match (wrong secret, or the body was changed)');

  try {
    return JSON.parse(new TextDecoder().decode(raw)) as Job;
  } catch (error) {
    throw new WebhookVerificationError('The signed body is not JSON', { cause: error });
  }
}
