// One generation: per-image cache lookups (Cache API, then R2), a rate-limit lease sized by the
// misses, one GPU call for the misses nobody else is already generating (coalescing), storage of
// every complete image, then the lease is settled: images not generated go back to the bucket.
import type { Bindings, Config } from '../env.ts';
import type { Limits } from '../keys/record.ts';
import type { Logger } from '../log.ts';
import type { RateLimitStore } from '../stores/rate-limit/contract.ts';
import type { LimitStatus } from '../stores/rate-limit/token-bucket.ts';
import { ProblemError } from '../middleware/problem/index.ts';
import { generateOnGpu, type GpuEvent, type GpuResult } from '../gpu/client.ts';
import { cacheImage, cachedImage, findImage, imagePath, metaFromCachedResponse, storeImage, type StoredImage } from '../images/store.ts';
import { contentKey, seedsOf, type GenerationParams } from './params.ts';

export interface Timings {
  queue_ms: number;
  text_ms: number;
  generate_ms: number;
  decode_ms: number;
  encode_ms: number;
  total_ms: number;
}

export interface GenerationOutcome {
  model: string;
  images: StoredImage[];
  timings: Timings;
  /** True when every image came from storage without waiting on any GPU call. */
  cached: boolean;
}

export interface GenerationDeps {
  env: Bindings;
  config: Config;
  log: Logger;
  limiter: RateLimitStore;
  limits: Limits;
  /** Origin used for Cache API keys (the public image URLs). */
  origin: string;
  requestId?: string;
}

export interface GenerationOptions {
  /** b64_json responses need the bytes of cached images too. */
  needBytes: boolean;
  signal?: AbortSignal;
  onEvent?: (event: GpuEvent) => void;
  preview?: boolean;
  /** A lease acquired earlier (jobs reserve at submission); otherwise one is acquired for the misses. */
  leaseId?: string;
  onLimitStatus?: (status: LimitStatus) => void;
}

interface InFlight {
  promise: Promise<{ image: StoredImage; timings: Timings }>;
}

/** Generations in progress in this isolate, by content key: identical concurrent misses share one GPU call. */
const inFlight = new Map<string, InFlight>();

export function inFlightCount(): number {
  return inFlight.size;
}

const ZERO_TIMINGS: Timings = { queue_ms: 0, text_ms: 0, generate_ms: 0, decode_ms: 0, encode_ms: 0, total_ms: 0 };

async function lookup(deps: GenerationDeps, key: string, params: GenerationParams, needBytes: boolean): Promise<StoredImage | null> {
  const url = deps.origin + imagePath(key, params.format);
  const cached = await cachedImage(url);
  if (cached) {
    const meta = metaFromCachedResponse(key, params.format, cached);
    if (meta) {
      if (!needBytes) {
        await cached.body?.cancel();
        return { ...meta, model: params.model };
      }
      return { ...meta, model: params.model, bytes: new Uint8Array(await cached.arrayBuffer()) };
    }
    await cached.body?.cancel();
  }
  const stored = await findImage(deps.env, key, params.format, needBytes);
  return stored ? { ...stored, model: stored.model || params.model } : null;
}

function settle<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {}); // a generation nobody joined must not surface as unhandled
  return { promise, resolve, reject };
}

async function runGpu(deps: GenerationDeps, params: GenerationParams, seeds: number[], keys: string[], options: GenerationOptions): Promise<GpuResult> {
  const result = await generateOnGpu(
    deps.config,
    {
      model: params.model,
      prompt: params.prompt,
      negative_prompt: params.negative_prompt,
      seeds,
      cfg: params.cfg,
      top_k: params.top_k,
      top_p: params.top_p,
      more_smooth: params.more_smooth,
      output_format: params.format,
      preview: options.preview ?? false,
    },
    { signal: options.signal, onEvent: options.onEvent, requestId: deps.requestId },
  );
  // Every image is complete and validated before the first byte is stored.
  await Promise.all(
    result.images.map((image, i) =>
      storeImage(deps.env, { key: keys[i], format: params.format, seed: image.seed, width: result.width, height: result.height, model: params.model, size: image.bytes.byteLength, bytes: image.bytes }),
    ),
  );
  return result;
}

