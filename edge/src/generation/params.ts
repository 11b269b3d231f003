// Generation parameters after validation, defaults and normalisation; the content key of one image.
import { imageSeeds } from '@star-api/contract';
import { hmacSha256Hex } from '../crypto.ts';
import type { ImageFormat } from './formats.ts';

export interface GenerationParams {
  model: string;
  prompt: string;
  negative_prompt: string;
  /** One image per seed, from the request's seed and n by the seed rule (@star-api/contract). */
  seeds: number[];
  cfg: number;
  top_k: number;
  top_p: number;
  more_smooth: boolean;
  output_format: ImageFormat;
  /** PNG only: the prompt and parameters in tEXt chunks. */
  png_metadata: boolean;
  /** The key id of the API key that owns the image (`private: true`); shared images have none. */
  owner?: string;
}

export const DEFAULTS = { cfg: 4.5, top_k: 900, top_p: 0.95, more_smooth: false, output_format: 'png', png_metadata: true } as const;

/** What jobs queued before the parameters carried their seeds stored (`seed`, `n`, `format`). */
type StoredBeforeSeeds = Omit<GenerationParams, 'seeds' | 'output_format'> & { seed: number; n: number; format: ImageFormat };

/** A job's stored parameters in today's shape. Jobs live JOB_TTL_SECONDS, so the older shapes can
 *  go one TTL after the deploy that introduced `seeds`. */
export function storedParams(stored: GenerationParams | StoredBeforeSeeds): GenerationParams {
  if ('seeds' in stored) return stored;
  const { seed, n, format, png_metadata, ...rest } = stored;
  // Jobs stored before png_metadata existed: on, as then.
  return { ...rest, seeds: imageSeeds(seed, n), output_format: format, png_metadata: png_metadata !== false };
}

/** Prompts are hashed and sent as Unicode NFC with surrounding whitespace removed. */
export function normalizeText(text: string): string {
  return text.normalize('NFC').trim();
}

/** JSON with keys sorted, so equal parameter sets always produce equal bytes. */
export function canonicalJson(value: Record<string, string | number | boolean>): string {
  return JSON.stringify(
    Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, value[key]]),
    ),
  );
}

/**
 * The cache identity of one image: hex HMAC-SHA256(secret, canonical JSON of everything that
 * shapes it, and of its owner when it is private). The two privacy fields enter only when they
 * differ from the default, so the keys (and URLs) of every image made before them stay the same;
 * `png_metadata` only for PNG, the one format whose bytes it changes.
 */
export function contentKey(secret: string, params: GenerationParams, seed: number): Promise<string> {
  const identity: Record<string, string | number | boolean> = {
    model: params.model,
    prompt: params.prompt,
    negative_prompt: params.negative_prompt,
    cfg: params.cfg,
    top_k: params.top_k,
    top_p: params.top_p,
    more_smooth: params.more_smooth,
    seed,
    // Named `format` since the first key: renaming it would change every key and URL.
    format: params.output_format,
  };
  if (params.output_format === 'png' && params.png_metadata === false) identity.png_metadata = false;
  if (params.owner !== undefined) identity.owner = params.owner;
  return hmacSha256Hex(secret, canonicalJson(identity));
}
