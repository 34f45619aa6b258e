import { Hono } from 'hono';
import type { Kysely } from 'kysely';
import type { SignInLinks } from '../auth/links.js';
import { createSession } from '../auth/sessions.js';
import { safeNextPath } from '../auth/sign-in.js';
import type { Clock } from '../clock.js';
import type { Database } from '../db/schema.js';
import { setSessionCookie } from './cookies.js';

export interface AuthRoutesDeps {
  db: Kysely<Database>;
  clock: Clock;
  publicUrl: string;
  links: SignInLinks;
}

/** Emailed one-click links: sign the specialist in, then go where the link was for. */
export function authRoutes(deps: AuthRoutesDeps): Hono {
  const app = new Hono();

  app.get('/auth/link', async (c) => {
    const result = await deps.links.redeem(c.req.query('token') ?? '');
    if (result.kind !== 'ok') {
      // A dead link still leads somewhere useful: sign in, then the Zoom section.
      return c.redirect(`/sign-in?reason=${result.kind}&next=${encodeURIComponent('/settings#zoom')}`, 302);
    }
    const { token } = await createSession(deps.db, deps.clock, result.specialistId);
    setSessionCookie(c, token, deps.publicUrl);
    // A re-auth link goes straight on to Zoom's consent page: one click in the email, one on "Allow".
    const target = result.purpose === 'reauth' ? '/settings/zoom/connect' : (safeNextPath(result.next) ?? '/dashboard');
    return c.redirect(target, 302);
  });

  return app;
}
