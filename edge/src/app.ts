// The Worker's routes and the middleware each one runs behind.
import { Hono, type MiddlewareHandler } from 'hono';
import { ConfigError, readConfig, type AppEnv } from './env.ts';
import { requestId } from './middleware/request-id/index.ts';
import { browserCors } from './middleware/cors/index.ts';
import { bodyLimit } from './middleware/body-limit/index.ts';
import { bearerAuth } from './middleware/auth/index.ts';
import { rateLimit } from './middleware/rate-limit/index.ts';
import { onError, onNotFound, problem } from './middleware/problem/index.ts';
import { generations } from './routes/generations.ts';
import { images } from './routes/images.ts';
import { render } from './routes/render.ts';
import { jobs } from './routes/jobs.ts';
import { docs } from './routes/docs.ts';
import { modelList } from './models.ts';
import { PLAYGROUND_HTML } from './playground/page.ts';

function config(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    try {
      c.set('config', readConfig(c.env));
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      c.get('log').error('configuration error', { error: error.message });
      return problem(c, 'internal', 'The service is misconfigured');
    }
    await next();
  };
}

export function createApp() {
  const app = new Hono<AppEnv>();
  app.onError(onError);
  app.notFound(onNotFound);
  app.use('*', requestId(), browserCors());
  app.use('/v1/*', config(), bodyLimit());
  for (const path of ['/v1/models', '/v1/images/generations', '/v1/jobs/*']) app.use(path, bearerAuth(), rateLimit());

  app.get('/', (c) =>
    c.html(PLAYGROUND_HTML, 200, {
      'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'",
    }),
  );
  app.get('/healthz', (c) => c.json({ status: 'ok' as const }));
  app.route('/', docs);
  app.get('/v1/models', async (c) => c.json({ object: 'list' as const, data: await modelList(c.get('config')) }));
  app.route('/v1/images/generations', generations);
  app.route('/v1/images', images);
  app.route('/v1/render', render);
  app.route('/v1/jobs', jobs);
  return app;
}
