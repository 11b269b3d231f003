// The framing of the gpu-service's answer to a generation: a stream of frames, so that progress
// arrives as it happens and images as their own bytes, never base64 inside JSON.
//
//   frame   = header "\n" payload?
//   header  = {"event": <name>, "data": <JSON>, "bytes": <payload length>}   one line of JSON;
//             `bytes` only when a payload follows, that many raw bytes right after the newline
//   "\n" on its own is a keep-alive, skipped by readers
//
// Written by the gpu-service (Node), read by the edge (workerd): web streams and TextEncoder only.
import { z } from 'zod';

export const FRAMES_CONTENT_TYPE = 'application/x-star-frames';
/** A payload longer than this is a broken stream, not an image. */
export const MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;

export interface Frame {
  event: string;
  data: unknown;
  payload?: Uint8Array;
}

export class FrameError extends Error {
  override name = 'FrameError';
}

const NEWLINE = 0x0a;
const utf8 = new TextEncoder();
export const KEEP_ALIVE = utf8.encode('\n');

const headerSchema = z.object({
  event: z.string().min(1),
  data: z.unknown(),
  bytes: z.number().int().min(0).max(MAX_PAYLOAD_BYTES).optional(),
});

export function encodeFrame(event: string, data: unknown, payload?: Uint8Array): Uint8Array {
  const header = utf8.encode(`${JSON.stringify(payload ? { event, data, bytes: payload.byteLength } : { event, data })}\n`);
  if (!payload) return header;
  const frame = new Uint8Array(header.byteLength + payload.byteLength);
  frame.set(header);
  frame.set(payload, header.byteLength);
  return frame;
}

/** Yields each frame of a body; throws FrameError when a header is not one or the body ends inside a frame. */
export async function* readFrames(body: ReadableStream<Uint8Array>): AsyncGenerator<Frame> {
  const reader = body.getReader();
  const text = new TextDecoder();
  let buffer = new Uint8Array(0);
  const more = async (): Promise<boolean> => {
    const { value, done } = await reader.read();
    if (done) return false;
    const joined = new Uint8Array(buffer.byteLength + value.byteLength);
    joined.set(buffer);
    joined.set(value, buffer.byteLength);
    buffer = joined;
    return true;
  };
  try {
    for (;;) {
      const newline = buffer.indexOf(NEWLINE);
      if (newline < 0) {
        if (await more()) continue;
        if (buffer.byteLength > 0) throw new FrameError('the stream ended inside a frame header');
        return;
      }
      const line = buffer.subarray(0, newline);
      buffer = buffer.subarray(newline + 1);
      if (line.byteLength === 0) continue;
      let header: z.infer<typeof headerSchema>;
      try {
        header = headerSchema.parse(JSON.parse(text.decode(line)));
      } catch {
        throw new FrameError('a frame header is not one');
      }
      if (header.bytes === undefined) {
        yield { event: header.event, data: header.data };
        continue;
      }
      while (buffer.byteLength < header.bytes) if (!(await more())) throw new FrameError('the stream ended inside a frame payload');
      const payload = buffer.slice(0, header.bytes);
      buffer = buffer.subarray(header.bytes);
      yield { event: header.event, data: header.data, payload };
    }
  } finally {
    reader.releaseLock();
  }
}
