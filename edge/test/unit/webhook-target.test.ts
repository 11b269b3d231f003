// SSRF rules for webhook URLs, checked against the IANA special-purpose registries row by row,
// in every spelling an address can take in a URL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkWebhookTarget } from '../../src/webhook/target.ts';
import { IPV4_EXTRA, IPV4_SPECIAL, IPV6_EXTRA, IPV6_SPECIAL, type RegistryRow } from './iana-special-purpose.ts';

const allowed = (url: string) => checkWebhookTarget(url, false).ok;

function v4Number(dotted: string): number {
  return dotted.split('.').reduce((value, part) => value * 256 + Number(part), 0);
}
function v4Text(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}
function v6Number(text: string): bigint {
  const [head, tail = ''] = text.split('::');
  const parts = (s: string) => (s ? s.split(':') : []);
  const hextets = [...parts(head), ...Array(8 - parts(head).length - parts(tail).length).fill('0'), ...parts(tail)];
  return hextets.reduce((acc, h) => (acc << 16n) | BigInt(parseInt(h, 16)), 0n);
}
function v6Text(value: bigint): string {
  return Array.from({ length: 8 }, (_, i) => ((value >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(':');
}
/** First, middle and last address of a block. */
function v4Samples({ block }: RegistryRow): number[] {
  const [base, bits] = block.split('/');
  const first = v4Number(base);
  const size = 2 ** (32 - Number(bits));
  return [...new Set([first, first + Math.floor(size / 2), first + size - 1])];
}
function v6Samples({ block }: RegistryRow): bigint[] {
  const [base, bits] = block.split('/');
  const first = v6Number(base);
  const size = 1n << BigInt(128 - Number(bits));
  return [...new Set([first, first + size / 2n, first + size - 1n])];
}

/** Every way a URL can name one IPv4 address directly: the URL parser turns all into dotted decimal. */
function v4Spellings(value: number): string[] {
  const octets = v4Text(value).split('.').map(Number);
  return [
    v4Text(value),
    String(value), // one decimal number
    `0x${value.toString(16)}`, // one hex number
    octets.map((o) => `0${o.toString(8)}`).join('.'), // octal parts
    octets.map((o) => `0x${o.toString(16)}`).join('.'), // hex parts
    `${octets[0]}.${octets[1]}.${octets[2] * 256 + octets[3]}`, // three parts
  ];
}

/** IPv6 forms that carry an IPv4 address. */
function embeddings(value: number): { mapped: string; compatible: string; sixToFour: string; nat64: string; teredo: string } {
  const high = Math.floor(value / 65536).toString(16);
  const low = (value % 65536).toString(16);
  const obfuscated = (0xffffffff - value) >>> 0; // Teredo stores the client address XOR 0xffffffff
  return {
    mapped: `::ffff:${v4Text(value)}`,
    compatible: `::${v4Text(value)}`,
    sixToFour: `2002:${high}:${low}::1`,
    nat64: `64:ff9b::${v4Text(value)}`,
    teredo: `2001:0:4136:e378:8000:63bf:${Math.floor(obfuscated / 65536).toString(16)}:${(obfuscated % 65536).toString(16)}`,
  };
}

// Where the registry says N/A: the deprecated 6to4 relay anycast block is refused.
const v4Global = (row: RegistryRow) => row.global === true;

for (const row of [...IPV4_SPECIAL, ...IPV4_EXTRA]) {
  test(`IPv4 ${row.block} (${row.name}, globally reachable: ${row.global}) in every spelling and IPv6 embedding`, () => {
    for (const value of v4Samples(row)) {
      for (const spelling of v4Spellings(value)) assert.equal(allowed(`https://${spelling}/hook`), v4Global(row), spelling);
      const forms = embeddings(value);
      assert.equal(allowed(`https://[${forms.mapped}]/`), false, `IPv4-mapped ${forms.mapped} is never global`);
      assert.equal(allowed(`https://[${forms.compatible}]/`), false, `IPv4-compatible ${forms.compatible} is never global`);
      assert.equal(allowed(`https://[${forms.teredo}]/`), false, `Teredo ${forms.teredo} is never global`);
      assert.equal(allowed(`https://[${forms.sixToFour}]/`), v4Global(row), `6to4 ${forms.sixToFour}`);
      assert.equal(allowed(`https://[${forms.nat64}]/`), v4Global(row), `NAT64 ${forms.nat64}`);
    }
  });
}

// Where the registry says N/A: Teredo and the deprecated ORCHID block are refused; 6to4 follows
// the IPv4 address it embeds (the IPv4 table above covers that).
const v6Expected = (row: RegistryRow, value: bigint): boolean => {
  if (row.block === '2002::/16') return allowed(`https://${v4Text(Number((value >> 80n) & 0xffffffffn))}/`);
  if (row.block === '64:ff9b::/96') return allowed(`https://${v4Text(Number(value & 0xffffffffn))}/`);
  return row.global === true;
};

for (const row of [...IPV6_SPECIAL, ...IPV6_EXTRA]) {
  test(`IPv6 ${row.block} (${row.name}, globally reachable: ${row.global})`, () => {
    for (const value of v6Samples(row)) {
      const url = `https://[${v6Text(value)}]/hook`;
      assert.equal(allowed(url), v6Expected(row, value), url);
    }
  });
}

test('ordinary public addresses and names are allowed', () => {
  for (const url of [
    'https://example.com/hook',
    'https://hooks.example.co.uk:8443/a?b=c',
    'https://93.184.216.34/x',
    'https://8.8.8.8/x',
    'https://[2606:2800:220:1::1]/x',
    'https://[2a00:1450:4001:82a::200e]/x',
    'https://[64:ff9b::8.8.8.8]/x',
    'https://[2002:808:808::1]/x', // 6to4 around 8.8.8.8
    'https://svc.example.com/x', // a label that is a local suffix elsewhere in the name is fine
  ]) {
    assert.equal(allowed(url), true, url);
  }
});

test('single-label hosts and local-only names are refused', () => {
  for (const url of [
    'https://localhost/x',
    'https://localhost./x',
    'https://api.localhost/x',
    'https://printer.local/x',
    'https://kubernetes.default.svc/x',
    'https://api.default.svc.cluster.local/x',
    'https://metadata.google.internal/computeMetadata/v1',
    'https://router.home.arpa/x',
    'https://1.0.0.10.in-addr.arpa/x',
    'https://example.test/x',
    'https://x.invalid/x',
    'https://hidden.onion/x',
    'https://nas.lan/x',
    'https://intranet/x',
    'https://metadata/x',
  ]) {
    assert.equal(allowed(url), false, url);
  }
});

test('http, other schemes, credentials and non-URLs are refused', () => {
  for (const url of ['http://example.com/hook', 'ftp://example.com/x', 'https://user:pass@example.com/x', 'not a url']) {
    assert.equal(allowed(url), false, url);
  }
});

test('the local-testing switch allows http and loopback, nothing else', () => {
  assert.equal(checkWebhookTarget('http://127.0.0.1:9999/hook', true).ok, true);
  assert.equal(checkWebhookTarget('file:///etc/passwd', true).ok, false);
});
