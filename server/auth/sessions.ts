import type { Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import type { Database } from '../db/schema.js';
import { hashToken, randomToken } from '../security/random.js';

export const SESSION_COOKIE = 'sb_session';
/** A session lasts 30 days from sign-in, however much it is used (README: "Pages for specialists"). */
export const SESSION_LIFETIME_MS = 30 * 24 * 60 * 60_000;

export interface Session {
  specialistId: string;
  /** Sent back in every state-changing form; see hasValidCsrf in server/http/session.ts. */
  csrfToken: string;
}

/**
 * Starts a session for a specialist. Returns the cookie value; only its hash
 * is stored, so a database leak does not hand out sessions.
 */
export async function createSession(db: Kysely<Database>, clock: Clock, specialistId: string): Promise<{ token: string; session: Session; expiresAt: Date }> {
  const token = randomToken();
  const now = clock();
  const expiresAt = new Date(now.getTime() + SESSION_LIFETIME_MS);
  const csrfToken = randomToken(24);
  await db
    .insertInto('sessions')
    .values({ token_hash: hashToken(token), specialist_id: specialistId, csrf_token: csrfToken, created_at: now.toISOString(), expires_at: expiresAt.toISOString() })
    .execute();
  return { token, session: { specialistId, csrfToken }, expiresAt };
}

/** The live session a cookie value names, if any. */
export async function findSession(db: Kysely<Database>, clock: Clock, token: string | undefined): Promise<Session | undefined> {
  if (!token) return undefined;
  const row = await db
    .selectFrom('sessions')
    .select(['specialist_id', 'csrf_token'])
    .where('token_hash', '=', hashToken(token))
    .where('expires_at', '>', clock().toISOString())
    .executeTakeFirst();
  return row ? { specialistId: row.specialist_id, csrfToken: row.csrf_token } : undefined;
}

export async function deleteSession(db: Kysely<Database>, token: string): Promise<void> {
  await db.deleteFrom('sessions').where('token_hash', '=', hashToken(token)).execute();
}

/** "Sign out everywhere": ends every session of a specialist, on every device. */
export async function deleteSessionsOf(db: Kysely<Database>, specialistId: string): Promise<void> {
  await db.deleteFrom('sessions').where('specialist_id', '=', specialistId).execute();
}
