// Request bodies → generation parameters: JSON parse, NFC + trim of the prompts, the generated
// zod schema (openapi.yaml), the server's defaults, and a model the edge knows (whether it is
// served is models.ts's assertServed, which needs the gpu-service's answer).
import type { z } from 'zod';
import type { Config } from '../env.ts';
import { ProblemError } from '../problems/index.ts';
import { findModel, imageSeeds, type ModelFacts } from '@star-api/contract';
import { modelNotFound } from '../models.ts';
import { randomUint32 } from '../crypto.ts';
import { normalizeText, type GenerationParams } from './params.ts';
import type { FieldError, GenerationRequest } from '../schemas.gen.ts';

export function fieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join('.') || '(body)', message: issue.message }));
}

export function invalid(detail: string, errors: FieldError[] = []): ProblemError {
  return new ProblemError('invalid_request', detail, { errors });
}

/** Prompts are normalised before validation, so limits apply to what is hashed and generated. */
export function normalizePrompts(body: unknown): unknown {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return body;
  const copy: Record<string, unknown> = { ...body };
  if (typeof copy.prompt === 'string') copy.prompt = normalizeText(copy.prompt);
  if (typeof copy.negative_prompt === 'string') copy.negative_prompt = normalizeText(copy.negative_prompt);
  return copy;
}

export async function readJson(request: Request): Promise<unknown> {
  const type = request.headers.get('Content-Type') ?? '';
  if (!/^application\/(.+\+)?json\b/i.test(type)) throw invalid('Send a JSON body with Content-Type: application/json');
  const text = await request.text();
  try {
    return JSON.parse(text);
  } catch {
    throw invalid('The body is not valid JSON');
  }
}

export function validate<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const parsed = schema.safeParse(normalizePrompts(body));
  if (!parsed.success) throw invalid('The request does not match the schema', fieldErrors(parsed.error));
  return parsed.data;
}

export type ParsedRequest = Pick<
  GenerationRequest,
  | 'model'
  | 'prompt'
  | 'negative_prompt'
  | 'n'
  | 'seed'
  | 'cfg'
  | 'top_k'
  | 'top_p'
  | 'more_smooth'
  | 'output_format'
  | 'png_metadata'
  | 'private'
  | 'size'
>;

/** OpenAI's `size` (WIDTHxHEIGHT): a STAR model makes one square size, so that is the only one a request may name. */
function checkSize(size: string | undefined, model: ModelFacts): void {
  const native = `${model.resolution}x${model.resolution}`;
  if (size === undefined || size === native) return;
  throw invalid(`size "${size}" is not available for ${model.id}; valid sizes: ${native}`, [
    { path: 'size', message: `valid sizes: ${native}` },
  ]);
}

/** `kid` is the calling API key's id: the owner of the image when the request is private. */
export function toParams(request: ParsedRequest, config: Config, kid: string): GenerationParams {
  const model = request.model ?? config.defaultModel;
  const info = findModel(model);
  if (!info) throw modelNotFound(model);
  checkSize(request.size, info);
  return {
    model,
    prompt: request.prompt,
    negative_prompt: request.negative_prompt ?? '',
    seeds: imageSeeds(request.seed ?? randomUint32(), request.n),
    cfg: request.cfg,
    top_k: request.top_k,
    top_p: request.top_p,
    more_smooth: request.more_smooth,
    output_format: request.output_format,
    png_metadata: request.png_metadata,
    ...(request.private ? { owner: kid } : {}),
  };
}