export async function generate(deps: GenerationDeps, params: GenerationParams, options: GenerationOptions): Promise<GenerationOutcome> {
  const started = Date.now();
  const seeds = seedsOf(params);
  const keys = await Promise.all(seeds.map((seed) => contentKey(deps.config.contentKeySecret, params, seed)));
  const found = await Promise.all(keys.map((key) => lookup(deps, key, params, options.needBytes)));
  const missing = found.flatMap((image, i) => (image ? [] : [i]));

  if (missing.length === 0) {
    if (options.leaseId) await release(deps, options, options.leaseId, 0);
    return { model: params.model, images: found as StoredImage[], timings: { ...ZERO_TIMINGS, total_ms: Date.now() - started }, cached: true };
  }

  let leaseId = options.leaseId;
  if (!leaseId) {
    const decision = await deps.limiter.acquire(deps.limits, missing.length, deps.config.gpuTimeoutMs + 60_000);
    options.onLimitStatus?.(decision.status);
    if (!decision.allowed) {
      const detail =
        decision.reason === 'concurrency'
          ? `At most ${deps.limits.concurrent} generations may run at once for this key`
          : `Image limit of ${deps.limits.images} per ${deps.limits.window_seconds} s reached`;
      throw new ProblemError('rate_limited', detail, { retryAfter: decision.retryAfter });
    }
    leaseId = decision.leaseId;
  }

  // Partition synchronously (no await in between) so two requests never both claim a key.
  const own: number[] = [];
  const joined: number[] = [];
  const mine = new Map<number, ReturnType<typeof settle<{ image: StoredImage; timings: Timings }>>>();
  for (const i of missing) {
    if (inFlight.has(keys[i])) {
      joined.push(i);
    } else {
      own.push(i);
      const deferred = settle<{ image: StoredImage; timings: Timings }>();
      mine.set(i, deferred);
      inFlight.set(keys[i], { promise: deferred.promise });
    }
  }
  const waits = joined.map((i) => inFlight.get(keys[i])!.promise);

  let generated = 0;
  let timings: Timings | null = null;
  const images = [...found];
  try {
    if (own.length > 0) {
      try {
        const result = await runGpu(deps, params, own.map((i) => seeds[i]), own.map((i) => keys[i]), options);
        generated = own.length;
        timings = result.timings;
        own.forEach((i, j) => {
          const bytes = result.images[j].bytes;
          const image: StoredImage = { key: keys[i], format: params.format, seed: seeds[i], width: result.width, height: result.height, model: params.model, size: bytes.byteLength, bytes };
          images[i] = options.needBytes ? image : { ...image, bytes: undefined };
          mine.get(i)!.resolve({ image, timings: result.timings });
          void cacheImage(deps.origin + imagePath(keys[i], params.format), image, bytes);
        });
      } catch (error) {
        for (const deferred of mine.values()) deferred.reject(error);
        throw error;
      } finally {
        for (const i of own) inFlight.delete(keys[i]);
      }
    }
    const shared = await Promise.all(waits);
    joined.forEach((i, j) => {
      const { image } = shared[j];
      images[i] = options.needBytes ? image : { ...image, bytes: undefined };
      timings ??= shared[j].timings;
    });
  } finally {
    await release(deps, options, leaseId, generated);
  }
  deps.log.info('generated', { model: params.model, images: params.n, gpu_images: generated, joined: joined.length, cached_images: params.n - missing.length });
  return {
    model: params.model,
    images: images as StoredImage[],
    timings: { ...(timings ?? ZERO_TIMINGS), total_ms: Date.now() - started },
    cached: false,
  };
}

async function release(deps: GenerationDeps, options: GenerationOptions, leaseId: string, used: number): Promise<void> {
  try {
    options.onLimitStatus?.(await deps.limiter.release(deps.limits, leaseId, used));
  } catch (error) {
    // The lease expires on its own; never let bookkeeping hide the generation's own outcome.
    deps.log.warn('lease release failed', { error: error instanceof Error ? error.message : 'unknown' });
  }
}
