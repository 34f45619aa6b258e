import type { Context } from 'hono';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Header access that skips fetch `Headers` objects on the hot path.
 *
 * @hono/node-server passes Node's `{ incoming, outgoing }` as the env
 * bindings. Reading a header through `c.req.header` first copies every
 * request header into a fetch `Headers`; setting one with `c.header`, or
 * answering with more than one header through `c.body`, builds another, which
 * Node must then copy into its own. Each costs microseconds on a request that
 * otherwise takes a few dozen. Without the bindings (`app.request` in
 * tests), each function falls back to Hono's own.
 *
 * The rule that keeps this correct: a middleware that sets a header before
 * the handler uses `setResponseHeader`, never `c.header`, because a
 * `plainResponse` does not carry headers set with `c.header`.
 */
interface NodeBindings {
  incoming?: IncomingMessage;
  outgoing?: ServerResponse;
}

function nodeBindingsOf(c: Context): NodeBindings {
  return (c.env as NodeBindings | undefined) ?? {};
}

/** A request header, or undefined. Repeated headers are joined with ", ", as `Headers.get` does. */
export function requestHeader(c: Context, lowerCaseName: string): string | undefined {
  const incoming = nodeBindingsOf(c).incoming;
  if (!incoming) return c.req.header(lowerCaseName);
  const value = incoming.headers[lowerCaseName];
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * Sets a header on whatever response the request gets, before it exists.
 * On Node it goes to the outgoing message, which merges it into the
 * response the app returns; a header the response sets itself wins, except
 * that `append` values (Vary) are combined.
 */
export function setResponseHeader(c: Context, name: string, value: string, options?: { append?: boolean }): void {
  const outgoing = nodeBindingsOf(c).outgoing;
  if (!outgoing) return c.header(name, value, options);
  const existing = options?.append ? outgoing.getHeader(name) : undefined;
  outgoing.setHeader(name, existing === undefined ? value : `${String(existing)}, ${value}`);
}

/**
 * A response whose headers stay a plain object, which @hono/node-server
 * hands to Node as it is. Headers set with `setResponseHeader` are merged
 * by Node on that path and by `c.body` on the other.
 */
export function plainResponse(c: Context, body: Uint8Array<ArrayBuffer>, headers: Readonly<Record<string, string>>): Response {
  return nodeBindingsOf(c).outgoing ? new Response(body, { status: 200, headers }) : c.body(body, 200, headers);
}
