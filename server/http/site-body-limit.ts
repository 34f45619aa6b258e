import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { DomainError } from '../errors.js';
import { errorResponse } from './errors.js';
import { html, layout } from './pages/layout.js';

/** The largest body any site route (forms, sign-in, Zoom's webhook) takes. */
export const SITE_MAX_BODY_BYTES = 64 * 1024;

/**
 * Hono's `bodyLimit` over every site route: a Content-Length above the limit
 * is refused unread, a chunked body as soon as it grows past it. The answer
 * is 413: JSON `payload_too_large` for Zoom's webhook, a page for forms. It
 * closes the connection, so the rest of the body is not read either.
 */
export function siteBodyLimit(maxBytes = SITE_MAX_BODY_BYTES): MiddlewareHandler {
  const message = `The request body is larger than ${maxBytes / 1024} KB.`;
  const page = layout({ title: 'Too large', body: html`<h1>Too large</h1><p>${message} Please go back and send less.</p>` });
  return bodyLimit({
    maxSize: maxBytes,
    onError: (c) => {
      c.header('Connection', 'close');
      if (c.req.path.startsWith('/webhooks/')) return errorResponse(c, new DomainError('payload_too_large', message));
      return c.html(page, 413);
    },
  });
}
