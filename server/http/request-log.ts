import type { MiddlewareHandler } from 'hono';
import type { Logger } from '../logger.js';

/**
 * Logs one line per request: method, path (never the query string, which can
 * carry OAuth codes and signed tokens), status, duration and request id.
 */
export function requestLog(logger: Logger): MiddlewareHandler {
  return async function requestLogMiddleware(c, next) {
    const started = performance.now();
    await next();
    logger.info('request', {
      requestId: c.get('requestId'),
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Math.round((performance.now() - started) * 10) / 10,
    });
  };
}
