// Helpers for tests that talk to a real running service over loopback.
import assert from 'node:assert/strict';
import {
  FRAMES_CONTENT_TYPE,
  type Frame,
  imageEventSchema,
  type ImageEventBody,
  readFrames,
  resultEventSchema,
  type ResultEventBody,
} from '@star-api/contract';
import { signedHeaders } from '../../src/server/auth.ts';
import { loadConfig } from '../../src/server/config.ts';
import { startService } from '../../src/server/server.ts';
import type { RunningService } from '../../src/server/server.ts';

export const TEST_SECRET = 'test-secret-0123456789abcdef-0123456789';
export const TEST_ENGINE = new URL('./test-engine.ts', import.meta.url).href;
/** Servers whose timing a test must control use the test engine. */
export const TEST_ENGINE_ENV = { ENGINE_MODULE: TEST_ENGINE };
/** Tests about real behaviour run on the real engine (embedded star-tiny, CPU). */
export const ENGINE_ENV: Record<string, string> = {};
export { GENERATE_PATH } from '@star-api/contract';

/** Starts the service in-process on an ephemeral port; waits until it is ready. */
export async function startTestService(env: Record<string, string> = {}): Promise<RunningService> {
  const config = loadConfig({ GPU_SHARED_SECRET: TEST_SECRET, PORT: '0', HOST: '127.0.0.1', ...env });
  const service = await startService(config);
  await service.ready;
  return service;
}

export function generateBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { model: 'star-tiny', prompt: 'a red fox in the snow', seeds: [1234], output_format: 'png', ...overrides };
}

export interface SignedInit {
  headers?: Record<string, string>;
  signal?: AbortSignal;
  secret?: string;
  nowS?: number;
}

export function signedPost(baseUrl: string, path: string, body: unknown, init: SignedInit = {}): Promise<Response> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return fetch(baseUrl + path, {
    method: 'POST',
    body: text,
    signal: init.signal,
    headers: {
      'content-type': 'application/json',
      ...signedHeaders(init.secret ?? TEST_SECRET, 'POST', path, text, init.nowS, init.headers),
    },
  });
}

export function signedGet(baseUrl: string, path: string): Promise<Response> {
  return fetch(baseUrl + path, { headers: signedHeaders(TEST_SECRET, 'GET', path, '') });
}

export interface Answer {
  /** Every frame, in order (image payloads included). */
  frames: Frame[];
  images: (ImageEventBody & { bytes: Buffer })[];
  result?: ResultEventBody;
  error?: { type: string; status: number; detail?: string };
}

/** Reads a whole generation answer (the frames of contract/src/frames.ts), checking each image and result frame against the contract. */
export async function readAnswer(response: Response): Promise<Answer> {
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), FRAMES_CONTENT_TYPE);
  const frames: Frame[] = [];
  for await (const frame of readFrames(response.body!)) frames.push(frame);
  const images = frames
    .filter((frame) => frame.event === 'image')
    .map((frame) => ({ ...imageEventSchema.parse(frame.data), bytes: Buffer.from(frame.payload!) }));
  const result = frames.find((frame) => frame.event === 'result');
  const error = frames.find((frame) => frame.event === 'error');
  return {
    frames,
    images,
    ...(result ? { result: resultEventSchema.parse(result.data) } : {}),
    ...(error ? { error: error.data as Answer['error'] } : {}),
  };
}
