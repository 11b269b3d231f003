// Generated from openapi.yaml (components.schemas) by edge/scripts/gen-schemas.ts. Do not edit:
// run `npm run gen-schemas -w edge`. edge/test/contract.test.ts fails when this file is stale.
import { z } from 'zod';

/** JSON Schema's minLength and maxLength count characters (code points); zod's min and max count UTF-16 units. */
function characters(min: number, max: number): [(value: string) => boolean, string] {
  const message = max === Infinity ? `Must be at least ${min} characters` : min === 0 ? `Must be at most ${max} characters` : `Must be ${min} to ${max} characters`;
  return [(value) => { const length = [...value].length; return length >= min && length <= max; }, message];
}

export const ModelId = z.string().regex(new RegExp("^[a-z0-9][a-z0-9.-]{0,63}$")).refine(...characters(0, 64));
export type ModelId = z.infer<typeof ModelId>;

export const Seed = z.number().int().min(0).max(4294967295);
export type Seed = z.infer<typeof Seed>;

export const OutputFormat = z.enum(["png","webp","jpeg"]);
export type OutputFormat = z.infer<typeof OutputFormat>;

export const ResponseFormat = z.enum(["url","b64_json"]);
export type ResponseFormat = z.infer<typeof ResponseFormat>;

export const ImageKey = z.string().regex(new RegExp("^[0-9a-f]{64}$"));
export type ImageKey = z.infer<typeof ImageKey>;

export const JobId = z.string().regex(new RegExp("^job_[0-9A-Za-z]{1,64}$"));
export type JobId = z.infer<typeof JobId>;

export const JobStatus = z.enum(["queued","running","succeeded","failed","cancelled"]);
export type JobStatus = z.infer<typeof JobStatus>;

export const GenerationRequest = z.strictObject({
  model: z.string().regex(new RegExp("^[a-z0-9][a-z0-9.-]{0,63}$")).refine(...characters(0, 64)).optional(),
  prompt: z.string().refine(...characters(1, 2000)),
  negative_prompt: z.string().refine(...characters(0, 2000)).optional(),
  n: z.number().int().min(1).max(4).default(1),
  seed: z.number().int().min(0).max(4294967295).optional(),
  cfg: z.number().min(0).max(20).default(4.5),
  top_k: z.number().int().min(1).max(1000000).default(900),
  top_p: z.number().gt(0).max(1).default(0.95),
  more_smooth: z.boolean().default(false),
  output_format: z.enum(["png","webp","jpeg"]).default("png"),
  response_format: z.enum(["url","b64_json"]).default("url"),
  png_metadata: z.boolean().default(true),
  private: z.boolean().default(false),
  size: z.string().refine(...characters(0, 32)).optional(),
  user: z.string().refine(...characters(0, 256)).optional(),
  quality: z.enum(["auto","standard","hd","low","medium","high"]).optional(),
  style: z.enum(["vivid","natural"]).optional(),
});
export type GenerationRequest = z.infer<typeof GenerationRequest>;

export const JobCreateRequest = z.strictObject({
  model: z.string().regex(new RegExp("^[a-z0-9][a-z0-9.-]{0,63}$")).refine(...characters(0, 64)).optional(),
  prompt: z.string().refine(...characters(1, 2000)),
  negative_prompt: z.string().refine(...characters(0, 2000)).optional(),
  n: z.number().int().min(1).max(4).default(1),
  seed: z.number().int().min(0).max(4294967295).optional(),
  cfg: z.number().min(0).max(20).default(4.5),
  top_k: z.number().int().min(1).max(1000000).default(900),
  top_p: z.number().gt(0).max(1).default(0.95),
  more_smooth: z.boolean().default(false),
  output_format: z.enum(["png","webp","jpeg"]).default("png"),
  response_format: z.enum(["url","b64_json"]).default("url"),
  png_metadata: z.boolean().default(true),
  private: z.boolean().default(false),
  size: z.string().refine(...characters(0, 32)).optional(),
  user: z.string().refine(...characters(0, 256)).optional(),
  quality: z.enum(["auto","standard","hd","low","medium","high"]).optional(),
  style: z.enum(["vivid","natural"]).optional(),
  webhook_url: z.url().regex(new RegExp("^https://")).refine(...characters(0, 2048)).optional(),
});
export type JobCreateRequest = z.infer<typeof JobCreateRequest>;

export const Image = z.object({
  url: z.url().optional(),
  b64_json: z.string().optional(),
  key: z.string().regex(new RegExp("^[0-9a-f]{64}$")),
  seed: z.number().int().min(0).max(4294967295),
  width: z.number().int().min(1),
  height: z.number().int().min(1),
  content_type: z.enum(["image/png","image/webp","image/jpeg"]),
});
export type Image = z.infer<typeof Image>;

export const Timings = z.object({
  queue_ms: z.number().min(0),
  text_ms: z.number().min(0),
  generate_ms: z.number().min(0),
  decode_ms: z.number().min(0),
  encode_ms: z.number().min(0),
  total_ms: z.number().min(0),
});
export type Timings = z.infer<typeof Timings>;

