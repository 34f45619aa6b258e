import { Hono } from 'hono';
import type { Kysely } from 'kysely';
import type { SignInLinks } from '../auth/links.js';
import { knownBrowserMark } from '../auth/known-browser.js';
import { createSession } from '../auth/sessions.js';
import { hitLinkUseLimit, safeNextPath } from '../auth/sign-in.js';
import type { Clock } from '../clock.js';
import type { Database } from '../db/schema.js';
import { startReauthorizationFromLink, type AuthorizationDeps } from '../zoom/authorization.js';
import { addressLimitKey, type ClientAddressOf } from './client-address.js';
import type { SiteCookies } from './cookies.js';
import { confirmSignInPage, maskEmail, nothingToRestorePage, tooManyLinkUsesPage } from './pages/link-pages.js';
import { expiredFormPage } from './pages/specialist-pages.js';

export interface AuthRoutesDeps extends AuthorizationDeps {
  db: Kysely<Database>;
  clock: Clock;
  links: SignInLinks;
  cookies: SiteCookies;
  clientAddressOf: ClientAddressOf;
  /** Keys the known-browser mark set at sign-in. */
  signingKey: Buffer;
}

/** Where a dead link leads: sign in, then the Zoom section. */
const deadLinkTarget = (reason: string) => `/sign-in?reason=${reason}&next=${encodeURIComponent('/settings#zoom')}`;

/**
 * Emailed links. Opening one (a GET, which mail scanners also do) changes
 * nothing that matters:
 *
 * - a sign-in link shows "Sign in as m…@example.com?" with a button; the
 *   button's POST, bound to this browser by the CSRF cookie the GET set,
 *   uses the link and starts the session;
 * - a re-auth link goes straight on to Zoom's consent page, with an OAuth
 *   state bound to the link; it signs nobody in, and is used up at Zoom's
 *   callback (zoom-routes).
 *
 * Using a sign-in link is limited per client address (`hitLinkUseLimit`).
 */
export function authRoutes(deps: AuthRoutesDeps): Hono {
  const app = new Hono();

  app.get('/auth/link', async (c) => {
    const token = c.req.query('token') ?? '';
    const link = await deps.links.inspect(token);
    if (link.kind !== 'ok') return c.redirect(deadLinkTarget(link.kind), 302);
    if (link.purpose === 'reauth') {
      const started = await startReauthorizationFromLink(deps, link);
      if (started.kind === 'redirect') return c.redirect(started.url, 302);
      return c.html(nothingToRestorePage(), 409);
    }
    const specialist = await deps.db.selectFrom('specialists').select('email').where('id', '=', link.specialistId).executeTakeFirstOrThrow();
    return c.html(confirmSignInPage({ maskedEmail: maskEmail(specialist.email), token, csrfToken: deps.cookies.preSessionCsrf(c) }));
  });

  app.post('/auth/link', async (c) => {
    const verdict = await hitLinkUseLimit(deps, addressLimitKey(deps.clientAddressOf(c)));
    if (!verdict.isAllowed) {
      c.header('Retry-After', String(verdict.retryAfterSeconds));
      return c.html(tooManyLinkUsesPage(), 429);
    }
    const form = await c.req.parseBody();
    const csrfCookie = deps.cookies.readPreSessionCsrf(c);
    if (!csrfCookie || form._csrf !== csrfCookie) return c.html(expiredFormPage('/sign-in'), 403);
    const link = await deps.links.inspect(typeof form.token === 'string' ? form.token : '');
    // A re-auth link never signs anyone in.
    if (link.kind !== 'ok' || link.purpose !== 'sign_in') return c.redirect(deadLinkTarget(link.kind === 'ok' ? 'invalid' : link.kind), 303);
    if (!(await deps.links.useUp(deps.db, link.id))) return c.redirect(deadLinkTarget('used'), 303);
    const { token } = await createSession(deps.db, deps.clock, link.specialistId);
    deps.cookies.setSession(c, token);
    deps.cookies.setKnownBrowser(c, knownBrowserMark(deps.signingKey, link.specialistId));
    return c.redirect(safeNextPath(link.next) ?? '/dashboard', 303);
  });

  return app;
}
