import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeFrame, type Frame, FrameError, KEEP_ALIVE, readFrames } from './frames.ts';

/** A body that delivers `bytes` in chunks of `size`, as a network would cut it anywhere. */
function chunked(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.byteLength) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + size));
      offset += size;
    },
  });
}

async function all(body: ReadableStream<Uint8Array>): Promise<Frame[]> {
  const frames: Frame[] = [];
  for await (const frame of readFrames(body)) frames.push(frame);
  return frames;
}

test('frames come back as written, payload bytes exact (newlines included), keep-alives skipped, however the body is cut', async () => {
  const image = Uint8Array.from([0x89, 0x0a, 0x0a, 0, 255, 0x0a]);
  const parts = [encodeFrame('queued', { position: 0 }), KEEP_ALIVE, encodeFrame('image', { seed: 7 }, image), encodeFrame('result', {})];
  const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.byteLength;
  }
  for (const size of [1, 3, 7, bytes.byteLength]) {
    assert.deepEqual(await all(chunked(bytes, size)), [
      { event: 'queued', data: { position: 0 } },
      { event: 'image', data: { seed: 7 }, payload: image },
      { event: 'result', data: {} },
    ]);
  }
});

test('a header that is not JSON, or a body that ends inside a frame, is a FrameError', async () => {
  const utf8 = new TextEncoder();
  await assert.rejects(all(chunked(utf8.encode('{not json\n'), 4)), FrameError);
  await assert.rejects(all(chunked(utf8.encode('{"event":"image","data":{},"bytes":10}\nabc'), 4)), FrameError);
  await assert.rejects(all(chunked(utf8.encode('{"event":"result","data":{}}'), 4)), FrameError);
});
