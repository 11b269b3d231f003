// CORS for browser clients: any origin may call the API with a bearer key (no cookies are used),
// and the headers a client needs to read (ids, limits, locations) are exposed.
import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import type { AppEnv } from '../../env.ts';

export const EXPOSED_HEADERS = [
  'X-Request-Id',
  'RateLimit',
  'RateLimit-Policy',
  'Retry-After',
  'Location',
  'Content-Location',
  'Idempotent-Replayed',
  'ETag',
  'Content-Range',
];

export function browserCors(): MiddlewareHandler<AppEnv> {
  return cors({
    origin: '*',
    allowMethods: ['GET', 'HEAD', 'POST', 'DELETE', 'OPTIONS'],
    allowHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'Last-Event-ID', 'If-None-Match', 'Range', 'X-Request-Id'],
    exposeHeaders: EXPOSED_HEADERS,
    maxAge: 86_400,
  });
}
