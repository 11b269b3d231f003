// SSE fan-out for one job, outside workerd: replay after Last-Event-ID, then live events, in order;
// keepalives while waiting; every subscriber closed by the terminal event; an expanded event
// expanded once however many subscribers read it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventFanOut } from '../../src/jobs/event-fan-out.ts';
import { parseEvents } from '../helpers/sse.ts';
import type { StoredEvent } from '../../src/jobs/contract.ts';

const event = (id: number, name: StoredEvent['event'], data: unknown, expand = false): StoredEvent => ({
  id,
  event: name,
  data: JSON.stringify(data),
  ...(expand ? { expand } : {}),
});

async function readAll(stream: ReadableStream<Uint8Array>): Promise<{ id?: string; event: string; data: string }[]> {
  const events = [];
  for await (const message of parseEvents(stream)) events.push(message);
  return events;
}

test('a subscriber gets the events after its Last-Event-ID, then live ones, and is closed by the terminal event', async () => {
  const fanOut = new EventFanOut(async (data) => data);
  const history = [event(1, 'queued', {}), event(2, 'started', {}), event(3, 'progress', { scale: 1 })];
  const stream = fanOut.subscribe(history, 1, false);
  fanOut.publish(event(4, 'progress', { scale: 2 }));
  fanOut.publish(event(5, 'completed', { done: true }));
  const received = await readAll(stream);
  assert.deepEqual(
    received.map((message) => [message.id, message.event]),
    [
      ['2', 'started'],
      ['3', 'progress'],
      ['4', 'progress'],
      ['5', 'completed'],
    ],
  );
  assert.deepEqual(JSON.parse(received[3].data), { done: true });
});

test('a subscriber to an ended job gets the replay and the stream ends, without waiting for anything live', async () => {
  const fanOut = new EventFanOut(async (data) => data);
  const history = [event(1, 'queued', {}), event(2, 'failed', { reason: 'x' })];
  const received = await readAll(fanOut.subscribe(history, 0, true));
  assert.deepEqual(
    received.map((message) => message.event),
    ['queued', 'failed'],
  );
});

test('an expanded event is expanded once for every subscriber, and sent in its place in the order', async () => {
  let expansions = 0;
  const fanOut = new EventFanOut(async (data) => {
    expansions++;
    await new Promise((resolve) => setTimeout(resolve, 20)); // slower than the events after it
    return JSON.stringify({ ...JSON.parse(data), images: 'base64' });
  });
  const first = fanOut.subscribe([], 0, false);
  const second = fanOut.subscribe([], 0, false);
  fanOut.publish(event(1, 'progress', { scale: 6 }));
  fanOut.publish(event(2, 'completed', { job: 'j' }, true));
  const [a, b] = await Promise.all([readAll(first), readAll(second)]);
  assert.equal(expansions, 1);
  for (const received of [a, b]) {
    assert.deepEqual(
      received.map((message) => message.event),
      ['progress', 'completed'],
    );
    assert.deepEqual(JSON.parse(received[1].data), { job: 'j', images: 'base64' });
  }
});

test('a waiting subscriber gets keepalive comments until the job ends', async () => {
  const fanOut = new EventFanOut(async (data) => data, 10);
  const stream = fanOut.subscribe([], 0, false);
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (!text.includes(': keepalive\n\n')) text += decoder.decode((await reader.read()).value);
  fanOut.publish(event(1, 'cancelled', {}));
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value);
  }
  assert.match(text, /id: 1\nevent: cancelled\n/);
});
