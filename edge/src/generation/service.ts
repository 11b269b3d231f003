// One generation: per-image lookups in the image store; claims on the misses (in this
// isolate, then across isolates) so each is generated once however many ask for it; a rate-limit
// lease sized by what this request must generate; one GPU call for those; storage of every
// complete image; then the lease is settled: images not generated go back to the bucket.
import type { Config } from '../env.ts';
import type { Limits } from '../keys/record.ts';
import type { Logger } from '../log.ts';
import type { RateLimitStore } from '../stores/rate-limit/contract.ts';
import type { LimitStatus } from '../stores/rate-limit/token-bucket.ts';
import type { Claim, GenerationLockStore } from '../stores/generation-lock/contract.ts';
import { ProblemError } from '../problems/index.ts';
import { limitRefused } from '../limits/rate-limit.ts';
import { generateOnGpu, type GpuEvent, type GpuResult } from '../gpu/client.ts';
import type { ImageStore, StoredImage } from '../stores/images/contract.ts';
import type { Timings } from '../schemas.gen.ts';
import { contentKey, type GenerationParams } from './params.ts';
import { assertServed } from '../models.ts';

export interface GenerationOutcome {
  model: string;
  images: StoredImage[];
  timings: Timings;
  /** True when every image came from storage without waiting on any GPU call. */
  cached: boolean;
  /** Images this call generated on the GPU (what a lease it was handed should be settled with). */
  generated: number;
}

export interface GenerationDeps {
  config: Config;
  log: Logger;
  limiter: RateLimitStore;
  limits: Limits;
  /** The cross-isolate claim on one content key. */
  locks: (contentKey: string) => GenerationLockStore;
  images: ImageStore;
  requestId?: string;
}

export interface GenerationOptions {
  /** b64_json responses need the bytes of cached images too. */
  needBytes: boolean;
  signal?: AbortSignal;
  onEvent?: (event: GpuEvent) => void;
  preview?: boolean;
  /** A lease acquired earlier (jobs reserve at submission; the caller settles it with `generated`);
   *  otherwise one is acquired for the misses and settled here. */
  leaseId?: string;
  onLimitStatus?: (status: LimitStatus) => void;
  /** A render-URL view: a miss also takes a token of the key's `renders` limit. */
  render?: boolean;
}

type Shared = { image: StoredImage; timings: Timings };

/**
 * Generations in progress in this isolate, by content key. Identical concurrent misses in one
 * isolate share a promise without any round trip; across isolates the GenerationLock Durable
 * Object makes the others wait for the one that claimed the key first.
 */
const inFlight = new Map<string, Promise<Shared>>();

const ZERO_TIMINGS: Timings = { queue_ms: 0, text_ms: 0, generate_ms: 0, decode_ms: 0, encode_ms: 0, total_ms: 0 };

async function lookup(deps: GenerationDeps, key: string, params: GenerationParams, needBytes: boolean): Promise<StoredImage | null> {
  const stored = await deps.images.find(key, params.output_format, needBytes);
  return stored ? { ...stored, model: stored.model || params.model } : null;
}

function settle(): PromiseWithResolvers<Shared> {
  const deferred = Promise.withResolvers<Shared>();
  deferred.promise.catch(() => {}); // a generation nobody joined must not surface as unhandled
  return deferred;
}

async function runGpu(
  deps: GenerationDeps,
  params: GenerationParams,
  seeds: number[],
  keys: string[],
  options: GenerationOptions,
): Promise<GpuResult> {
  // The owner only keys the cache; the GPU gets the rest as it is, for the seeds not found stored.
  const { owner: _owner, ...request } = params;
  const result = await generateOnGpu(
    deps.config,
    { ...request, seeds, preview: options.preview ?? false },
    { signal: options.signal, onEvent: options.onEvent, requestId: deps.requestId, log: deps.log },
  );
  // Every image is complete and validated before the first byte is stored.
  await deps.images.put(
    result.images.map((image, i) => ({
      key: keys[i],
      format: params.output_format,
      seed: image.seed,
      width: result.width,
      height: result.height,
      model: params.model,
      size: image.bytes.byteLength,
      bytes: image.bytes,
    })),
    params.owner,
  );
  return result;
}

/** An owner gave up its claim before generating (rate limited, aborted): joiners claim it themselves. */
class Handoff extends Error {}

