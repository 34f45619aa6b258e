import { randomUUID } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { requestHeader, setResponseHeader } from './node-headers.js';

declare module 'hono' {
  interface ContextVariableMap {
    /** Set by `requestId()` on every request. */
    requestId: string;
  }
}

const VALID_ID = /^[\w\-=]{1,255}$/;

/**
 * Gives each request an id, `c.get('requestId')`, sent back as X-Request-Id.
 * A caller's own X-Request-Id is kept when it is a plain token of at most
 * 255 characters, so a proxy's id follows the request through.
 */
export function requestId(): MiddlewareHandler {
  return function requestIdMiddleware(c, next) {
    const given = requestHeader(c, 'x-request-id');
    const id = given !== undefined && VALID_ID.test(given) ? given : randomUUID();
    c.set('requestId', id);
    setResponseHeader(c, 'X-Request-Id', id);
    return next();
  };
}
