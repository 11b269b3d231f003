// RFC 9457 problem details, the one home of error construction: the problem catalogue, the error
// type thrown below handlers, the body and the problem+json response. Free of Hono and of the
// Workers runtime, so the Job Durable Object and unit tests use it too; middleware/problem
// only fills in the request's instance and id.
import type { FieldError, Problem as ProblemDocument } from '../schemas.gen.ts';

// `openai` is OpenAI's error category for the status, for the `error` member OpenAI clients read.
export const PROBLEMS = {
  invalid_request: { status: 400, title: 'Invalid request', openai: 'invalid_request_error' },
  unauthorized: { status: 401, title: 'Unauthorized', openai: 'authentication_error' },
  forbidden: { status: 403, title: 'Forbidden', openai: 'permission_error' },
  not_found: { status: 404, title: 'Not found', openai: 'not_found_error' },
  model_not_found: { status: 404, title: 'Model not found', openai: 'invalid_request_error' },
  conflict: { status: 409, title: 'Conflict', openai: 'conflict_error' },
  payload_too_large: { status: 413, title: 'Payload too large', openai: 'invalid_request_error' },
  range_not_satisfiable: { status: 416, title: 'Range not satisfiable', openai: 'invalid_request_error' },
  idempotency_key_reused: { status: 422, title: 'Idempotency key reused', openai: 'invalid_request_error' },
  rate_limited: { status: 429, title: 'Too many requests', openai: 'rate_limit_error' },
  internal: { status: 500, title: 'Internal error', openai: 'server_error' },
  generation_failed: { status: 502, title: 'Generation failed', openai: 'server_error' },
  gpu_unavailable: { status: 503, title: 'GPU unavailable', openai: 'server_error' },
  gpu_timeout: { status: 504, title: 'GPU timeout', openai: 'server_error' },
} as const;

export type ProblemName = keyof typeof PROBLEMS;
export const PROBLEM_TYPE_BASE = 'https://star-api.dev/problems/';

/** openapi.yaml's Problem, whose `error` member (the same error in OpenAI's shape: OpenAI client
 *  libraries read only that) this Worker always sends, typed by the catalogue. */
export type Problem = Omit<ProblemDocument, 'error'> & { error: OpenAIError };

export interface OpenAIError {
  message: string;
  type: (typeof PROBLEMS)[ProblemName]['openai'];
  code: ProblemName;
  param?: string;
}

export interface ProblemOptions {
  errors?: FieldError[];
  retryAfter?: number;
  headers?: Record<string, string>;
}

/** Thrown anywhere below a handler; the app's `onError` (middleware/problem) turns it into the response. */
export class ProblemError extends Error {
  readonly problem: ProblemName;
  readonly options: ProblemOptions;
  constructor(problem: ProblemName, detail: string, options: ProblemOptions = {}) {
    super(detail);
    this.name = 'ProblemError';
    this.problem = problem;
    this.options = options;
  }
}

export function problemBody(
  name: ProblemName,
  detail: string,
  extra: { instance?: string; requestId: string; errors?: FieldError[]; retryAfter?: number },
): Problem {
  const { status, title, openai } = PROBLEMS[name];
  const body: Omit<Problem, 'error'> = { type: PROBLEM_TYPE_BASE + name, title, status, detail, request_id: extra.requestId };
  if (extra.instance) body.instance = extra.instance;
  if (extra.errors?.length) body.errors = extra.errors;
  if (extra.retryAfter !== undefined) body.retry_after = extra.retryAfter;
  const error: OpenAIError = { message: detail, type: openai, code: name };
  if (extra.errors?.length) error.param = extra.errors[0].path;
  return { ...body, error };
}

/** The problem+json response (with Retry-After and any extra headers the problem carries). */
export function problemResponse(
  name: ProblemName,
  detail: string,
  where: { instance?: string; requestId: string },
  options: ProblemOptions = {},
): Response {
  const body = problemBody(name, detail, { ...where, errors: options.errors, retryAfter: options.retryAfter });
  const headers = new Headers(options.headers);
  headers.set('Content-Type', 'application/problem+json');
  if (options.retryAfter !== undefined) headers.set('Retry-After', String(options.retryAfter));
  return new Response(JSON.stringify(body), { status: body.status, headers });
}
