import type { MiddlewareHandler } from 'hono';
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

/**
 * Lets through only requests whose Host is a loopback name (see
 * `isLoopbackHost`); others get 403. For the demo's pages that must never
 * reach another machine (the local inbox, the Zoom emulator): a server bound
 * to loopback is still reachable from a web page through DNS rebinding,
 * where a hostile name resolves to 127.0.0.1 — and then the browser sends
 * that name as the Host.
 *
 * @example app.use(loopbackHostOnly());
 */
export function loopbackHostOnly(): MiddlewareHandler {
  return async function loopbackHostOnlyMiddleware(c, next) {
    // app.request() in tests sends no Host: its URL's host stands in.
    if (!isLoopbackHost(c.req.header('host') ?? new URL(c.req.url).host)) {
      return c.text('This demo page answers only on localhost (the Host of this request is not a loopback name).', 403);
    }
    await next();
  };
}