export async function generate(deps: GenerationDeps, params: GenerationParams, options: GenerationOptions): Promise<GenerationOutcome> {
  const started = Date.now();
  await assertServed(deps.config, params.model);
  const { seeds } = params;
  const keys = await Promise.all(seeds.map((seed) => contentKey(deps.config.contentKeySecret, params, seed)));
  const images = await Promise.all(keys.map((key) => lookup(deps, key, params, options.needBytes)));
  let pending = images.flatMap((image, i) => (image ? [] : [i]));
  const missing = pending.length;
  const givenLease = options.leaseId;
  const owner = crypto.randomUUID();
  const claimMs = deps.config.gpuTimeoutMs + 30_000;
  let generated = 0;
  let shared = 0;
  let timings: Timings | null = null;
  const keep = (image: StoredImage): StoredImage => (options.needBytes ? image : { ...image, bytes: undefined });

  for (let round = 0; pending.length > 0; round++) {
    if (round > 8) throw new ProblemError('gpu_unavailable', 'Could not claim the generation; retry later', { retryAfter: 1 });
    const retry: number[] = [];
    // Local claims first, synchronously (no await in between): one claim per key per isolate.
    const own: number[] = [];
    const joined: number[] = [];
    const waits: Promise<Shared>[] = [];
    const mine = new Map<number, PromiseWithResolvers<Shared>>();
    for (const i of pending) {
      const running = inFlight.get(keys[i]);
      if (running) {
        joined.push(i);
        waits.push(running);
      } else {
        own.push(i);
        const deferred = settle();
        mine.set(i, deferred);
        inFlight.set(keys[i], deferred.promise);
        deferred.promise.then(
          () => inFlight.delete(keys[i]),
          () => inFlight.delete(keys[i]),
        );
      }
    }
    // Every image this round owns has its deferred in `mine`, set above before any await.
    const claimOf = (i: number) => {
      const deferred = mine.get(i);
      if (!deferred) throw new Error(`image ${i} is not claimed by this request`);
      return deferred;
    };

    // Then global claims (GenerationLock, one Durable Object per key) for what this isolate owns.
    const claims = await Promise.all(
      own.map((i) =>
        deps
          .locks(keys[i])
          .claim(owner, claimMs)
          .catch((): Claim => 'owner'),
      ),
    );
    const generate = own.filter((_, j) => claims[j] === 'owner');
    const elsewhere = own.filter((_, j) => claims[j] === 'wait');
    const remote = elsewhere.map(async (i) => {
      try {
        const outcome = await deps.locks(keys[i]).wait(claimMs);
        const image = outcome === 'stored' ? await deps.images.find(keys[i], params.output_format, true) : null;
        if (!image) throw new Handoff();
        images[i] = keep({ ...image, model: image.model || params.model });
        shared++;
        claimOf(i).resolve({ image, timings: ZERO_TIMINGS });
      } catch {
        claimOf(i).reject(new Handoff());
        retry.push(i);
      }
    });

    if (generate.length > 0) {
      let leaseId = givenLease;
      let used = 0;
      let stored = false;
      try {
        if (!leaseId) {
          const decision = await deps.limiter.acquire(deps.limits, generate.length, deps.config.gpuTimeoutMs + 60_000, {
            render: options.render,
          });
          options.onLimitStatus?.(decision.status);
          if (!decision.allowed) throw limitRefused(deps.limits, decision);
          leaseId = decision.leaseId;
        }
        const result = await runGpu(
          deps,
          params,
          generate.map((i) => seeds[i]),
          generate.map((i) => keys[i]),
          options,
        );
        stored = true;
        used = generate.length;
        generated += used;
        timings = result.timings;
        generate.forEach((i, j) => {
          const bytes = result.images[j].bytes;
          const image: StoredImage = {
            key: keys[i],
            format: params.output_format,
            seed: seeds[i],
            width: result.width,
            height: result.height,
            model: params.model,
            size: bytes.byteLength,
            bytes,
          };
          images[i] = keep(image);
          claimOf(i).resolve({ image, timings: result.timings });
        });
      } catch (error) {
        // A failed generation fails its local joiners too; a claim given up for this request's
        // own reasons (its limits, its abort) is handed to them instead.
        const generationFailed = error instanceof ProblemError && error.problem !== 'rate_limited';
        if (generationFailed) deps.log.warn('gpu call failed', { problem: error.problem, detail: error.message, images: generate.length });
        for (const i of generate) claimOf(i).reject(generationFailed ? error : new Handoff());
        throw error;
      } finally {
        await Promise.all([
          ...generate.map((i) =>
            deps
              .locks(keys[i])
              .release(owner, stored ? 'stored' : 'failed')
              .catch(() => {}),
          ),
          leaseId && !givenLease ? release(deps, options, leaseId, used) : undefined,
        ]);
      }
    }

    await Promise.all(remote);
    const settled = await Promise.allSettled(waits);
    settled.forEach((outcome, j) => {
      const i = joined[j];
      if (outcome.status === 'fulfilled') {
        images[i] = keep(outcome.value.image);
        shared++;
        timings ??= outcome.value.timings;
      } else if (outcome.reason instanceof Handoff) {
        retry.push(i);
      } else {
        throw outcome.reason;
      }
    });
    pending = retry;
  }
  if (missing > 0)
    deps.log.info('generated', {
      model: params.model,
      images: seeds.length,
      gpu_images: generated,
      shared_images: shared,
      cached_images: seeds.length - missing,
    });
  return {
    model: params.model,
    images: images as StoredImage[],
    timings: { ...(timings ?? ZERO_TIMINGS), total_ms: Date.now() - started },
    cached: missing === 0,
    generated,
  };
}

async function release(deps: GenerationDeps, options: GenerationOptions, leaseId: string, used: number): Promise<void> {
  try {
    // Not `onLimitStatus?.(await …)`: without a listener that would skip the release itself.
    const status = await deps.limiter.release(deps.limits, leaseId, used);
    options.onLimitStatus?.(status);
  } catch (error) {
    // The lease expires on its own; never let bookkeeping hide the generation's own outcome.
    deps.log.warn('lease release failed', { error: error instanceof Error ? error.message : 'unknown' });
  }
}
