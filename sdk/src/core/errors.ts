// One error hierarchy for the whole SDK. Callers branch with `instanceof`:
// every problem type of the contract has its own class, and failures that
// never got an HTTP answer (connection, timeout, abort) have theirs.
import type { Problem, ProblemType } from '../types.ts';

/** Base class of every error this SDK throws. */
export class StarError extends Error {
  override name = 'StarError';
}

/** The API answered with a 4xx/5xx status. */
export class APIError extends StarError {
  override name = 'APIError';
  /** HTTP status. */
  readonly status: number;
  /** Problem type URI (`https://star-api.dev/problems/...`), or undefined if the body was no problem document. */
  readonly type: string | undefined;
  readonly title: string | undefined;
  readonly detail: string | undefined;
  /** The `X-Request-Id` of the failed request; quote it in support requests. */
  readonly requestId: string | undefined;
  /** The parsed problem document, or the raw text when the body was not JSON. */
  readonly body: Problem | string | undefined;
  readonly headers: Headers;

  constructor(status: number, body: Problem | string | undefined, headers: Headers) {
    const problem = typeof body === 'object' ? body : undefined;
    const requestId = problem?.request_id ?? headers.get('x-request-id') ?? undefined;
    super(describe(status, problem, body, requestId));
    this.status = status;
    this.type = problem?.type;
    this.title = problem?.title;
    this.detail = problem?.detail;
    this.requestId = requestId;
    this.body = body;
    this.headers = headers;
  }
}

function describe(status: number, problem: Problem | undefined, body: unknown, requestId: string | undefined): string {
  const what = problem ? `${problem.title}: ${problem.detail}` : typeof body === 'string' && body ? body.slice(0, 200) : 'no body';
  return `${status} ${what}${requestId ? ` (request ${requestId})` : ''}`;
}

export class InvalidRequestError extends APIError {
  override name = 'InvalidRequestError';
}
export class UnauthorizedError extends APIError {
  override name = 'UnauthorizedError';
}
export class ForbiddenError extends APIError {
  override name = 'ForbiddenError';
}
export class NotFoundError extends APIError {
  override name = 'NotFoundError';
}
/** 404 `model_not_found`: the deployment does not serve the model asked for (see `models.list()`). */
export class ModelNotFoundError extends NotFoundError {
  override name = 'ModelNotFoundError';
}
export class ConflictError extends APIError {
  override name = 'ConflictError';
}
export class PayloadTooLargeError extends APIError {
  override name = 'PayloadTooLargeError';
}
export class IdempotencyKeyReusedError extends APIError {
  override name = 'IdempotencyKeyReusedError';
}
export class InternalServerError extends APIError {
  override name = 'InternalServerError';
}
export class GenerationFailedError extends APIError {
  override name = 'GenerationFailedError';
}
export class GPUTimeoutError extends APIError {
  override name = 'GPUTimeoutError';
}

/** 429: a quota is used up. `retryAfter` is in seconds, when the server said. */
export class RateLimitedError extends APIError {
  override name = 'RateLimitedError';
  readonly retryAfter: number | undefined = retryAfterOf(this);
}

/** 503: no GPU capacity right now. `retryAfter` is in seconds, when the server said. */
export class GPUUnavailableError extends APIError {
  override name = 'GPUUnavailableError';
  readonly retryAfter: number | undefined = retryAfterOf(this);
}

function retryAfterOf(error: APIError): number | undefined {
  const header = Number(error.headers.get('retry-after') ?? Number.NaN);
  if (Number.isFinite(header)) return header;
  return typeof error.body === 'object' ? error.body.retry_after : undefined;
}

