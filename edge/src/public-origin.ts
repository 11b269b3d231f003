// PUBLIC_ORIGIN (where clients reach the API) → a bare origin, or null if it is not one.
// Image URLs are built on it rather than on the request's Host header, which a client chooses.

/** `https://api.example.com` and `http://127.0.0.1:8787` (a trailing slash is dropped); null for anything with a path, credentials or another scheme. */
export function parsePublicOrigin(raw: string): string | null {
  const trimmed = raw.replace(/\/+$/, '');
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    return null;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
  return url.origin === trimmed ? url.origin : null;
}
