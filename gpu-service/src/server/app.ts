// The Hono app: /healthz and /readyz (open), then body limit and HMAC auth in
// front of everything else. Pure wiring; the pieces live in their own modules.
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { hmacAuth } from './auth.ts';
import { generateRoutes, type GenerateDeps } from './generate.ts';
import { READY_PATH, type ReadyResponse } from '@star-api/contract';
import { PROMETHEUS_CONTENT_TYPE } from './metrics-registry.ts';
import { problemNameForStatus, problemResponse } from './problem.ts';

export const MAX_BODY_BYTES = 64 * 1024;

export interface AppDeps extends GenerateDeps {
  sharedSecret: string;
  /** Refreshes samples that need an await (the engine worker's heap) before a scrape. */
  beforeScrape(): Promise<void>;
}

export function createApp(deps: AppDeps): Hono {
  const app = new Hono();

  // Liveness and readiness are open: platform probes (Docker, Modal, load
  // balancers) cannot sign, and the answers reveal nothing worth protecting.
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get(READY_PATH, (c) => {
    const status = deps.readiness();
    if (status === 'ready') return c.json({ status, models: [...deps.models.keys()] } satisfies ReadyResponse);
    return c.json({ status }, 503);
  });

  // Outermost, so 401 and 413 from the middleware below are counted too.
  app.use('/internal/*', async (c, next) => {
    await next();
    deps.metrics.requests.inc({ status: String(c.res.status) });
    const problem = problemNameForStatus(c.res.status);
    if (problem) deps.metrics.countError(problem);
  });
  app.use(
    '*',
    bodyLimit({ maxSize: MAX_BODY_BYTES, onError: () => problemResponse('payload_too_large', `body exceeds ${MAX_BODY_BYTES} bytes`) }),
  );
  app.use('*', hmacAuth(deps.sharedSecret));

  app.get('/metrics', async (c) => {
    await deps.beforeScrape();
    return c.body(deps.metrics.registry.render(), 200, { 'content-type': PROMETHEUS_CONTENT_TYPE });
  });

  app.route('/', generateRoutes(deps));

  app.notFound(() => problemResponse('not_found', 'no such route'));
  app.onError((error) => {
    // Unexpected: the message may be internal, so the client gets the type only.
    console.error('unhandled error', error);
    return problemResponse('generation_failed');
  });
  return app;
}
