// The image store on Workers: R2 is the record, the Cache API (keyed by the public image URL) a
// best-effort copy in front of it. Reads try the cache, then R2, and copy an R2 read into the
// cache; writes go to R2 first, then to the cache behind the response. What an image is (not its
// bytes) is also remembered in the isolate for a minute, so a repeated request that needs only the
// URL (most cache hits) costs no lookup at all. A deletion clears it here and in this location's
// cache at once; other isolates may name the deleted image for up to IMAGE_META_TTL_MS, as other
// locations' caches may serve it until they evict it.
import type { Bindings } from '../../env.ts';
import { IsolateCache } from '../../isolate-cache.ts';
import { CONTENT_TYPES, type ImageFormat } from '../../generation/formats.ts';
import { IMMUTABLE, imageHeaders, imagePath } from '../../images/http.ts';
import type { ImageMeta, ImageStore, StoredImage } from './contract.ts';

const FORMATS = Object.keys(CONTENT_TYPES) as ImageFormat[];

export const IMAGE_META_TTL_MS = 60_000;
/** Images this isolate has seen stored, by public URL. */
const known = new IsolateCache<ImageMeta>();

function objectKey(key: string, format: ImageFormat): string {
  return `images/${key}.${format}`;
}

function metaFromObject(key: string, format: ImageFormat, object: R2Object): ImageMeta | null {
  const custom = object.customMetadata ?? {};
  const seed = Number(custom.seed);
  const width = Number(custom.width);
  const height = Number(custom.height);
  if (!Number.isFinite(seed) || !Number.isFinite(width) || !Number.isFinite(height)) return null;
  return { key, format, seed, width, height, model: custom.model ?? '', size: object.size };
}

function metaFromCachedResponse(key: string, format: ImageFormat, response: Response): ImageMeta | null {
  const seed = Number(response.headers.get('X-Image-Seed'));
  const width = Number(response.headers.get('X-Image-Width'));
  const height = Number(response.headers.get('X-Image-Height'));
  const size = Number(response.headers.get('Content-Length'));
  if (!response.headers.has('X-Image-Seed') || !Number.isFinite(width) || !Number.isFinite(height)) return null;
  return { key, format, seed, width, height, model: '', size: Number.isFinite(size) ? size : 0 };
}

/** The Cache API where it exists (not in every Durable Object context); failures only cost a miss. */
function edgeCache(): Cache | null {
  try {
    return typeof caches === 'undefined' ? null : caches.default;
  } catch {
    return null;
  }
}

async function cachedImage(url: string): Promise<Response | null> {
  try {
    return (await edgeCache()?.match(url)) ?? null;
  } catch {
    return null;
  }
}

async function cacheImage(url: string, meta: ImageMeta, bytes: Uint8Array): Promise<void> {
  const cache = edgeCache();
  if (!cache) return;
  const headers = imageHeaders(meta);
  headers.set('Content-Length', String(bytes.byteLength));
  try {
    await cache.put(url, new Response(bytes, { headers }));
  } catch {
    // a cache that refuses is a cache miss next time
  }
}

async function readR2(env: Bindings, key: string, format: ImageFormat, withBytes: boolean): Promise<StoredImage | null> {
  if (!withBytes) {
    const head = await env.IMAGES.head(objectKey(key, format));
    return head ? metaFromObject(key, format, head) : null;
  }
  const object = await env.IMAGES.get(objectKey(key, format));
  if (!object) return null;
  const meta = metaFromObject(key, format, object);
  const bytes = new Uint8Array(await object.arrayBuffer());
  return meta ? { ...meta, bytes } : null;
}

/** `origin` is the public API's (cache keys are the public image URLs); `waitUntil` keeps cache
 *  writes alive after the response. */
export function cacheR2ImageStore(env: Bindings, origin: string, waitUntil: (promise: Promise<unknown>) => void): ImageStore {
  const cacheUrl = (key: string, format: ImageFormat) => origin + imagePath(key, format);
  return {
    async find(key, format, withBytes) {
      const url = cacheUrl(key, format);
      const seen = withBytes ? undefined : known.get(url);
      if (seen) return seen;
      const hit = await cachedImage(url);
      if (hit) {
        const meta = metaFromCachedResponse(key, format, hit);
        if (meta) known.set(url, meta, IMAGE_META_TTL_MS);
        if (meta && !withBytes) {
          await hit.body?.cancel();
          return meta;
        }
        if (meta) return { ...meta, bytes: new Uint8Array(await hit.arrayBuffer()) };
        await hit.body?.cancel();
      }
      const stored = await readR2(env, key, format, withBytes);
      if (stored) {
        const { bytes: _bytes, ...meta } = stored;
        known.set(url, meta, IMAGE_META_TTL_MS);
      }
      if (stored?.bytes) waitUntil(cacheImage(url, stored, stored.bytes));
      return stored;
    },

    async put(images, owner) {
      await Promise.all(
        images.map((image) => {
          const customMetadata: Record<string, string> = {
            seed: String(image.seed),
            width: String(image.width),
            height: String(image.height),
            model: image.model,
          };
          if (owner !== undefined) customMetadata.owner = owner;
          return env.IMAGES.put(objectKey(image.key, image.format), image.bytes, {
            httpMetadata: { contentType: CONTENT_TYPES[image.format], cacheControl: IMMUTABLE },
            customMetadata,
          });
        }),
      );
      for (const image of images) {
        const { bytes, ...meta } = image;
        known.set(cacheUrl(image.key, image.format), meta, IMAGE_META_TTL_MS);
        waitUntil(cacheImage(cacheUrl(image.key, image.format), meta, bytes));
      }
    },

    async findKey(key) {
      const heads = await Promise.all(FORMATS.map((format) => env.IMAGES.head(objectKey(key, format))));
      const index = heads.findIndex((head) => head !== null);
      const head = heads[index];
      if (!head) return null;
      const owner = head.customMetadata?.owner;
      return { format: FORMATS[index], ...(owner !== undefined ? { owner } : {}) };
    },

    /** Removes an image from R2 and from this location's Cache API. */
    async delete(key, format) {
      known.delete(cacheUrl(key, format));
      await env.IMAGES.delete(objectKey(key, format));
      await edgeCache()
        ?.delete(cacheUrl(key, format))
        .catch(() => false);
    },
  };
}
