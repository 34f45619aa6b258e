import type { MiddlewareHandler } from 'hono';
import { DomainError } from '../errors.js';
import { errorResponse } from './errors.js';
import { requestHeader, setResponseHeader } from './node-headers.js';

export interface SpecialistCorsOptions {
  /** The server's own public origin, always allowed. */
  ownOrigin: string;
  /** Origins a specialist allows, or undefined for an unknown slug. */
  allowedOriginsFor(slug: string): Promise<readonly string[] | undefined>;
}

const ALLOWED_HEADERS = 'Content-Type, Idempotency-Key';
const EXPOSED_HEADERS = 'Idempotent-Replayed, Retry-After, X-Request-Id';

/**
 * CORS for the per-specialist booking API: a browser may call it only from
 * the specialist's allowed origins or the server's own. A disallowed origin
 * gets 403 `origin_not_allowed` — also on simple requests that skip the
 * preflight, so a text/plain POST from a foreign page cannot book either.
 * Requests without an Origin header (servers, scripts) are not browsers'
 * cross-origin calls and pass.
 */
export function specialistCors(options: SpecialistCorsOptions): MiddlewareHandler {
  return async function specialistCorsMiddleware(c, next) {
    // Whether the answer carries CORS headers depends on Origin, also when there is none: caches must know.
    setResponseHeader(c, 'Vary', 'Origin', { append: true });
    const origin = requestHeader(c, 'origin');
    if (origin === undefined) return next();
    const slug = c.req.param('slug') ?? '';
    // Cheapest first: the specialist's list is usually cached; parsing the request URL is not.
    const isAllowed =
      origin === options.ownOrigin ||
      (await options.allowedOriginsFor(slug))?.includes(origin) === true ||
      origin === new URL(c.req.url).origin;
    if (!isAllowed) {
      return errorResponse(
        c,
        new DomainError('origin_not_allowed', `This website (${origin}) is not allowed to embed this booking page. The specialist can add it in their settings.`),
      );
    }
    setResponseHeader(c, 'Access-Control-Allow-Origin', origin);
    setResponseHeader(c, 'Access-Control-Expose-Headers', EXPOSED_HEADERS);
    if (c.req.method === 'OPTIONS') {
      setResponseHeader(c, 'Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
      setResponseHeader(c, 'Access-Control-Allow-Headers', ALLOWED_HEADERS);
      setResponseHeader(c, 'Access-Control-Max-Age', '600');
      return c.body(null, 204);
    }
    return next();
  };
}
