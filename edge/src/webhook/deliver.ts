// Webhook deliveries: the terminal job as JSON, signed like Stripe's scheme so receivers can
// check freshness: `Star-Signature: t=<unix>,v1=<hex HMAC-SHA256(whsec, t + "." + body)>`, where
// whsec = "whsec_" + hex(HMAC-SHA256(API key, "star-api webhook v1")) is derivable by the key's owner.
import { hmacSha256Hex } from '../crypto.ts';
import { checkWebhookTarget } from './target.ts';

export const SIGNATURE_HEADER = 'Star-Signature';

export async function webhookSignature(secret: string, timestamp: number, body: string): Promise<string> {
  return `t=${timestamp},v1=${await hmacSha256Hex(secret, `${timestamp}.${body}`)}`;
}

export type DeliveryResult = { delivered: true } | { delivered: false; retryable: boolean; reason: string };

export async function deliverWebhook(
  target: string,
  secret: string,
  eventId: string,
  body: string,
  allowPrivate: boolean,
  timeoutMs = 10_000,
): Promise<DeliveryResult> {
  const verdict = checkWebhookTarget(target, allowPrivate);
  if (!verdict.ok) return { delivered: false, retryable: false, reason: verdict.reason };
  const timestamp = Math.floor(Date.now() / 1000);
  try {
    const response = await fetch(verdict.url, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'User-Agent': 'star-api-webhooks/1',
        'Star-Webhook-Id': eventId,
        [SIGNATURE_HEADER]: await webhookSignature(secret, timestamp, body),
      },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel();
    if (response.ok) return { delivered: true };
    return {
      delivered: false,
      retryable: response.status >= 500 || response.status === 429 || response.status === 408,
      reason: `status ${response.status}`,
    };
  } catch (error) {
    return { delivered: false, retryable: true, reason: error instanceof Error ? error.message : 'fetch failed' };
  }
}
