import type { MiddlewareHandler } from 'hono';
import { secureHeaders } from 'hono/secure-headers';

/**
 * Paths embedded on other sites, where page headers would break embedding:
 * the widget and SDK bundles and the public API (issue #14, "Operations").
 */
const EMBEDDED_PATH = /^\/(widget|sdk|api)(\/|$)/;
/** Answers for machines (health checks, Prometheus), not pages: they keep their own headers. */
const PROBE_PATH = /^\/(healthz|readyz|metrics)$/;

/**
 * Security headers for the site's pages: a Content-Security-Policy with no
 * inline script and `frame-ancestors 'none'`, nosniff, `Referrer-Policy:
 * same-origin` (emailed links carry tokens in their query; `no-referrer`
 * would also make browsers send `Origin: null` on the pages' own form
 * POSTs), and `Cache-Control: no-store` on every answer that does not set
 * its own caching (signed-in pages, link pages, forms with CSRF tokens).
 * HSTS only when the public URL is https. Nothing is added under
 * /widget, /sdk and /api, nor to /healthz, /readyz and /metrics. It runs
 * before the body limit and the cross-site check, so their pages (413, 403)
 * carry the headers too.
 *
 * Styles may be inline (the pages' `<style>`, style attributes in the local
 * inbox's emails); scripts only come from this origin (/assets/*.js).
 */
export function pageSecurityHeaders(publicUrl: string): MiddlewareHandler {
  const headers = secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["'self'", 'data:'],
      objectSrc: ["'none'"],
      baseUri: ["'self'"],
      frameAncestors: ["'none'"],
    },
    xFrameOptions: 'DENY',
    referrerPolicy: 'same-origin',
    strictTransportSecurity: publicUrl.startsWith('https://') ? 'max-age=15552000' : false,
  });
  return async function pageSecurityHeadersMiddleware(c, next) {
    if (EMBEDDED_PATH.test(c.req.path) || PROBE_PATH.test(c.req.path)) return next();
    await headers(c, async () => {
      await next();
      if (!c.res.headers.has('Cache-Control')) c.header('Cache-Control', 'no-store');
    });
  };
}
