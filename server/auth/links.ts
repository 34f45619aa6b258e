import { createHmac, randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Clock } from '../clock.js';
import type { Database, SignInLinkPurpose } from '../db/schema.js';
import { isSameSecret } from '../security/constant-time.js';

/** A live link, as `inspect` finds it. */
export interface LiveLink {
  id: string;
  specialistId: string;
  purpose: SignInLinkPurpose;
  next: string | undefined;
}

export type LinkProblem = { kind: 'expired' | 'used' | 'invalid' };

/**
 * Links sent by email (sign-in and re-auth): signed (HMAC-SHA256 over the
 * link id, so a guessed or altered token is refused before any lookup),
 * single-use and expiring (both kept in `sign_in_links`).
 *
 * Opening a link (a GET, which mail scanners also do) only inspects it; it is
 * used up by the POST that signs in, or by the Zoom callback that a re-auth
 * link's flow ends at.
 */
export interface SignInLinks {
  /** Stores a link and returns its URL. Call inside the transaction that queues the email. */
  create(
    trx: Kysely<Database> | Transaction<Database>,
    input: { specialistId: string; purpose: SignInLinkPurpose; ttlMs: number; next?: string | undefined },
  ): Promise<string>;
  /** The link a token names, if it is live; changes nothing. */
  inspect(token: string): Promise<({ kind: 'ok' } & LiveLink) | LinkProblem>;
  /** Uses up a link by id inside a transaction; false when it was used meanwhile or has expired. */
  useUp(trx: Kysely<Database> | Transaction<Database>, id: string): Promise<boolean>;
}

export function createSignInLinks(deps: { db: Kysely<Database>; clock: Clock; publicUrl: string; signingKey: Buffer }): SignInLinks {
  const sign = (id: string) => createHmac('sha256', deps.signingKey).update(`sign-in-link:${id}`).digest('base64url');

  async function inspect(token: string): Promise<({ kind: 'ok' } & LiveLink) | LinkProblem> {
    const [id, signature] = token.split('.');
    if (!id || !signature) return { kind: 'invalid' };
    if (!isSameSecret(signature, sign(id))) return { kind: 'invalid' };
    const row = await deps.db.selectFrom('sign_in_links').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) return { kind: 'invalid' };
    if (row.used_at !== null) return { kind: 'used' };
    if (row.expires_at <= deps.clock().toISOString()) return { kind: 'expired' };
    return { kind: 'ok', id, specialistId: row.specialist_id, purpose: row.purpose, next: row.next_path ?? undefined };
  }

  async function useUp(trx: Kysely<Database> | Transaction<Database>, id: string): Promise<boolean> {
    const now = deps.clock().toISOString();
    const claimed = await trx
      .updateTable('sign_in_links')
      .set({ used_at: now })
      .where('id', '=', id)
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return Number(claimed.numUpdatedRows) === 1;
  }

  return {
    inspect,
    useUp,

    async create(trx, { specialistId, purpose, ttlMs, next }) {
      const id = randomUUID();
      const now = deps.clock();
      await trx
        .insertInto('sign_in_links')
        .values({ id, specialist_id: specialistId, purpose, created_at: now.toISOString(), expires_at: new Date(now.getTime() + ttlMs).toISOString(), used_at: null, next_path: next ?? null })
        .execute();
      return `${deps.publicUrl}/auth/link?token=${encodeURIComponent(`${id}.${sign(id)}`)}`;
    },
  };
}
