// Which IP literals are globally reachable, after the IANA IPv4 and IPv6 Special-Purpose Address
// Registries (https://www.iana.org/assignments/iana-ipv4-special-registry,
// .../iana-ipv6-special-registry): a block marked "Globally Reachable: False" is refused, and so
// is every form that smuggles an IPv4 address into IPv6 unless the IPv4 address is global itself.
// Addresses are numbers here (IPv4 a uint32, IPv6 a bigint) so a block test is one shift.

interface Block {
  base: bigint;
  bits: number;
}

function block(cidr: string, parse: (text: string) => bigint | null): Block {
  const [address, bits] = cidr.split('/');
  const base = parse(address);
  if (base === null) throw new Error(`bad block ${cidr}`);
  return { base, bits: Number(bits) };
}

function inBlock(address: bigint, { base, bits }: Block, width: number): boolean {
  const shift = BigInt(width - bits);
  return address >> shift === base >> shift;
}

/** Dotted-quad decimal only: what the URL parser leaves of every IPv4 spelling (hex, octal, one number). */
export function parseIpv4(text: string): bigint | null {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((part) => /^(0|[1-9]\d{0,2})$/.test(part) && Number(part) <= 255)) return null;
  return parts.reduce((value, part) => (value << 8n) | BigInt(part), 0n);
}

/** RFC 4291 text (with `::` and an optional trailing dotted quad), no brackets or zone. */
export function parseIpv6(text: string): bigint | null {
  let hextets: string[];
  let tail: bigint[] = [];
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const v4 = parseIpv4(dotted[2]);
    if (v4 === null) return null;
    text = `${dotted[1]}0:0`;
    tail = [v4 >> 16n, v4 & 0xffffn];
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const split = (half: string) => (half === '' ? [] : half.split(':'));
  if (halves.length === 2) {
    const [head, rest] = [split(halves[0]), split(halves[1])];
    if (head.length + rest.length > 7) return null;
    hextets = [...head, ...Array(8 - head.length - rest.length).fill('0'), ...rest];
  } else {
    hextets = split(text);
  }
  if (hextets.length !== 8 || !hextets.every((h) => /^[0-9a-f]{1,4}$/i.test(h))) return null;
  let value = hextets.reduce((acc, h) => (acc << 16n) | BigInt(parseInt(h, 16)), 0n);
  if (tail.length) value = ((value >> 32n) << 32n) | (tail[0] << 16n) | tail[1];
  return value;
}

const v4 = (cidr: string) => block(cidr, parseIpv4);
const v6 = (cidr: string) => block(cidr, parseIpv6);

/** IPv4 blocks that are not globally reachable (the registry's "False", plus multicast and the deprecated 6to4 relay). */
const IPV4_NOT_GLOBAL = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '192.88.99.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/4',
  '240.0.0.0/4',
].map(v4);
/** Inside 192.0.0.0/24 but marked globally reachable: PCP and TURN anycast. */
const IPV4_GLOBAL_EXCEPTIONS = ['192.0.0.9/32', '192.0.0.10/32'].map(v4);

export function isGlobalIpv4(address: bigint): boolean {
  if (IPV4_GLOBAL_EXCEPTIONS.some((b) => inBlock(address, b, 32))) return true;
  return !IPV4_NOT_GLOBAL.some((b) => inBlock(address, b, 32));
}

/** Only 2000::/3 is allocated as global unicast; everything outside it (loopback, ::/96 IPv4-compatible, ::ffff:0:0/96 IPv4-mapped, 64:ff9b:1::/48, 100::/64 discard-only, 5f00::/16, fc00::/7, fe80::/10, fec0::/10 site-local, ff00::/8) is refused, except NAT64 below. */
const GLOBAL_UNICAST = v6('2000::/3');
/** Well-known NAT64 prefix: global, as far as the IPv4 address in its last 32 bits is. */
const NAT64 = v6('64:ff9b::/96');
/** 6to4: global, as far as the IPv4 address in bits 16–47 is. */
const SIX_TO_FOUR = v6('2002::/16');
/** Non-global blocks inside 2000::/3: IETF protocol assignments (Teredo 2001::/32, benchmarking, ORCHID), documentation. */
const IPV6_NOT_GLOBAL = ['2001::/23', '2001:db8::/32', '3fff::/20'].map(v6);
/** Inside 2001::/23 but marked globally reachable: PCP, TURN and DNS-SD SRP anycast, AMT, AS112-v6, ORCHIDv2, DETs. */
const IPV6_GLOBAL_EXCEPTIONS = [
  '2001:1::1/128',
  '2001:1::2/128',
  '2001:1::3/128',
  '2001:3::/32',
  '2001:4:112::/48',
  '2001:20::/28',
  '2001:30::/28',
].map(v6);

export function isGlobalIpv6(address: bigint): boolean {
  if (inBlock(address, NAT64, 128)) return isGlobalIpv4(address & 0xffff_ffffn);
  if (!inBlock(address, GLOBAL_UNICAST, 128)) return false;
  if (inBlock(address, SIX_TO_FOUR, 128)) return isGlobalIpv4((address >> 80n) & 0xffff_ffffn);
  if (IPV6_GLOBAL_EXCEPTIONS.some((b) => inBlock(address, b, 128))) return true;
  return !IPV6_NOT_GLOBAL.some((b) => inBlock(address, b, 128));
}
