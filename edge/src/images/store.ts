// Image bytes by content key: R2 is the record, the Cache API a best-effort copy in front of it.
import type { Bindings } from '../env.ts';
import { CONTENT_TYPES, type ImageFormat } from '../generation/formats.ts';

export const IMMUTABLE = 'public, max-age=31536000, immutable';

const FORMATS = Object.keys(CONTENT_TYPES) as ImageFormat[];

export interface ImageMeta {
  key: string;
  format: ImageFormat;
  seed: number;
  width: number;
  height: number;
  model: string;
  size: number;
}

export interface StoredImage extends ImageMeta {
  bytes?: Uint8Array;
}

export function objectKey(key: string, format: ImageFormat): string {
  return `images/${key}.${format}`;
}

export function imagePath(key: string, format: ImageFormat): string {
  return `/v1/images/${key}.${format}`;
}

export function etagOf(key: string): string {
  return `"${key}"`;
}

function metaFromObject(key: string, format: ImageFormat, object: R2Object): ImageMeta | null {
  const custom = object.customMetadata ?? {};
  const seed = Number(custom.seed);
  const width = Number(custom.width);
  const height = Number(custom.height);
  if (!Number.isFinite(seed) || !Number.isFinite(width) || !Number.isFinite(height)) return null;
  return { key, format, seed, width, height, model: custom.model ?? '', size: object.size };
}

export async function findImage(env: Bindings, key: string, format: ImageFormat, withBytes: boolean): Promise<StoredImage | null> {
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

/** Stores one complete, validated image. Its key never changes meaning, so overwriting is harmless.
 *  `owner` is the key id of a private image's API key (the one allowed to delete it). */
export async function storeImage(env: Bindings, image: ImageMeta & { bytes: Uint8Array }, owner?: string): Promise<void> {
  const customMetadata: Record<string, string> = { seed: String(image.seed), width: String(image.width), height: String(image.height), model: image.model };
  if (owner !== undefined) customMetadata.owner = owner;
  await env.IMAGES.put(objectKey(image.key, image.format), image.bytes, {
    httpMetadata: { contentType: CONTENT_TYPES[image.format], cacheControl: IMMUTABLE },
    customMetadata,
  });
}

/** A stored image by key alone (a content key names one format): its format and private owner. */
export async function findStoredKey(env: Bindings, key: string): Promise<{ format: ImageFormat; owner?: string } | null> {
  const heads = await Promise.all(FORMATS.map((format) => env.IMAGES.head(objectKey(key, format))));
  const index = heads.findIndex((head) => head !== null);
  if (index < 0) return null;
  const owner = heads[index]!.customMetadata?.owner;
  return { format: FORMATS[index], ...(owner !== undefined ? { owner } : {}) };
}

/** Removes an image from R2 and from this location's Cache API. */
export async function deleteImage(env: Bindings, key: string, format: ImageFormat, cacheUrl: string): Promise<void> {
  await env.IMAGES.delete(objectKey(key, format));
  const cache = await edgeCache();
  await cache?.delete(cacheUrl).catch(() => false);
}

export function imageHeaders(meta: ImageMeta): Headers {
  return new Headers({
    'Content-Type': CONTENT_TYPES[meta.format],
    'Cache-Control': IMMUTABLE,
    ETag: etagOf(meta.key),
    'Accept-Ranges': 'bytes',
    'X-Image-Seed': String(meta.seed),
    'X-Image-Width': String(meta.width),
    'X-Image-Height': String(meta.height),
  });
}

/** The Cache API where it exists (not in every Durable Object context); failures only cost a miss. */
async function edgeCache(): Promise<Cache | null> {
  try {
    return typeof caches === 'undefined' ? null : caches.default;
  } catch {
    return null;
  }
}

export async function cachedImage(url: string): Promise<Response | null> {
  const cache = await edgeCache();
  if (!cache) return null;
  try {
    return (await cache.match(url)) ?? null;
  } catch {
    return null;
  }
}

export async function cacheImage(url: string, meta: ImageMeta, bytes: Uint8Array): Promise<void> {
  const cache = await edgeCache();
  if (!cache) return;
  const headers = imageHeaders(meta);
  headers.set('Content-Length', String(bytes.byteLength));
  try {
    await cache.put(url, new Response(bytes, { headers }));
  } catch {
    // a cache that refuses is a cache miss next time
  }
}

export function metaFromCachedResponse(key: string, format: ImageFormat, response: Response): ImageMeta | null {
  const seed = Number(response.headers.get('X-Image-Seed'));
  const width = Number(response.headers.get('X-Image-Width'));
  const height = Number(response.headers.get('X-Image-Height'));
  const size = Number(response.headers.get('Content-Length'));
  if (!response.headers.has('X-Image-Seed') || !Number.isFinite(width) || !Number.isFinite(height)) return null;
  return { key, format, seed, width, height, model: '', size: Number.isFinite(size) ? size : 0 };
}
