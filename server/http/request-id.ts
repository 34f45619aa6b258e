import { randomUUID } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { requestHeader, setResponseHeader } from './node-headers.js';

declare module 'hono' {
  interface ContextVariableMap {
    /** Set on every request: by `requestId()` on pages, by the API envelope on the API. */
    requestId: string;
  }
}

const VALID_ID = /^[\w\-=]{1,255}$/;

/**
 * The id of a request: the caller's own X-Request-Id when it is a plain token
 * of at most 255 characters, so a proxy's id follows the request through;
 * otherwise a new UUID.
 */
export function requestIdFor(given: string | undefined): string {
  return given !== undefined && VALID_ID.test(given) ? given : randomUUID();
}

/** Gives each request an id, `c.get('requestId')`, sent back as X-Request-Id (see `requestIdFor`). */
export function requestId(): MiddlewareHandler {
  return function requestIdMiddleware(c, next) {
    const id = requestIdFor(requestHeader(c, 'x-request-id'));
    c.set('requestId', id);
    setResponseHeader(c, 'X-Request-Id', id);
    return next();
  };
}
