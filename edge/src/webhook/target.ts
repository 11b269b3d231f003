// Which webhook URLs the Worker may call. In production only https to public hosts: no loopback,
// private, link-local, CGNAT, multicast or reserved literals, and no local-only names (SSRF).
// Names are not resolved here (Workers has no DNS API); Cloudflare's egress does not reach
// private networks, so a public name that resolves privately is not reachable either.

function ipv4Octets(host: string): number[] | null {
  const parts = host.split('.');
  if (parts.length !== 4 || !parts.every((part) => /^\d{1,3}$/.test(part))) return null;
  const octets = parts.map(Number);
  return octets.every((octet) => octet <= 255) ? octets : null;
}

function privateIpv4([a, b]: number[]): boolean {
  return (
    a === 0 || a === 10 || a === 127 || a >= 224 ||
    (a === 100 && b >= 64 && b <= 127) ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0) ||
    (a === 198 && (b === 18 || b === 19))
  );
}

function privateIpv6(host: string): boolean {
  const address = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (address === '::' || address === '::1') return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (mapped) return privateIpv4(ipv4Octets(mapped[1]) ?? [0]);
  const hextets = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(address);
  if (hextets) {
    const high = parseInt(hextets[1], 16);
    return privateIpv4([high >> 8, high & 0xff]);
  }
  const first = parseInt(address.split(':')[0] || '0', 16);
  return (first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfe80 || (first & 0xff00) === 0xff00 || address.startsWith('64:ff9b:') || address.startsWith('2001:db8:');
}

export type TargetVerdict = { ok: true; url: URL } | { ok: false; reason: string };

export function checkWebhookTarget(raw: string, allowPrivate: boolean): TargetVerdict {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'not a URL' };
  }
  if (url.username || url.password) return { ok: false, reason: 'credentials are not allowed in webhook URLs' };
  if (allowPrivate) return url.protocol === 'https:' || url.protocol === 'http:' ? { ok: true, url } : { ok: false, reason: 'must be http(s)' };
  if (url.protocol !== 'https:') return { ok: false, reason: 'must be https' };
  const host = url.hostname.toLowerCase().replace(/\.$/, '');
  if (host === 'localhost' || /\.(localhost|local|internal|home\.arpa)$/.test(host) || !host.includes('.') && !host.startsWith('[')) {
    return { ok: false, reason: 'must be a public host name' };
  }
  const v4 = ipv4Octets(host);
  if (v4 && privateIpv4(v4)) return { ok: false, reason: 'must not be a private, loopback or reserved address' };
  if (host.startsWith('[') && privateIpv6(host)) return { ok: false, reason: 'must not be a private, loopback or reserved address' };
  return { ok: true, url };
}
