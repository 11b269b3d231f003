// GET /v1/images/{key}.{ext}: public, immutable, content-addressed image bytes from the image
// store, with ETag / If-None-Match and single byte ranges. DELETE /v1/images/{key}: the owner of
// a private image removes it; shared images belong to every customer who asks for them.
import { Hono, type Context } from 'hono';
import type { AppEnv } from '../env.ts';
import { problem } from '../middleware/problem/index.ts';
import type { ImageMeta } from '../stores/images/contract.ts';
import { imageStoreFor } from '../generation/deps.ts';
import { bearerAuth } from '../middleware/auth/index.ts';
import { rateLimit } from '../middleware/rate-limit/index.ts';
import { FORMAT_OF_EXTENSION } from '../generation/formats.ts';
import { etagOf, imageHeaders, matchesEtag, parseRange } from '../images/http.ts';

const FILE = /^([0-9a-f]{64})\.([a-z]+)$/;
const KEY = /^[0-9a-f]{64}$/;

/** The full, 206 or 304 answer for an image whose bytes are in hand. */
export function serveImage(c: Context<AppEnv>, meta: ImageMeta, bytes: Uint8Array, extra: Record<string, string> = {}): Response {
  const headers = imageHeaders(meta);
  for (const [name, value] of Object.entries(extra)) headers.set(name, value);
  if (matchesEtag(c.req.header('If-None-Match'), etagOf(meta.key))) {
    headers.delete('Content-Type');
    return new Response(null, { status: 304, headers });
  }
  const range = parseRange(c.req.header('Range'), bytes.byteLength);
  if (range === 'unsatisfiable') {
    return problem(c, 'range_not_satisfiable', `The image has ${bytes.byteLength} bytes`, {
      headers: { 'Content-Range': `bytes */${bytes.byteLength}` },
    });
  }
  if (range) {
    headers.set('Content-Range', `bytes ${range.start}-${range.end}/${bytes.byteLength}`);
    headers.set('Content-Length', String(range.end - range.start + 1));
    return new Response(bytes.slice(range.start, range.end + 1), { status: 206, headers });
  }
  headers.set('Content-Length', String(bytes.byteLength));
  return new Response(bytes, { status: 200, headers });
}

export const images = new Hono<AppEnv>()
  .delete('/:key', bearerAuth(), rateLimit(), async (c) => {
    const key = c.req.param('key');
    if (!KEY.test(key))
      return problem(c, 'invalid_request', 'Delete an image by its key: DELETE /v1/images/<64 hex>', {
        errors: [{ path: 'key', message: 'not a content key' }],
      });
    const store = imageStoreFor(c);
    const stored = await store.findKey(key);
    // Another key's private image is answered as if it did not exist.
    if (!stored || (stored.owner !== undefined && stored.owner !== c.get('apiKey').kid))
      return problem(c, 'not_found', 'No image of yours has this key');
    if (stored.owner === undefined) {
      return problem(
        c,
        'forbidden',
        'Shared images cannot be deleted: other customers get the same image at the same URL. Generate with private: true to own (and delete) an image; to have a shared image removed, contact support with its key.',
      );
    }
    await store.delete(key, stored.format);
    c.get('log').info('image deleted', { key });
    return c.body(null, 204);
  })
  .get('/:file', async (c) => {
    const match = FILE.exec(c.req.param('file'));
    const format = match ? FORMAT_OF_EXTENSION[match[2]] : undefined;
    if (!match || !format)
      return problem(c, 'invalid_request', 'Image URLs look like /v1/images/<64 hex>.<png|webp|jpeg>', {
        errors: [{ path: 'key', message: 'malformed image key or extension' }],
      });
    const stored = await imageStoreFor(c).find(match[1], format, true);
    if (!stored?.bytes) return problem(c, 'not_found', 'No image has this key');
    return serveImage(c, stored, stored.bytes);
  });
