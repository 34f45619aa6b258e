import type { Context } from 'hono';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Header access through Node's own request and response objects.
 *
 * @hono/node-server passes Node's `{ incoming, outgoing }` as the env
 * bindings. Reading a header through `c.req.header` first copies every
 * request header into a fetch `Headers`, which costs microseconds on a
 * request that otherwise takes a few dozen. Setting one on the outgoing
 * message before the answer exists puts it on every answer, whatever the
 * handler returns (a page, a file, a redirect). Without the bindings
 * (`app.request` in tests), each function falls back to Hono's own.
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
 * response the app returns; a header the response sets itself wins.
 */
export function setResponseHeader(c: Context, name: string, value: string): void {
  const outgoing = nodeBindingsOf(c).outgoing;
  if (!outgoing) return c.header(name, value);
  outgoing.setHeader(name, value);
}
