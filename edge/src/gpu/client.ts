// The gpu-service client (contract/internal-api.md): signed requests, a deadline, the answer's
// frames (progress as it comes, each image's bytes as they were encoded), and every failure mapped
// to one problem: unreachable or gone mid-answer 503, timeout 504, anything else the service or its bytes get wrong 502.
import {
  type Frame,
  FrameError,
  FRAMES_CONTENT_TYPE,
  GENERATE_PATH,
  type GenerateBody,
  imageEventSchema,
  progressEventSchema,
  queuedEventSchema,
  readFrames,
  type ResultEventBody,
  resultEventSchema,
  startedEventSchema,
} from '@star-api/contract';
import type { Config } from '../env.ts';
import type { Logger } from '../log.ts';
import { signRequest } from './signature.ts';
import type { ImageFormat } from '../generation/formats.ts';
import { ProblemError } from '../problems/index.ts';

/** The contract's request body, limited to the formats the edge stores and serves. */
export type GpuRequest = GenerateBody & { output_format: ImageFormat };

export type GpuEvent =
  | { type: 'queued'; position: number }
  | { type: 'started'; scales: number }
  | { type: 'progress'; scale: number; scales: number; side: number; previewPng?: string };

export interface GeneratedImage {
  seed: number;
  bytes: Uint8Array;
}

export interface GpuResult {
  model: string;
  width: number;
  height: number;
  images: GeneratedImage[];
  timings: ResultEventBody['timings'];
}

export interface GpuCallOptions {
  signal?: AbortSignal;
  onEvent?: (event: GpuEvent) => void;
  requestId?: string;
  log?: Logger;
}

const DEFAULT_RETRY_AFTER = 5;

const MAGIC: Record<ImageFormat, (b: Uint8Array) => boolean> = {
  png: (b) => b.length > 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47,
  jpeg: (b) => b.length > 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff,
  webp: (b) => b.length > 12 && String.fromCharCode(...b.subarray(0, 4)) === 'RIFF' && String.fromCharCode(...b.subarray(8, 12)) === 'WEBP',
};

function failed(detail: string): ProblemError {
  return new ProblemError('generation_failed', detail);
}

/** A problem body's `detail`, or '' when it has none. */
function detailOf(body: unknown): string {
  return body && typeof body === 'object' && 'detail' in body && typeof body.detail === 'string' ? body.detail : '';
}

async function problemFromStatus(response: Response): Promise<ProblemError> {
  const retryAfter = Number(response.headers.get('Retry-After')) || DEFAULT_RETRY_AFTER;
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    // not JSON: the status decides
  }
  return problemFromGpu(response.status, detailOf(body), retryAfter);
}

function problemFromGpu(status: number, detail: string, retryAfter = DEFAULT_RETRY_AFTER): ProblemError {
  if (status === 503) return new ProblemError('gpu_unavailable', 'The GPU service is busy; retry later', { retryAfter });
  if (status === 504) return new ProblemError('gpu_timeout', 'The GPU service did not finish in time');
  if (status === 404)
    return new ProblemError('model_not_found', 'The GPU service does not serve this model', {
      errors: [{ path: 'model', message: 'not served' }],
    });
  return failed(`The GPU service failed (status ${status}${detail ? `: ${detail}` : ''})`);
}

/** Image i of the answer: the one for seeds[i], in the format asked for, and bytes of that format. */
function imageOf(frame: Frame, request: GpuRequest, i: number): GeneratedImage {
  const image = imageEventSchema.safeParse(frame.data);
  if (!image.success || !frame.payload) throw failed('The GPU service sent a malformed image');
  if (i >= request.seeds.length) throw failed('The GPU service returned the wrong number of images');
  if (image.data.seed !== request.seeds[i] || image.data.format !== request.output_format)
    throw failed('The GPU service returned images that do not match the request');
  if (!MAGIC[request.output_format](frame.payload))
    throw failed(`The GPU service returned bytes that are not a ${request.output_format} image`);
  return { seed: image.data.seed, bytes: frame.payload };
}

function resultOf(data: unknown, request: GpuRequest, images: GeneratedImage[]): GpuResult {
  const result = resultEventSchema.safeParse(data);
  if (!result.success) throw failed('The GPU service returned a malformed result');
  if (images.length !== request.seeds.length) throw failed('The GPU service returned the wrong number of images');
  const { model, width, height, timings } = result.data;
  return { model, width, height, images, timings };
}

