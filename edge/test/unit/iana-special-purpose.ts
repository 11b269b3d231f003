// The IANA Special-Purpose Address Registries, transcribed as data for the SSRF tests:
// https://www.iana.org/assignments/iana-ipv4-special-registry (and -ipv6-special-registry),
// each row's block, name and "Globally Reachable" column (null where the registry says N/A).
// The `extra` rows are non-global blocks that live in other IANA registries (multicast,
// deprecated address types) and must be refused all the same.

export interface RegistryRow {
  block: string;
  name: string;
  global: boolean | null;
}

export const IPV4_SPECIAL: RegistryRow[] = [
  { block: '0.0.0.0/8', name: 'This network', global: false },
  { block: '0.0.0.0/32', name: 'This host on this network', global: false },
  { block: '10.0.0.0/8', name: 'Private-Use', global: false },
  { block: '100.64.0.0/10', name: 'Shared Address Space', global: false },
  { block: '127.0.0.0/8', name: 'Loopback', global: false },
  { block: '169.254.0.0/16', name: 'Link Local', global: false },
  { block: '172.16.0.0/12', name: 'Private-Use', global: false },
  { block: '192.0.0.0/24', name: 'IETF Protocol Assignments', global: false },
  { block: '192.0.0.0/29', name: 'IPv4 Service Continuity Prefix', global: false },
  { block: '192.0.0.8/32', name: 'IPv4 dummy address', global: false },
  { block: '192.0.0.9/32', name: 'Port Control Protocol Anycast', global: true },
  { block: '192.0.0.10/32', name: 'Traversal Using Relays around NAT Anycast', global: true },
  { block: '192.0.0.170/32', name: 'NAT64/DNS64 Discovery', global: false },
  { block: '192.0.0.171/32', name: 'NAT64/DNS64 Discovery', global: false },
  { block: '192.0.2.0/24', name: 'Documentation (TEST-NET-1)', global: false },
  { block: '192.31.196.0/24', name: 'AS112-v4', global: true },
  { block: '192.52.193.0/24', name: 'AMT', global: true },
  { block: '192.88.99.0/24', name: 'Deprecated (6to4 Relay Anycast)', global: null },
  { block: '192.168.0.0/16', name: 'Private-Use', global: false },
  { block: '192.175.48.0/24', name: 'Direct Delegation AS112 Service', global: true },
  { block: '198.18.0.0/15', name: 'Benchmarking', global: false },
  { block: '198.51.100.0/24', name: 'Documentation (TEST-NET-2)', global: false },
  { block: '203.0.113.0/24', name: 'Documentation (TEST-NET-3)', global: false },
  { block: '240.0.0.0/4', name: 'Reserved', global: false },
  { block: '255.255.255.255/32', name: 'Limited Broadcast', global: false },
];

export const IPV4_EXTRA: RegistryRow[] = [{ block: '224.0.0.0/4', name: 'Multicast (IPv4 multicast registry)', global: false }];

export const IPV6_SPECIAL: RegistryRow[] = [
  { block: '::1/128', name: 'Loopback Address', global: false },
  { block: '::/128', name: 'Unspecified Address', global: false },
  { block: '::ffff:0:0/96', name: 'IPv4-mapped Address', global: false },
  { block: '64:ff9b::/96', name: 'IPv4-IPv6 Translat.', global: true },
  { block: '64:ff9b:1::/48', name: 'IPv4-IPv6 Translat. (local use)', global: false },
  { block: '100::/64', name: 'Discard-Only Address Block', global: false },
  { block: '100:0:0:1::/64', name: 'Dummy IPv6 Prefix', global: false },
  { block: '2001::/23', name: 'IETF Protocol Assignments', global: false },
  { block: '2001::/32', name: 'TEREDO', global: null },
  { block: '2001:1::1/128', name: 'Port Control Protocol Anycast', global: true },
  { block: '2001:1::2/128', name: 'Traversal Using Relays around NAT Anycast', global: true },
  { block: '2001:1::3/128', name: 'DNS-SD Service Registration Protocol Anycast', global: true },
  { block: '2001:2::/48', name: 'Benchmarking', global: false },
  { block: '2001:3::/32', name: 'AMT', global: true },
  { block: '2001:4:112::/48', name: 'AS112-v6', global: true },
  { block: '2001:10::/28', name: 'Deprecated (previously ORCHID)', global: null },
  { block: '2001:20::/28', name: 'ORCHIDv2', global: true },
  { block: '2001:30::/28', name: 'Drone Remote ID Protocol Entity Tags (DETs) Prefix', global: true },
  { block: '2001:db8::/32', name: 'Documentation', global: false },
  { block: '2002::/16', name: '6to4', global: null },
  { block: '2620:4f:8000::/48', name: 'Direct Delegation AS112 Service', global: true },
  { block: '3fff::/20', name: 'Documentation', global: false },
  { block: '5f00::/16', name: 'Segment Routing (SRv6) SIDs', global: false },
  { block: 'fc00::/7', name: 'Unique-Local', global: false },
  { block: 'fe80::/10', name: 'Link-Local Unicast', global: false },
];

export const IPV6_EXTRA: RegistryRow[] = [
  { block: '::/96', name: 'IPv4-Compatible Address (deprecated, RFC 4291)', global: false },
  { block: 'fec0::/10', name: 'Site-Local (deprecated, RFC 3879)', global: false },
  { block: 'ff00::/8', name: 'Multicast', global: false },
];
