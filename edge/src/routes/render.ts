// GET /v1/render?...&kid=&exp=&sig=: a signed URL answers image bytes, generating on first view.
// The signature stands in for the bearer key. Views are free (a popular <img> must not use up its
// owner's API quota): only a miss that generates costs that key an image token and a render token.
import { Hono, type MiddlewareHandler } from 'hono';
import type { AppEnv } from '../env.ts';
import { problem } from '../middleware/problem/index.ts';
import { lookupKey } from '../keys/lookup.ts';
import { timingSafeEqual } from '../crypto.ts';
import { canonicalQuery, MAX_RENDER_URL_LIFETIME_S, renderSignature } from '../render/signature.ts';
import { GenerationRequest } from '../schemas.gen.ts';
import { toParams, validate } from '../generation/validate.ts';
import { contentKey } from '../generation/params.ts';
import { generate } from '../generation/service.ts';
import { depsFor } from '../generation/deps.ts';
import { serveImage } from './images.ts';
import { etagOf, imageHeaders, imagePath, matchesEtag } from '../images/http.ts';

const NUMBER = /^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
const RENAMED: Record<string, string> = { format: 'output_format' };
const BOOLEANS = new Set(['more_smooth', 'png_metadata', 'private']);

function verifySignature(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const url = new URL(c.req.url);
    const entries = [...url.searchParams];
    const names = entries.map(([name]) => name);
    if (new Set(names).size !== names.length) return problem(c, 'forbidden', 'Each query parameter may appear once in a signed URL');
    const query = Object.fromEntries(entries);
    if (!/^[0-9a-f]{16}$/.test(query.kid ?? '') || !/^[0-9a-f]{64}$/.test(query.sig ?? '') || !/^\d{1,12}$/.test(query.exp ?? '')) {
      return problem(c, 'forbidden', 'A signed URL needs kid, exp and sig');
    }
    const nowS = Date.now() / 1000;
    if (Number(query.exp) < nowS) return problem(c, 'forbidden', 'The signed URL has expired');
    if (Number(query.exp) > nowS + MAX_RENDER_URL_LIFETIME_S) {
      return problem(c, 'forbidden', `The signed URL lives too long: exp may be at most ${MAX_RENDER_URL_LIFETIME_S} s (30 days) ahead`);
    }
    const record = await lookupKey(c.env, query.kid, c.get('config').keyCacheSeconds);
    const expected = record ? await renderSignature(record.sk, canonicalQuery(entries)) : '0'.repeat(64);
    if (!record || !timingSafeEqual(expected, query.sig) || record.revoked_at !== undefined)
      return problem(c, 'forbidden', 'The signature is not valid');
    c.set('apiKey', record);
    await next();
  };
}

/** Query strings → the GenerationRequest shape; the generated schema does the validation. */
function requestFromQuery(url: URL): Record<string, unknown> {
  // Render URLs end up in public pages: no prompt in the PNG unless the URL asks for it.
  const body: Record<string, unknown> = { seed: 0, png_metadata: false };
  for (const [name, value] of url.searchParams) {
    if (name === 'kid' || name === 'exp' || name === 'sig') continue;
    const field = RENAMED[name] ?? name;
    if (field === 'seed' || field === 'cfg' || field === 'top_k' || field === 'top_p')
      body[field] = NUMBER.test(value) ? Number(value) : value;
    else if (BOOLEANS.has(field)) body[field] = value === 'true' ? true : value === 'false' ? false : value;
    else body[field] = value;
  }
  return body;
}

export const render = new Hono<AppEnv>().get('/', verifySignature(), async (c) => {
  const url = new URL(c.req.url);
  const request = validate(GenerationRequest, requestFromQuery(url));
  const params = toParams({ ...request, n: 1 }, c.get('config'), c.get('apiKey').kid);
  const [seed] = params.seeds;
  const key = await contentKey(c.get('config').contentKeySecret, params, seed);
  const location = c.get('config').publicOrigin + imagePath(key, params.output_format);
  if (matchesEtag(c.req.header('If-None-Match'), etagOf(key))) {
    const headers = imageHeaders({ key, format: params.output_format, seed, width: 0, height: 0, model: params.model, size: 0 });
    for (const name of ['Content-Type', 'X-Image-Width', 'X-Image-Height', 'Accept-Ranges']) headers.delete(name);
    headers.set('Content-Location', location);
    return new Response(null, { status: 304, headers });
  }
  const outcome = await generate(depsFor(c), params, { needBytes: true, render: true });
  const image = outcome.images[0];
  return serveImage(c, image, image.bytes ?? new Uint8Array(), { 'Content-Location': location });
});