/** No HTTP answer: DNS, refused or dropped connection, or a stream cut short. */
export class APIConnectionError extends StarError {
  override name = 'APIConnectionError';
  constructor(message = 'Connection error.', options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The request (or `jobs.wait`) took longer than its timeout. */
export class APITimeoutError extends APIConnectionError {
  override name = 'APITimeoutError';
  constructor(message = 'Request timed out.') {
    super(message);
  }
}

/** The caller's AbortSignal fired. Never retried. */
export class APIUserAbortError extends StarError {
  override name = 'APIUserAbortError';
  constructor(message = 'Request was aborted.') {
    super(message);
  }
}

/** A 2xx answer whose body is not the JSON the contract promises. */
export class MalformedResponseError extends StarError {
  override name = 'MalformedResponseError';
  readonly status: number;
  readonly requestId: string | undefined;
  /** The body as received (at most 1000 characters). */
  readonly body: string;
  constructor(status: number, body: string, requestId: string | undefined, cause: unknown) {
    super(`${status} response body is not valid JSON${requestId ? ` (request ${requestId})` : ''}`, { cause });
    this.status = status;
    this.body = body.slice(0, 1000);
    this.requestId = requestId;
  }
}

/** A webhook delivery that `verifyWebhook()` refused: no or a malformed signature header, a wrong signature, or a timestamp outside the tolerance. */
export class WebhookVerificationError extends StarError {
  override name = 'WebhookVerificationError';
}

/** Parameters the SDK refused before sending anything; `errors` names each field, as the API's 400 would. */
export class InvalidParamsError extends StarError {
  override name = 'InvalidParamsError';
  readonly errors: { path: string; message: string }[];
  constructor(errors: { path: string; message: string }[]) {
    super(`Invalid parameters: ${errors.map((error) => `${error.path} ${error.message}`).join('; ')}`);
    this.errors = errors;
  }
}

type APIErrorClass = new (status: number, body: Problem | string | undefined, headers: Headers) => APIError;

const problemBase = 'https://star-api.dev/problems/';

// Keyed by the problem name (the part after problemBase); typed against the
// contract's ProblemType so a renamed or removed type fails to compile.
type ProblemName = ProblemType extends `${typeof problemBase}${infer Name}` ? Name : never;

const classByProblem: Partial<Record<ProblemName, APIErrorClass>> = {
  invalid_request: InvalidRequestError,
  unauthorized: UnauthorizedError,
  forbidden: ForbiddenError,
  not_found: NotFoundError,
  model_not_found: ModelNotFoundError,
  conflict: ConflictError,
  payload_too_large: PayloadTooLargeError,
  idempotency_key_reused: IdempotencyKeyReusedError,
  rate_limited: RateLimitedError,
  internal: InternalServerError,
  generation_failed: GenerationFailedError,
  gpu_unavailable: GPUUnavailableError,
  gpu_timeout: GPUTimeoutError,
};

const classByStatus: Record<number, APIErrorClass> = {
  400: InvalidRequestError,
  401: UnauthorizedError,
  403: ForbiddenError,
  404: NotFoundError,
  409: ConflictError,
  413: PayloadTooLargeError,
  422: IdempotencyKeyReusedError,
  429: RateLimitedError,
  500: InternalServerError,
  502: GenerationFailedError,
  503: GPUUnavailableError,
  504: GPUTimeoutError,
};

/** Builds the error for a 4xx/5xx answer: by problem `type` first, else by status. */
export function makeAPIError(status: number, bodyText: string, headers: Headers): APIError {
  const body = parseProblem(bodyText);
  const name = typeof body === 'object' && body.type?.startsWith(problemBase) ? body.type.slice(problemBase.length) : '';
  const ErrorClass = classByProblem[name as ProblemName] ?? classByStatus[status] ?? (status >= 500 ? InternalServerError : APIError);
  return new ErrorClass(status, body, headers);
}

function parseProblem(text: string): Problem | string | undefined {
  if (!text) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    if (value && typeof value === 'object' && 'status' in value) return value as Problem;
  } catch {
    // Not JSON (a proxy's HTML error page, say): keep the text.
  }
  return text;
}
