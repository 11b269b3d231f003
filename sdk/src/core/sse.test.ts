import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseServerSentEvents, type ServerSentEvent } from './sse.ts';

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
}

async function parse(chunks: Array<string | Uint8Array>): Promise<ServerSentEvent[]> {
  const bytes = chunks.map((chunk) => (typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk));
  const events: ServerSentEvent[] = [];
  for await (const event of parseServerSentEvents(streamOf(bytes))) events.push(event);
  return events;
}

test('parses id, event and data; the event type defaults to message', async () => {
  assert.deepEqual(await parse(['id: 1\nevent: queued\ndata: {"a":1}\n\ndata: plain\n\n']), [
    { id: '1', event: 'queued', data: '{"a":1}' },
    { id: '1', event: 'message', data: 'plain' },
  ]);
});

test('CRLF, CR and LF all end lines, even when CRLF is split across chunks', async () => {
  assert.deepEqual(await parse(['id: 1\r', '\nevent: a\r\ndata: x\r', '\r', '\nid: 2\revent: b\rdata: y\r\r']), [
    { id: '1', event: 'a', data: 'x' },
    { id: '2', event: 'b', data: 'y' },
  ]);
});

test('multi-line data is joined with \\n; comments and unknown fields are ignored', async () => {
  assert.deepEqual(await parse([': keepalive\n\ndata: one\n: between\ndata:two\ndata\nretry: 10\nfoo: bar\n\n']), [
    { id: undefined, event: 'message', data: 'one\ntwo\n' },
  ]);
});

test('an event without data is not dispatched; an unterminated final event is dropped', async () => {
  assert.deepEqual(await parse(['event: lonely\n\nid: 9\n\ndata: complete\n\ndata: cut off']), [
    { id: '9', event: 'message', data: 'complete' },
  ]);
});

test('a UTF-8 character split across chunks survives', async () => {
  const bytes = new TextEncoder().encode('data: 🦊 renard\n\n');
  const cut = 'data: '.length + 2; // inside the 4-byte fox
  assert.deepEqual(await parse([bytes.subarray(0, cut), bytes.subarray(cut)]), [{ id: undefined, event: 'message', data: '🦊 renard' }]);
});

test('any chunking of the bytes gives the same events as one chunk', async () => {
  const text = 'id: 1\r\nevent: progress\r\ndata: {"scale":1}\r\n\r\n: keepalive\n\nid: 2\nevent: completed\ndata: é\ndata: ✓\r\r';
  const bytes = new TextEncoder().encode(text);
  const whole = await parse([bytes]);
  assert.equal(whole.length, 2);
  await fc.assert(
    fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 12 }), async (cuts) => {
      const points = [0, ...cuts.toSorted((a, b) => a - b), bytes.length];
      const chunks = points.slice(1).map((end, i) => bytes.subarray(points[i], end));
      assert.deepEqual(await parse(chunks), whole);
    }),
    { numRuns: 200 },
  );
});

test('stopping early cancels the underlying stream', async () => {
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('data: 1\n\ndata: 2\n\n'));
    },
    cancel() {
      cancelled = true;
    },
  });
  for await (const event of parseServerSentEvents(body)) {
    assert.equal(event.data, '1');
    break;
  }
  assert.equal(cancelled, true);
});
