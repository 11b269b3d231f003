// The executable form of internal-api.md (edge → gpu-service). Keep both in step.
import { z } from 'zod';

export const OUTPUT_FORMATS = ['png', 'webp', 'jpeg', 'rgb'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export const GENERATE_PATH = '/internal/v1/generate';
/** Open readiness probe; when ready it names the models served (the edge lists and checks models by it). */
export const READY_PATH = '/readyz';

// Authentication headers (internal-api.md, "Authentication").
export const TIMESTAMP_HEADER = 'x-star-timestamp';
export const NONCE_HEADER = 'x-star-nonce';
export const SIGNATURE_HEADER = 'x-star-signature';
export const DEADLINE_HEADER = 'x-request-deadline-ms';
/** A nonce is 16–64 URL-safe characters; the edge sends 22 (16 random bytes, base64url). */
export const NONCE_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;
/** The request headers that may shape the answer; each is signed (an absent one as an empty value). */
export const SIGNED_HEADERS = ['accept', DEADLINE_HEADER] as const;

export interface CanonicalRequestParts {
  method: string;
  pathWithQuery: string;
  timestamp: string;
  nonce: string;
  /** A header's value by lower-case name, undefined when absent. */
  header(name: string): string | null | undefined;
  bodySha256Hex: string;
}

/**
 * The string both sides sign; each hashes the body with its own runtime's crypto:
 * METHOD, PATH (with query), TIMESTAMP, NONCE, one `name:value` line per SIGNED_HEADERS entry,
 * then hex(SHA-256(body)), joined by newlines (header values cannot contain one).
 */
export function canonicalRequest(parts: CanonicalRequestParts): string {
  const headers = SIGNED_HEADERS.map((name) => `${name}:${(parts.header(name) ?? '').trim()}`);
  return [parts.method.toUpperCase(), parts.pathWithQuery, parts.timestamp, parts.nonce, ...headers, parts.bodySha256Hex].join('\n');
}

const uint32 = z.number().int().min(0).max(0xffff_ffff);

/** The request body; `maxImages` is the service's MAX_BATCH (a request never spans two engine runs). */
export function generateRequestSchema(maxImages: number) {
  return z.strictObject({
    model: z.string().min(1).max(64),
    prompt: z.string().min(1).max(4000),
    negative_prompt: z.string().max(4000).default(''),
    seeds: z.array(uint32).min(1).max(maxImages),
    cfg: z.number().min(0).max(50).default(4.5),
    top_k: z.number().int().min(1).max(1_000_000).default(900),
    top_p: z.number().gt(0).max(1).default(0.95),
    more_smooth: z.boolean().default(false),
    output_format: z.enum(OUTPUT_FORMATS).default('png'),
    preview: z.boolean().default(false),
    /** PNG only: write the generation parameters into tEXt chunks. */
    png_metadata: z.boolean().default(true),
  });
}
export type GenerateBody = z.infer<ReturnType<typeof generateRequestSchema>>;

export const timingsSchema = z.object({
  queue_ms: z.number(),
  text_ms: z.number(),
  generate_ms: z.number(),
  decode_ms: z.number(),
  encode_ms: z.number(),
  total_ms: z.number(),
});

// The answer's frames (frames.ts), in order: queued, started, one progress per scale, one image
// per seed (in `seeds` order, its encoded bytes as the payload), then result; or, in place of
// what remains, error (a problem object).
export const queuedEventSchema = z.object({ position: z.number().int().min(0) });
export const startedEventSchema = z.object({ scales: z.number().int().min(1), batch_size: z.number().int().min(1) });
/** Previews are small PNGs the edge hands on as data: URLs, so they travel as base64. */
const previewSchema = z.object({ format: z.literal('png'), b64: z.string() });
export const progressEventSchema = z.object({
  scale: z.number().int().min(1),
  scales: z.number().int().min(1),
  side: z.number().int().min(1),
  /** One preview per image, in `seeds` order, when the request asked for them. */
  previews: z.array(previewSchema).optional(),
});
export type ProgressEventBody = z.infer<typeof progressEventSchema>;
export const imageEventSchema = z.object({ seed: uint32, format: z.enum(OUTPUT_FORMATS) });
export type ImageEventBody = z.infer<typeof imageEventSchema>;
export const resultEventSchema = z.object({
  model: z.string(),
  width: z.number().int(),
  height: z.number().int(),
  timings: timingsSchema,
  /** Images in the engine run that produced these (this request's and others'). */
  batch_size: z.number().int().min(1),
});
export type ResultEventBody = z.infer<typeof resultEventSchema>;

/** GET /readyz while ready (200); otherwise 503 with only a status. */
export const readyResponseSchema = z.object({ status: z.literal('ready'), models: z.array(z.string()) });
export type ReadyResponse = z.infer<typeof readyResponseSchema>;
