// The gpu-service client (contract/internal-api.md): signed requests, a deadline,
// JSON or SSE, and every failure mapped to one problem: unreachable 503, timeout 504, anything
// else the service or its bytes get wrong 502.
import {
  GENERATE_PATH,
  generateResponseSchema,
  progressEventSchema,
  queuedEventSchema,
  startedEventSchema,
  type GenerateBody,
  type GenerateResponse,
} from '@star-api/contract';
import type { Config } from '../env.ts';
import type { Logger } from '../log.ts';
import { base64Decode } from '../crypto.ts';
import { signRequest } from './signature.ts';
import type { ImageFormat } from '../generation/formats.ts';
import { ProblemError } from '../problems/index.ts';
import { parseEvents } from '../sse.ts';

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
  timings: GenerateResponse['timings'];
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

function toResult(raw: unknown, request: GpuRequest): GpuResult {
  const parsed = generateResponseSchema.safeParse(raw);
  if (!parsed.success) throw failed('The GPU service returned a malformed response');
  const body = parsed.data;
  if (body.images.length !== request.seeds.length) throw failed('The GPU service returned the wrong number of images');
  const images = body.images.map((image, i) => {
    if (image.seed !== request.seeds[i] || image.format !== request.output_format)
      throw failed('The GPU service returned images that do not match the request');
    let bytes: Uint8Array;
    try {
      bytes = base64Decode(image.b64);
    } catch {
      throw failed('The GPU service returned undecodable image data');
    }
    if (!MAGIC[request.output_format](bytes)) throw failed(`The GPU service returned bytes that are not a ${request.output_format} image`);
    return { seed: image.seed, bytes };
  });
  return { model: body.model, width: body.width, height: body.height, images, timings: body.timings };
}

async function readStream(response: Response, request: GpuRequest, onEvent: (event: GpuEvent) => void): Promise<GpuResult> {
  if (!response.body) throw failed('The GPU service sent an empty stream');
  for await (const message of parseEvents(response.body)) {
    let data: unknown;
    try {
      data = JSON.parse(message.data);
    } catch {
      throw failed('The GPU service sent a malformed event');
    }
    if (message.event === 'result') return toResult(data, request);
    if (message.event === 'error') {
      const status = data && typeof data === 'object' && 'status' in data && typeof data.status === 'number' ? data.status : 500;
      throw problemFromGpu(status, detailOf(data));
    }
    if (message.event === 'queued') {
      const event = queuedEventSchema.safeParse(data);
      if (event.success) onEvent({ type: 'queued', position: event.data.position });
    } else if (message.event === 'started') {
      const event = startedEventSchema.safeParse(data);
      if (event.success) onEvent({ type: 'started', scales: event.data.scales });
    } else if (message.event === 'progress') {
      const event = progressEventSchema.safeParse(data);
      if (event.success) {
        const { scale, scales, side, preview } = event.data;
        onEvent({ type: 'progress', scale, scales, side, ...(preview ? { previewPng: preview.b64 } : {}) });
      }
    }
  }
  throw failed('The GPU service closed the stream without a result');
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
    Accept: options.onEvent ? 'text/event-stream' : 'application/json',
    'X-Request-Deadline-Ms': String(config.gpuTimeoutMs),
  };
  if (options.requestId) headers['X-Request-Id'] = options.requestId;
  const sign = () => signRequest(config.gpuSharedSecret, 'POST', GENERATE_PATH, body, headers);
  try {
    const response = await connect(config.gpuServiceUrl + GENERATE_PATH, { method: 'POST', body, signal }, sign, options.log);
    if (!response.ok) throw await problemFromStatus(response);
    const type = response.headers.get('Content-Type') ?? '';
    if (options.onEvent && type.startsWith('text/event-stream')) return await readStream(response, request, options.onEvent);
    let raw: unknown;
    try {
      raw = await response.json();
    } catch (error) {
      if (signal.aborted) throw error;
      throw failed('The GPU service returned a body that is not JSON');
    }
    return toResult(raw, request);
  } catch (error) {
    if (error instanceof ProblemError) throw error;
    if (options.signal?.aborted) throw options.signal.reason ?? error;
    if (deadline.aborted) throw new ProblemError('gpu_timeout', `The GPU service did not answer within ${config.gpuTimeoutMs} ms`);
    throw failed(`The GPU call failed: ${error instanceof Error ? error.message : 'unknown error'}`);
  }
}
