// X-Request-Id on every response (a caller's own id is kept if it is sane) and one structured log line per request.
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../../env.ts';
import { createLogger } from '../../log.ts';

const SANE_ID = /^[A-Za-z0-9._:-]{8,128}$/;

export function requestId(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const incoming = c.req.header('X-Request-Id');
    const id = incoming && SANE_ID.test(incoming) ? incoming : `req_${crypto.randomUUID().replace(/-/g, '')}`;
    const started = Date.now();
    const url = new URL(c.req.url);
    c.set('requestId', id);
    c.set('log', createLogger({ request_id: id }));
    await next();
    try {
      c.res.headers.set('X-Request-Id', id);
    } catch {
      // Responses passed through from fetch() or a Durable Object have immutable headers.
      c.res = new Response(c.res.body, c.res);
      c.res.headers.set('X-Request-Id', id);
    }
    const apiKey = c.get('apiKey');
    c.get('log').info('request', {
      method: c.req.method,
      path: url.pathname,
      status: c.res.status,
      duration_ms: Date.now() - started,
      kid: apiKey?.kid,
    });
  };
}
