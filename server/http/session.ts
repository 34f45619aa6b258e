import type { Context, MiddlewareHandler } from 'hono';
import type { Kysely } from 'kysely';
import { findSession, type Session } from '../auth/sessions.js';
import type { Clock } from '../clock.js';
import type { Database } from '../db/schema.js';
import type { SiteCookies } from './cookies.js';

export type SessionVariables = { session: Session | undefined };

/** Reads the session cookie into `c.var.session` (undefined when signed out). */
export function loadSession(deps: { db: Kysely<Database>; clock: Clock; cookies: SiteCookies }): MiddlewareHandler<{ Variables: SessionVariables }> {
  return async function loadSessionMiddleware(c, next) {
    c.set('session', await findSession(deps.db, deps.clock, deps.cookies.readSession(c)));
    await next();
  };
}

/** True when a form's `_csrf` field matches the session's token. */
export async function hasValidCsrf(c: Context<{ Variables: SessionVariables }>): Promise<boolean> {
  const session = c.get('session');
  if (!session) return false;
  const form = await c.req.parseBody();
  return typeof form._csrf === 'string' && form._csrf === session.csrfToken;
}
