import { Hono } from 'hono';
import type { Kysely } from 'kysely';
import type { SignInLinks } from '../auth/links.js';
import { createSession } from '../auth/sessions.js';
import type { Clock } from '../clock.js';
import type { Database } from '../db/schema.js';
import { setSessionCookie } from './cookies.js';
import { html, layout } from './pages/layout.js';

export interface AuthRoutesDeps {
  db: Kysely<Database>;
  clock: Clock;
  publicUrl: string;
  links: SignInLinks;
}

const LINK_PROBLEMS = {
  expired: 'This link has expired. Links in our emails work for a limited time.',
  used: 'This link was already used. Each link works once.',
  invalid: 'This link is not valid. It may have been cut short by your email app.',
} as const;

/** Emailed one-click links: sign the specialist in, then go where the link was for. */
export function authRoutes(deps: AuthRoutesDeps): Hono {
  const app = new Hono();

  app.get('/auth/link', async (c) => {
    const result = await deps.links.redeem(c.req.query('token') ?? '');
    if (result.kind !== 'ok') {
      return c.html(
        layout({
          title: 'Link expired',
          flash: { kind: 'error', message: LINK_PROBLEMS[result.kind] },
          body: html`<h1>Sign in to continue</h1><div class="card"><p>Sign in to your account, then open <a href="/settings/zoom">Zoom settings</a> to re-authorize Zoom.</p></div>`,
        }),
        410,
      );
    }
    const { token } = await createSession(deps.db, deps.clock, result.specialistId);
    setSessionCookie(c, token, deps.publicUrl);
    // A re-auth link goes straight on to Zoom's consent page: one click in the email, one on "Allow".
    return c.redirect(result.purpose === 'reauth' ? '/settings/zoom/connect' : '/settings/zoom', 302);
  });

  return app;
}
