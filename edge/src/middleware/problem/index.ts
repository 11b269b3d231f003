// Hono glue for RFC 9457 problems (built in ../../problems): the request's instance and id, the
// app's onError and notFound handlers.
import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import type { AppEnv } from '../../env.ts';
import { problemResponse, ProblemError, type ProblemName, type ProblemOptions } from '../../problems/index.ts';

/** The problem+json response for the current request (adds request id, instance, Retry-After). */
export function problem(c: Context<AppEnv>, name: ProblemName, detail: string, options: ProblemOptions = {}): Response {
  return problemResponse(name, detail, { instance: new URL(c.req.url).pathname, requestId: c.get('requestId') ?? 'req_unknown' }, options);
}

export function problemFromError(c: Context<AppEnv>, error: ProblemError): Response {
  return problem(c, error.problem, error.message, error.options);
}

/** app.onError: known problems pass through; anything else is logged (message only) and becomes a bare 500. */
export const onError: ErrorHandler<AppEnv> = (error, c) => {
  if (error instanceof ProblemError) return problemFromError(c, error);
  c.get('log')?.error('unhandled error', { error: error instanceof Error ? `${error.name}: ${error.message}` : 'unknown' });
  return problem(c, 'internal', 'An internal error occurred; quote the request id when reporting it.');
};

export const onNotFound: NotFoundHandler<AppEnv> = (c) =>
  problem(c, 'not_found', `No route for ${c.req.method} ${new URL(c.req.url).pathname}`);
