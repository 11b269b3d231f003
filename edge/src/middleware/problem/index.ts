// RFC 9457 problem details: the one way this Worker reports an error.
import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import type { AppEnv } from '../../env.ts';

export const PROBLEMS = {
  invalid_request: { status: 400, title: 'Invalid request' },
  unauthorized: { status: 401, title: 'Unauthorized' },
  forbidden: { status: 403, title: 'Forbidden' },
  not_found: { status: 404, title: 'Not found' },
  conflict: { status: 409, title: 'Conflict' },
  payload_too_large: { status: 413, title: 'Payload too large' },
  range_not_satisfiable: { status: 416, title: 'Range not satisfiable' },
  idempotency_key_reused: { status: 422, title: 'Idempotency key reused' },
  rate_limited: { status: 429, title: 'Too many requests' },
  internal: { status: 500, title: 'Internal error' },
  generation_failed: { status: 502, title: 'Generation failed' },
  gpu_unavailable: { status: 503, title: 'GPU unavailable' },
  gpu_timeout: { status: 504, title: 'GPU timeout' },
} as const;

export type ProblemName = keyof typeof PROBLEMS;
export const PROBLEM_TYPE_BASE = 'https://star-api.dev/problems/';

export interface FieldError {
  path: string;
  message: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  request_id: string;
  errors?: FieldError[];
  retry_after?: number;
}

export interface ProblemOptions {
  errors?: FieldError[];
  retryAfter?: number;
  headers?: Record<string, string>;
}

/** Thrown anywhere below a handler; `onProblem` turns it into the response. */
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

export function problemBody(name: ProblemName, detail: string, extra: { instance?: string; requestId: string; errors?: FieldError[]; retryAfter?: number }): Problem {
  const { status, title } = PROBLEMS[name];
  const body: Problem = { type: PROBLEM_TYPE_BASE + name, title, status, detail, request_id: extra.requestId };
  if (extra.instance) body.instance = extra.instance;
  if (extra.errors?.length) body.errors = extra.errors;
  if (extra.retryAfter !== undefined) body.retry_after = extra.retryAfter;
  return body;
}

/** Builds the problem+json response for the current request (adds request id, instance, Retry-After). */
export function problem(c: Context<AppEnv>, name: ProblemName, detail: string, options: ProblemOptions = {}): Response {
  const body = problemBody(name, detail, {
    instance: new URL(c.req.url).pathname,
    requestId: c.get('requestId') ?? 'req_unknown',
    errors: options.errors,
    retryAfter: options.retryAfter,
  });
  const headers = new Headers(options.headers);
  headers.set('Content-Type', 'application/problem+json');
  if (options.retryAfter !== undefined) headers.set('Retry-After', String(options.retryAfter));
  return new Response(JSON.stringify(body), { status: body.status, headers });
}

export function problemFromError(c: Context<AppEnv>, error: ProblemError): Response {
  return problem(c, error.problem, error.message, error.options);
}

/** app.onError: known problems pass through; anything else is logged (message only) and becomes a bare 500. */
export const onError: ErrorHandler<AppEnv> = (error, c) => {
  if (error instanceof ProblemError) return problemFromError(c, error);
  c.get('log')?.error('unhandled error', { error: error instanceof Error ? error.name + ': ' + error.message : 'unknown' });
  return problem(c, 'internal', 'An internal error occurred; quote the request id when reporting it.');
};

export const onNotFound: NotFoundHandler<AppEnv> = (c) => problem(c, 'not_found', `No route for ${c.req.method} ${new URL(c.req.url).pathname}`);
