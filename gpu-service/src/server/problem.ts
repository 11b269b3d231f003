// The one problem+json (RFC 9457) helper for the whole service.

export type ProblemName =
  | 'invalid_request'
  | 'unauthorized'
  | 'not_found'
  | 'payload_too_large'
  | 'gpu_unavailable'
  | 'gpu_timeout'
  | 'generation_failed';

const STATUS: Record<ProblemName, number> = {
  invalid_request: 400,
  unauthorized: 401,
  not_found: 404,
  payload_too_large: 413,
  gpu_unavailable: 503,
  gpu_timeout: 504,
  generation_failed: 500,
};

const TITLE: Record<ProblemName, string> = {
  invalid_request: 'Invalid request',
  unauthorized: 'Unauthorized',
  not_found: 'Not found',
  payload_too_large: 'Payload too large',
  gpu_unavailable: 'GPU service unavailable',
  gpu_timeout: 'GPU deadline exceeded',
  generation_failed: 'Generation failed',
};

/** The problem a status stands for (one-to-one in this service), for counting errors by type. */
export function problemNameForStatus(status: number): ProblemName | undefined {
  return (Object.keys(STATUS) as ProblemName[]).find((name) => STATUS[name] === status);
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: { path: string; message: string }[];
}

export function problemBody(name: ProblemName, detail?: string, extra: Partial<Problem> = {}): Problem {
  return {
    type: `https://star-api.dev/problems/${name}`,
    title: TITLE[name],
    status: STATUS[name],
    ...(detail === undefined ? {} : { detail }),
    ...extra,
  };
}

export function problemResponse(
  name: ProblemName,
  detail?: string,
  options: { errors?: Problem['errors']; retryAfterS?: number } = {},
): Response {
  const body = problemBody(name, detail, options.errors ? { errors: options.errors } : {});
  const headers = new Headers({ 'content-type': 'application/problem+json' });
  if (options.retryAfterS !== undefined) headers.set('retry-after', String(options.retryAfterS));
  return new Response(JSON.stringify(body), { status: body.status, headers });
}

/** An error that already knows which problem it is; the routes turn it into a response. */
export class ProblemError extends Error {
  override name = 'ProblemError';
  readonly problem: ProblemName;
  readonly retryAfterS: number | undefined;
  constructor(problem: ProblemName, detail: string, retryAfterS?: number) {
    super(detail);
    this.problem = problem;
    this.retryAfterS = retryAfterS;
  }
}
