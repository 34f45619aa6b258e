import type { MiddlewareHandler } from 'hono';
import { isCrossSiteRequest } from './cross-site.js';
import { html, layout } from './pages/layout.js';

/** Content types an HTML form (or a "simple" cross-site request) can send. */
const FORM_CONTENT_TYPE = /^(application\/x-www-form-urlencoded|multipart\/form-data|text\/plain)\b/i;

/**
 * Refuses form POSTs that a browser says came from another site: a
 * `Sec-Fetch-Site` other than `same-origin`, or an `Origin` that is neither
 * the public URL's nor the request's own. A request with neither header (an
 * older browser, a script) passes on to the forms' CSRF tokens. This is what
 * stops login CSRF: a page elsewhere cannot post an attacker's sign-in link
 * from the victim's browser (issue #14).
 *
 * Other content types (JSON: Zoom's webhook) cannot come from a cross-site
 * form without a CORS preflight, and are left alone.
 *
 * @example app.use(refuseCrossSiteForms('https://booking.example.com'))
 */
export function refuseCrossSiteForms(publicUrl: string): MiddlewareHandler {
  const publicOrigin = new URL(publicUrl).origin;
  return async function refuseCrossSiteFormsMiddleware(c, next) {
    if (c.req.method !== 'POST' || !FORM_CONTENT_TYPE.test(c.req.header('content-type') ?? 'text/plain')) return next();
    if (!isCrossSiteRequest(c, [publicOrigin])) return next();
    return c.html(
      layout({
        title: 'Form refused',
        body: html`<h1>This form came from another site</h1><p>For your safety it was not accepted. Open <a href="/sign-in">this site</a> directly and try again.</p>`,
      }),
      403,
    );
  };
}
