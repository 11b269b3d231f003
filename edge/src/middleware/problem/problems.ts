// RFC 9457 problem details: the problem table, the error type thrown below handlers and the body
// builder. Free of Hono and of the Workers runtime, so scripts and tests can use it too.
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
