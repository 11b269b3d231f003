// The contract and a reference page, served for people and tools: GET /openapi.yaml,
// GET /openapi.json and GET /docs. Not part of the versioned API (no key, no rate limit).
import { Hono } from 'hono';
import type { AppEnv } from '../env.ts';
import { OPENAPI_YAML, openApiDocument } from '../docs/openapi.ts';
import { docsPage } from '../docs/page.ts';

/** Short: a deploy changes the document. */
const CACHE = 'public, max-age=300';

export const docs = new Hono<AppEnv>()
  .get('/openapi.yaml', (c) => c.body(OPENAPI_YAML, 200, { 'Content-Type': 'application/yaml; charset=utf-8', 'Cache-Control': CACHE }))
  .get('/openapi.json', (c) => c.json(openApiDocument(), 200, { 'Cache-Control': CACHE }))
  .get('/docs', async (c) =>
    c.html(await docsPage(), 200, { 'Cache-Control': CACHE, 'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'" }),
  );
