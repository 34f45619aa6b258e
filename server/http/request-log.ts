import type { Context, MiddlewareHandler } from 'hono';
import type { Logger } from '../logger.js';
import type { ClientAddressOf } from './client-address.js';

/**
 * The one line logged per request: method, path (never the query string,
 * which can carry OAuth codes and signed tokens), status, duration, request
 * id and the client's address (through trusted proxies only: TRUST_PROXY).
 *
 * @param started `performance.now()` when the request came in
 */
export function logRequest(logger: Logger, c: Context, status: number, started: number, clientAddressOf: ClientAddressOf): void {
  logger.info('request', {
    requestId: c.get('requestId'),
    client: clientAddressOf(c),
    method: c.req.method,
    path: c.req.path,
    status,
    ms: Math.round((performance.now() - started) * 10) / 10,
  });
}

/** Logs one line per request (see `logRequest`). */
export function requestLog(logger: Logger, clientAddressOf: ClientAddressOf): MiddlewareHandler {
  return async function requestLogMiddleware(c, next) {
    const started = performance.now();
    await next();
    logRequest(logger, c, c.res.status, started, clientAddressOf);
  };
}
