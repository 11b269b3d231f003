// Images over HTTP: their public path, their immutable headers, and the conditionals
// (If-None-Match, single byte ranges).
import { CONTENT_TYPES, type ImageFormat } from '../generation/formats.ts';
import type { ImageMeta } from '../stores/images/contract.ts';

export const IMMUTABLE = 'public, max-age=31536000, immutable';

export function imagePath(key: string, format: ImageFormat): string {
  return `/v1/images/${key}.${format}`;
}

export function etagOf(key: string): string {
  return `"${key}"`;
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

export function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((candidate) => candidate.trim().replace(/^W\//, '') === etag);
}

export type ByteRange = { start: number; end: number } | 'unsatisfiable' | null;

/** One `bytes=` range; anything else (several ranges, other units) is ignored and answered whole. */
export function parseRange(header: string | undefined, size: number): ByteRange {
  if (!header) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return null;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}
