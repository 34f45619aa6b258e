import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Clock } from '../clock.js';
import type { Database, SignInLinkPurpose } from '../db/schema.js';

/**
 * One-click sign-in links, as sent by email: signed (HMAC-SHA256 over the
 * link id, so a guessed or altered token is refused before any lookup),
 * single-use and expiring (both kept in `sign_in_links`).
 */
export interface SignInLinks {
  /** Stores a link and returns its URL. Call inside the transaction that queues the email. */
  create(
    trx: Kysely<Database> | Transaction<Database>,
    input: { specialistId: string; purpose: SignInLinkPurpose; ttlMs: number; next?: string | undefined },
  ): Promise<string>;
  /** Uses a link up: the specialist and purpose, or why not. */
  redeem(
    token: string,
  ): Promise<{ kind: 'ok'; specialistId: string; purpose: SignInLinkPurpose; next: string | undefined } | { kind: 'expired' | 'used' | 'invalid' }>;
}

export function createSignInLinks(deps: { db: Kysely<Database>; clock: Clock; publicUrl: string; signingKey: Buffer }): SignInLinks {
  const sign = (id: string) => createHmac('sha256', deps.signingKey).update(`sign-in-link:${id}`).digest('base64url');
  return {
    async create(trx, { specialistId, purpose, ttlMs, next }) {
      const id = randomUUID();
      const now = deps.clock();
      await trx
        .insertInto('sign_in_links')
        .values({ id, specialist_id: specialistId, purpose, created_at: now.toISOString(), expires_at: new Date(now.getTime() + ttlMs).toISOString(), used_at: null, next_path: next ?? null })
        .execute();
      return `${deps.publicUrl}/auth/link?token=${encodeURIComponent(`${id}.${sign(id)}`)}`;
    },

    async redeem(token) {
      const [id, signature] = token.split('.');
      if (!id || !signature) return { kind: 'invalid' };
      const expected = Buffer.from(sign(id));
      const given = Buffer.from(signature);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { kind: 'invalid' };
      const row = await deps.db.selectFrom('sign_in_links').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) return { kind: 'invalid' };
      const now = deps.clock().toISOString();
      if (row.used_at !== null) return { kind: 'used' };
      if (row.expires_at <= now) return { kind: 'expired' };
      const claimed = await deps.db.updateTable('sign_in_links').set({ used_at: now }).where('id', '=', id).where('used_at', 'is', null).executeTakeFirst();
      if (Number(claimed.numUpdatedRows) !== 1) return { kind: 'used' };
      return { kind: 'ok', specialistId: row.specialist_id, purpose: row.purpose, next: row.next_path ?? undefined };
    },
  };
}
