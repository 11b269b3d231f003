// Delivery of one job's webhook over time: the attempts so far and when the next is due. A 2xx
// ends it; a retryable failure (408, 429, 5xx, network) waits retryBaseMs · 2^(attempts − 1);
// any other status, or the last attempt, abandons it.
import type { Logger } from '../log.ts';
import { deliverWebhook } from './deliver.ts';

export interface WebhookDelivery {
  url: string;
  secret: string;
  attempts: number;
  /** When the next attempt is due (ms); null until the job ends, and once delivery is over. */
  nextAt: number | null;
  done: boolean;
}

export interface DeliveryPolicy {
  maxAttempts: number;
  retryBaseMs: number;
  allowPrivate: boolean;
}

export function newDelivery(target: { url: string; secret: string }): WebhookDelivery {
  return { ...target, attempts: 0, nextAt: null, done: false };
}

/** When the next attempt is due, or null when none is. */
export function nextAttemptAt(delivery: WebhookDelivery | null): number | null {
  return delivery && !delivery.done ? delivery.nextAt : null;
}

/** One attempt now, then the delivery records its outcome. `eventId` names what is delivered. */
export async function attemptDelivery(
  delivery: WebhookDelivery,
  eventId: string,
  body: string,
  policy: DeliveryPolicy,
  log: Logger,
): Promise<void> {
  delivery.attempts += 1;
  const result = await deliverWebhook(delivery.url, delivery.secret, eventId, body, policy.allowPrivate);
  if (result.delivered) {
    delivery.done = true;
    delivery.nextAt = null;
    log.info('webhook delivered', { attempts: delivery.attempts });
  } else if (!result.retryable || delivery.attempts >= policy.maxAttempts) {
    delivery.done = true;
    delivery.nextAt = null;
    log.warn('webhook abandoned', { attempts: delivery.attempts, reason: result.reason });
  } else {
    delivery.nextAt = Date.now() + policy.retryBaseMs * 2 ** (delivery.attempts - 1);
    log.info('webhook retry scheduled', { attempts: delivery.attempts, reason: result.reason });
  }
}