/** The progress frames, as events for whoever listens. */
function eventOf(frame: Frame): GpuEvent | null {
  if (frame.event === 'queued') {
    const event = queuedEventSchema.safeParse(frame.data);
    return event.success ? { type: 'queued', position: event.data.position } : null;
  }
  if (frame.event === 'started') {
    const event = startedEventSchema.safeParse(frame.data);
    return event.success ? { type: 'started', scales: event.data.scales } : null;
  }
  if (frame.event === 'progress') {
    const event = progressEventSchema.safeParse(frame.data);
    if (!event.success) return null;
    const { scale, scales, side, previews } = event.data;
    return { type: 'progress', scale, scales, side, ...(previews?.[0] ? { previewPng: previews[0].b64 } : {}) };
  }
  return null;
}

async function readAnswer(body: ReadableStream<Uint8Array>, request: GpuRequest, onEvent?: (event: GpuEvent) => void): Promise<GpuResult> {
  const images: GeneratedImage[] = [];
  try {
    for await (const frame of readFrames(body)) {
      if (frame.event === 'image') images.push(imageOf(frame, request, images.length));
      else if (frame.event === 'result') return resultOf(frame.data, request, images);
      else if (frame.event === 'error') {
        const status =
          frame.data && typeof frame.data === 'object' && 'status' in frame.data && typeof frame.data.status === 'number'
            ? frame.data.status
            : 500;
        throw problemFromGpu(status, detailOf(frame.data));
      } else {
        const event = eventOf(frame);
        if (event) onEvent?.(event);
      }
    }
  } catch (error) {
    if (error instanceof FrameError) throw failed(`The GPU service sent a malformed answer (${error.message})`);
    throw error;
  }
  throw failed('The GPU service ended its answer without a result');
}

/**
 * Sends the request, trying once more when the connection fails before any answer (a pooled
 * socket closed under us): generation is deterministic, so a repeat is safe. Each attempt is
 * signed afresh, since the service accepts a nonce once. Only a second failure means the
 * service is unreachable.
 */
async function connect(
  url: string,
  init: RequestInit & { signal: AbortSignal },
  sign: () => Promise<Record<string, string>>,
  log?: Logger,
): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetch(url, { ...init, headers: await sign() });
    } catch (error) {
      if (init.signal.aborted) throw error;
      log?.warn('gpu-service connection failed', { attempt, error: error instanceof Error ? error.message : String(error) });
      if (attempt === 2)
        throw new ProblemError('gpu_unavailable', 'The GPU service is unreachable; retry later', { retryAfter: DEFAULT_RETRY_AFTER });
    }
  }
}

/** One GPU call. Throws ProblemError on any failure; an abort through `signal` rethrows the abort. */
export async function generateOnGpu(config: Config, request: GpuRequest, options: GpuCallOptions = {}): Promise<GpuResult> {
  const body = JSON.stringify(request);
  const deadline = AbortSignal.timeout(config.gpuTimeoutMs);
  const signal = options.signal ? AbortSignal.any([deadline, options.signal]) : deadline;
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    Accept: FRAMES_CONTENT_TYPE,
    'X-Request-Deadline-Ms': String(config.gpuTimeoutMs),
  };
  if (options.requestId) headers['X-Request-Id'] = options.requestId;
  const sign = () => signRequest(config.gpuSharedSecret, 'POST', GENERATE_PATH, body, headers);
  try {
    const response = await connect(config.gpuServiceUrl + GENERATE_PATH, { method: 'POST', body, signal }, sign, options.log);
    if (!response.ok) throw await problemFromStatus(response);
    const type = response.headers.get('Content-Type') ?? '';
    if (!type.startsWith(FRAMES_CONTENT_TYPE) || !response.body) {
      await response.body?.cancel();
      throw failed(`The GPU service answered ${type || 'without a type'}, not its frames`);
    }
    try {
      return await readAnswer(response.body, request, options.onEvent);
    } catch (error) {
      if (error instanceof ProblemError || signal.aborted) throw error;
      // The connection broke mid-answer: the service went away (killed, restarted), as when it cannot be reached.
      throw new ProblemError('gpu_unavailable', 'The GPU service went away mid-answer; retry later', { retryAfter: DEFAULT_RETRY_AFTER });
    }
  } catch (error) {
    if (error instanceof ProblemError) throw error;
    if (options.signal?.aborted) throw options.signal.reason ?? error;
    if (deadline.aborted) throw new ProblemError('gpu_timeout', `The GPU service did not answer within ${config.gpuTimeoutMs} ms`);
    throw failed(`The GPU call failed: ${error instanceof Error ? error.message : 'unknown error'}`);
  }
}
