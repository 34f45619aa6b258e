import type { IncomingMessage } from 'node:http';
import type { Context, MiddlewareHandler } from 'hono';
import ipaddr from 'ipaddr.js';

/**
 * Whether a Host header names this machine's loopback: `localhost`, any
 * `*.localhost` (RFC 6761 keeps them on loopback), `127.0.0.0/8` or `[::1]`,
 * with or without a port.
 *
 * @example isLoopbackHost('localhost:3000') // true
 * @example isLoopbackHost('evil.example:3000') // false
 */
export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d*$/, '');
  const lower = name.toLowerCase().replace(/\.$/, '');
  if (lower === 'localhost' || lower.endsWith('.localhost')) return true;
  if (!ipaddr.isValid(lower)) return false;
  return ipaddr.process(lower).range() === 'loopback';
}

/** Headers a proxy adds: with any of them, the real client is somewhere else. */
const FORWARDING_HEADERS = ['x-forwarded-for', 'x-forwarded-host', 'forwarded', 'x-real-ip'];

/**
 * Whether a request comes straight from this machine: its Host is a loopback
 * name (see `isLoopbackHost`), its socket's peer is a loopback address, and
 * it carries no forwarding header (`X-Forwarded-For`, `X-Forwarded-Host`,
 * `Forwarded`, `X-Real-IP`). Each alone is not enough: the Host is the
 * client's to choose (a server bound to 0.0.0.0 gets `Host: localhost` from
 * anywhere); a loopback peer is every request that a reverse proxy on the
 * same machine forwards; and behind such a proxy the headers are the only
 * sign of it. A request that came over no socket (`app.request` in tests)
 * comes from this process: its URL's host stands in for the Host.
 *
 * @example if (!isDirectLoopbackRequest(c)) return c.text('Forbidden', 403);
 */
export function isDirectLoopbackRequest(c: Context): boolean {
  if (!isLoopbackHost(c.req.header('host') ?? new URL(c.req.url).host)) return false;
  if (FORWARDING_HEADERS.some((name) => c.req.header(name) !== undefined)) return false;
  const socket = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket;
  if (socket === undefined) return true;
  const peer = socket.remoteAddress;
  return peer !== undefined && ipaddr.isValid(peer) && ipaddr.process(peer).range() === 'loopback';
}

/**
 * Lets through only requests straight from this machine (see
 * `isDirectLoopbackRequest`); others get 403. For the demo's pages that must
 * never reach another machine (the local inbox, the Zoom emulator): a server
 * bound to loopback is still reachable from a web page through DNS
 * rebinding, where a hostile name resolves to 127.0.0.1 — and then the
 * browser sends that name as the Host.
 *
 * @example app.use(loopbackOnly());
 */
export function loopbackOnly(): MiddlewareHandler {
  return async function loopbackOnlyMiddleware(c, next) {
    if (!isDirectLoopbackRequest(c)) {
      return c.text('This demo page answers only on localhost, to a browser on this machine (not through a proxy).', 403);
    }
    await next();
  };
}
