import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import ipaddr from 'ipaddr.js';
import proxyaddr from 'proxy-addr';
import { LruMap } from '../lru-map.js';

/**
 * Which hops in front of the server may say who the client is (through
 * `X-Forwarded-For`): none (the default: the socket's address is the
 * client), a number of proxies counted from the server, or proxies named by
 * address or CIDR (`10.0.0.0/8`, `::1`, or proxy-addr's names `loopback`,
 * `linklocal`, `uniquelocal`).
 */
export type TrustProxy = { kind: 'none' } | { kind: 'hops'; hops: number } | { kind: 'addresses'; addresses: string[] };

/** The client's address for a request, as limits and logs should see it. */
export type ClientAddressOf = (c: Context) => string;

/**
 * Parses the `TRUST_PROXY` setting: empty or `false` for none, a whole
 * number of hops, or a comma-separated list of addresses and CIDRs.
 *
 * @throws Error with a message fit for a configuration error.
 * @example parseTrustProxy('1') // { kind: 'hops', hops: 1 }
 * @example parseTrustProxy('10.0.0.0/8, ::1') // { kind: 'addresses', addresses: ['10.0.0.0/8', '::1'] }
 */
export function parseTrustProxy(value: string | undefined): TrustProxy {
  const text = (value ?? '').trim();
  if (text === '' || text === 'false' || text === '0') return { kind: 'none' };
  if (/^\d+$/.test(text)) {
    const hops = Number(text);
    if (hops > 32) throw new Error('must be a hop count from 0 to 32, or a comma-separated list of proxy addresses or CIDRs');
    return { kind: 'hops', hops };
  }
  // "true" would trust whatever the client writes into X-Forwarded-For.
  if (text === 'true') throw new Error('must be a hop count or a list of proxy addresses (true would let any client choose its address)');
  const addresses = text.split(',').map((a) => a.trim()).filter((a) => a !== '');
  try {
    proxyaddr.compile(addresses);
  } catch {
    throw new Error('must be a hop count from 0 to 32, or a comma-separated list of proxy addresses or CIDRs');
  }
  return { kind: 'addresses', addresses };
}

/**
 * Makes the function that reads a request's client address: the socket's
 * peer, or — through trusted proxies only — the nearest untrusted address in
 * `X-Forwarded-For` (proxy-addr, the same rules as Express's `trust proxy`).
 * Requests that did not come over a socket (`app.request` in tests) are
 * `unknown`.
 */
export function createClientAddressResolver(trust: TrustProxy): ClientAddressOf {
  const isTrusted =
    trust.kind === 'none'
      ? () => false
      : trust.kind === 'hops'
        ? (_address: string, hop: number) => hop < trust.hops
        : proxyaddr.compile(trust.addresses);
  // Parsing an address costs more than answering a cached slot list: each one is parsed once.
  const canonical = new LruMap<string, string>(10_000);
  return function clientAddressOf(c) {
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    if (!incoming?.socket) return 'unknown';
    const address = trust.kind === 'none' ? incoming.socket.remoteAddress : proxyaddr(incoming, isTrusted);
    if (!address) return 'unknown';
    let normal = canonical.get(address);
    if (normal === undefined) {
      normal = canonicalAddress(address);
      canonical.set(address, normal);
    }
    return normal;
  };
}

/** IPv4-mapped IPv6 (`::ffff:1.2.3.4`) as IPv4; other addresses in their normal form. */
function canonicalAddress(address: string): string {
  if (!ipaddr.isValid(address)) return address;
  const parsed = ipaddr.process(address);
  return parsed.toString();
}

/**
 * The key a per-address limit counts under: an IPv4 address as it is, an
 * IPv6 address by its /64, since one subscriber usually holds a whole /64
 * and could otherwise step through it.
 *
 * @example addressLimitKey('2001:db8:1:2:aaaa::1') // '2001:db8:1:2::/64'
 */
export function addressLimitKey(address: string): string {
  if (!ipaddr.isValid(address)) return address;
  const parsed = ipaddr.process(address);
  if (parsed.kind() === 'ipv4') return parsed.toString();
  const parts = (parsed as ipaddr.IPv6).parts.slice(0, 4);
  return `${new ipaddr.IPv6([...parts, 0, 0, 0, 0]).toString()}/64`;
}
