// Both ends of a webhook delivery: what the edge's own signing code sends, the SDK's
// verifyWebhook() must accept — and refuse once the body, secret or time is off.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { verifyWebhook, WebhookVerificationError } from '../../sdk/src/index.ts';
import { SIGNATURE_HEADER, webhookSignature } from '../../edge/src/webhook/deliver.ts';
import { webhookSecret } from '../../edge/src/keys/record.ts';

const apiKey = 'sk_contract_webhook_key';
const body = JSON.stringify({ id: 'job_abc123', object: 'job', status: 'succeeded', prompt: 'un renard roux, 雪の中 🦊' });

async function delivery(secret: string, timestamp: number, signedBody = body): Promise<Record<string, string>> {
  return { 'content-type': 'application/json', [SIGNATURE_HEADER.toLowerCase()]: await webhookSignature(secret, timestamp, signedBody) };
}

test('a delivery signed by the edge verifies with the SDK, from a string, bytes or fetch Headers', async () => {
  const secret = await webhookSecret(apiKey);
  const now = Math.floor(Date.now() / 1000);
  const headers = await delivery(secret, now);
  const job = await verifyWebhook(body, headers, secret);
  assert.equal(job.id, 'job_abc123');
  assert.equal(job.status, 'succeeded');
  assert.equal((await verifyWebhook(new TextEncoder().encode(body), new Headers(headers), secret)).id, 'job_abc123');
});

test('a changed body, another secret, a stale or future timestamp, or a missing header is refused', async () => {
  const secret = await webhookSecret(apiKey);
  const now = Math.floor(Date.now() / 1000);
  const refuse = (promise: Promise<unknown>, pattern: RegExp) =>
    assert.rejects(promise, (error: unknown) => error instanceof WebhookVerificationError && pattern.test(error.message));
  await refuse(verifyWebhook(body.replace('succeeded', 'failed'), await delivery(secret, now), secret), /does not match/);
  await refuse(verifyWebhook(body, await delivery(await webhookSecret('sk_other'), now), secret), /does not match/);
  // The verifier's clock is pinned: read from the system, a second ticking between here and
  // there would bring the future delivery within 300 s.
  await refuse(verifyWebhook(body, await delivery(secret, now - 301), secret, { now }), /300 s/);
  await refuse(verifyWebhook(body, await delivery(secret, now + 301), secret, { now }), /300 s/);
  await refuse(verifyWebhook(body, { 'content-type': 'application/json' }, secret), /No Star-Signature/);
  await refuse(verifyWebhook(body, { 'star-signature': 'v1=abc' }, secret), /Malformed/);
  // A wider tolerance, or an explicit clock, accepts the older delivery.
  assert.equal((await verifyWebhook(body, await delivery(secret, now - 301), secret, { tolerance: 600 })).id, 'job_abc123');
  assert.equal((await verifyWebhook(body, await delivery(secret, 1_700_000_000), secret, { now: 1_700_000_010 })).id, 'job_abc123');
});
