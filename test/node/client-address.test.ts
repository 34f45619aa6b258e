import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { addressLimitKey, createClientAddressResolver, parseTrustProxy, type TrustProxy } from '../../server/http/client-address.js';

let server: ServerType | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/** Serves one route that answers the client address it resolved, over a real socket. */
async function addressSeenWith(trust: TrustProxy, forwardedFor?: string): Promise<string> {
  const app = new Hono();
  const clientAddressOf = createClientAddressResolver(trust);
  app.get('/', (c) => c.text(clientAddressOf(c)));
  server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const response = await fetch(`http://127.0.0.1:${port}/`, { headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {} });
  const text = await response.text();
  await new Promise<void>((resolve) => server!.close(() => resolve()));
  server = undefined;
  return text;
}

describe('client address', () => {
  it('is the socket address by default, whatever X-Forwarded-For says', async () => {
    expect(await addressSeenWith({ kind: 'none' }, '203.0.113.7')).toBe('127.0.0.1');
  });

  it('takes the address one trusted hop away', async () => {
    expect(await addressSeenWith({ kind: 'hops', hops: 1 }, '198.51.100.1, 203.0.113.7')).toBe('203.0.113.7');
    expect(await addressSeenWith({ kind: 'hops', hops: 2 }, '198.51.100.1, 203.0.113.7')).toBe('198.51.100.1');
  });

  it('skips only proxies named by CIDR', async () => {
    expect(await addressSeenWith({ kind: 'addresses', addresses: ['127.0.0.0/8', '10.0.0.0/8'] }, '203.0.113.7, 10.1.2.3')).toBe('203.0.113.7');
    // A client that is not behind a named proxy cannot choose its address.
    expect(await addressSeenWith({ kind: 'addresses', addresses: ['10.0.0.0/8'] }, '203.0.113.7')).toBe('127.0.0.1');
  });

  it('parses TRUST_PROXY and refuses what would trust any client', () => {
    expect(parseTrustProxy(undefined)).toEqual({ kind: 'none' });
    expect(parseTrustProxy('false')).toEqual({ kind: 'none' });
    expect(parseTrustProxy('2')).toEqual({ kind: 'hops', hops: 2 });
    expect(parseTrustProxy('10.0.0.0/8, loopback')).toEqual({ kind: 'addresses', addresses: ['10.0.0.0/8', 'loopback'] });
    expect(() => parseTrustProxy('true')).toThrow(/any client/);
    expect(() => parseTrustProxy('not-an-address')).toThrow(/hop count/);
  });

  it('keys IPv6 limits by /64 and IPv4-mapped addresses as IPv4', () => {
    expect(addressLimitKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressLimitKey('2001:db8:1:2:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(addressLimitKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(addressLimitKey('203.0.113.7')).toBe('203.0.113.7');
  });
});
