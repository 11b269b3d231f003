// Webhook delivery over time, against a real receiver on loopback: retryable failures back off
// exponentially, a 2xx ends delivery, a final status or the last attempt abandons it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { attemptDelivery, newDelivery, nextAttemptAt } from '../../src/webhook/delivery.ts';
import type { Logger } from '../../src/log.ts';

const silent: Logger = { info: () => {}, warn: () => {}, error: () => {} };
const policy = { maxAttempts: 3, retryBaseMs: 1_000, allowPrivate: true };
/** Statuses the receiver answers next, one per request. */
const answers: number[] = [];
const received: { id: string | undefined; body: string }[] = [];
let server: Server;
let url: string;

before(async () => {
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      received.push({ id: request.headers['star-webhook-id'] as string | undefined, body });
      response.writeHead(answers.shift() ?? 200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

test('a 503 is retried after retryBaseMs, then 2×; a 2xx ends delivery', async () => {
  answers.push(503, 429, 200);
  received.length = 0;
  const delivery = newDelivery({ url, secret: 'whsec_test' });
  delivery.nextAt = Date.now();
  let before = Date.now();
  await attemptDelivery(delivery, 'job_1:succeeded', '{"id":"job_1"}', policy, silent);
  assert.equal(delivery.attempts, 1);
  assert.ok(delivery.nextAt! >= before + 1_000 && delivery.nextAt! <= Date.now() + 1_000);
  before = Date.now();
  await attemptDelivery(delivery, 'job_1:succeeded', '{"id":"job_1"}', policy, silent);
  assert.ok(delivery.nextAt! >= before + 2_000 && delivery.nextAt! <= Date.now() + 2_000);
  await attemptDelivery(delivery, 'job_1:succeeded', '{"id":"job_1"}', policy, silent);
  assert.deepEqual([delivery.attempts, delivery.done, nextAttemptAt(delivery)], [3, true, null]);
  assert.deepEqual(received, Array(3).fill({ id: 'job_1:succeeded', body: '{"id":"job_1"}' }));
});

test('a status that is not retryable abandons delivery at once', async () => {
  answers.push(404);
  const delivery = newDelivery({ url, secret: 'whsec_test' });
  await attemptDelivery(delivery, 'job_2:failed', '{}', policy, silent);
  assert.deepEqual([delivery.attempts, delivery.done, nextAttemptAt(delivery)], [1, true, null]);
});

test('retryable failures stop at the last attempt', async () => {
  answers.push(500, 500, 500);
  const delivery = newDelivery({ url, secret: 'whsec_test' });
  for (let i = 0; i < 3; i++) await attemptDelivery(delivery, 'job_3:failed', '{}', policy, silent);
  assert.deepEqual([delivery.attempts, delivery.done, nextAttemptAt(delivery)], [3, true, null]);
});