export const GenerationResponse = z.object({
  created: z.number().int(),
  model: z.string(),
  data: z.array(Image).min(1).max(4),
  timings: Timings,
  cached: z.boolean(),
});
export type GenerationResponse = z.infer<typeof GenerationResponse>;

export const JobProgress = z.object({
  scale: z.number().int().min(0),
  scales: z.number().int().min(1),
});
export type JobProgress = z.infer<typeof JobProgress>;

export const FieldError = z.object({
  path: z.string(),
  message: z.string(),
});
export type FieldError = z.infer<typeof FieldError>;

export const Problem = z.object({
  type: z.url(),
  title: z.string(),
  status: z.number().int().min(400).max(599),
  detail: z.string(),
  instance: z.string().optional(),
  request_id: z.string(),
  errors: z.array(FieldError).optional(),
  retry_after: z.number().int().min(0).optional(),
  error: z.object({
  message: z.string(),
  type: z.enum(["invalid_request_error","authentication_error","permission_error","not_found_error","conflict_error","rate_limit_error","server_error"]),
  code: z.string(),
  param: z.string().optional(),
}).optional(),
});
export type Problem = z.infer<typeof Problem>;

export const Job = z.object({
  id: JobId,
  object: z.enum(["job"]),
  status: JobStatus,
  model: z.string(),
  created_at: z.number().int(),
  started_at: z.number().int().optional(),
  completed_at: z.number().int().optional(),
  expires_at: z.number().int(),
  progress: JobProgress,
  result: GenerationResponse.optional(),
  error: Problem.optional(),
});
export type Job = z.infer<typeof Job>;

export const JobStateEventData = z.object({
  job: Job,
});
export type JobStateEventData = z.infer<typeof JobStateEventData>;

export const JobProgressEventData = z.object({
  scale: z.number().int().min(1),
  scales: z.number().int().min(1),
  side: z.number().int().min(1),
  preview: z.string().regex(new RegExp("^data:image/png;base64,")).optional(),
});
export type JobProgressEventData = z.infer<typeof JobProgressEventData>;

export const JobQueuedEvent = z.object({
  id: z.number().int().min(0),
  event: z.enum(["queued"]),
  data: JobStateEventData,
});
export type JobQueuedEvent = z.infer<typeof JobQueuedEvent>;

export const JobStartedEvent = z.object({
  id: z.number().int().min(0),
  event: z.enum(["started"]),
  data: JobStateEventData,
});
export type JobStartedEvent = z.infer<typeof JobStartedEvent>;

export const JobProgressEvent = z.object({
  id: z.number().int().min(0),
  event: z.enum(["progress"]),
  data: JobProgressEventData,
});
export type JobProgressEvent = z.infer<typeof JobProgressEvent>;

export const JobCompletedEvent = z.object({
  id: z.number().int().min(0),
  event: z.enum(["completed"]),
  data: JobStateEventData,
});
export type JobCompletedEvent = z.infer<typeof JobCompletedEvent>;

export const JobFailedEvent = z.object({
  id: z.number().int().min(0),
  event: z.enum(["failed"]),
  data: JobStateEventData,
});
export type JobFailedEvent = z.infer<typeof JobFailedEvent>;

export const JobCancelledEvent = z.object({
  id: z.number().int().min(0),
  event: z.enum(["cancelled"]),
  data: JobStateEventData,
});
export type JobCancelledEvent = z.infer<typeof JobCancelledEvent>;

export const JobEvent = z.union([JobQueuedEvent, JobStartedEvent, JobProgressEvent, JobCompletedEvent, JobFailedEvent, JobCancelledEvent]);
export type JobEvent = z.infer<typeof JobEvent>;

export const Model = z.object({
  id: z.string(),
  object: z.enum(["model"]),
  resolution: z.number().int().min(1),
  scales: z.array(z.number().int().min(1)),
  default: z.boolean(),
  description: z.string(),
});
export type Model = z.infer<typeof Model>;

export const ModelList = z.object({
  object: z.enum(["list"]),
  data: z.array(Model),
});
export type ModelList = z.infer<typeof ModelList>;

export const ProblemType = z.enum(["https://star-api.dev/problems/invalid_request","https://star-api.dev/problems/unauthorized","https://star-api.dev/problems/forbidden","https://star-api.dev/problems/not_found","https://star-api.dev/problems/model_not_found","https://star-api.dev/problems/conflict","https://star-api.dev/problems/payload_too_large","https://star-api.dev/problems/range_not_satisfiable","https://star-api.dev/problems/idempotency_key_reused","https://star-api.dev/problems/rate_limited","https://star-api.dev/problems/internal","https://star-api.dev/problems/generation_failed","https://star-api.dev/problems/gpu_unavailable","https://star-api.dev/problems/gpu_timeout"]);
export type ProblemType = z.infer<typeof ProblemType>;

export const Health = z.object({
  status: z.enum(["ok"]),
});
export type Health = z.infer<typeof Health>;
