// Which webhook URLs the Worker may call. In production only https to public hosts: no IP literal
// that is not globally reachable (global-address.ts, after the IANA registries), no single-label
// or local-only names (SSRF). Names are not resolved here (Workers has no DNS API); Cloudflare's
// egress does not reach private networks, so a public name that resolves privately is not
// reachable either.
import { isGlobalIpv4, isGlobalIpv6, parseIpv4, parseIpv6 } from './global-address.ts';

/**
 * Suffixes of names that only mean something inside a network: RFC 6761/6762 special-use and
 * local names (localhost, local, home.arpa, test, invalid, the reverse-lookup .arpa trees, onion,
 * alt) and the common private ones (Kubernetes' `.svc`, `.internal`, `.lan`, `.corp`, …).
 */
const LOCAL_SUFFIXES = [
  'localhost',
  'local',
  'internal',
  'arpa',
  'svc',
  'test',
  'invalid',
  'onion',
  'alt',
  'lan',
  'home',
  'corp',
  'intranet',
  'private',
  'localdomain',
];

export type TargetVerdict = { ok: true; url: URL } | { ok: false; reason: string };

const notGlobal: TargetVerdict = { ok: false, reason: 'must not be a private, loopback or reserved address' };

/** The URL parser has already turned every IPv4 spelling (hex, octal, one number, fewer parts) into dotted decimal. */
function checkHost(host: string): TargetVerdict | null {
  if (host.startsWith('[')) {
    const address = parseIpv6(host.slice(1, -1));
    return address !== null && isGlobalIpv6(address) ? null : notGlobal;
  }
  const address = parseIpv4(host);
  if (address !== null) return isGlobalIpv4(address) ? null : notGlobal;
  const labels = host.split('.');
  const last = labels[labels.length - 1];
  // A name whose last label is numeric would have been parsed as IPv4; refuse rather than guess.
  if (/^(0x[0-9a-f]*|\d+)$/i.test(last)) return { ok: false, reason: 'must not be a numeric host that is not a dotted-quad address' };
  if (labels.length < 2) return { ok: false, reason: 'must be a public host name (not a single label)' };
  if (LOCAL_SUFFIXES.includes(last)) return { ok: false, reason: 'must be a public host name (not a local-only name)' };
  return null;
}

export function checkWebhookTarget(raw: string, allowPrivate: boolean): TargetVerdict {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'not a URL' };
  }
  if (url.username || url.password) return { ok: false, reason: 'credentials are not allowed in webhook URLs' };
  if (allowPrivate)
    return url.protocol === 'https:' || url.protocol === 'http:' ? { ok: true, url } : { ok: false, reason: 'must be http(s)' };
  if (url.protocol !== 'https:') return { ok: false, reason: 'must be https' };
  return checkHost(url.hostname.toLowerCase().replace(/\.$/, '')) ?? { ok: true, url };
}
