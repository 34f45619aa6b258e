import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Clock } from '../clock.js';
import type { Database, ZoomConnectionsTable } from '../db/schema.js';
import { createLeaseKeeper, isOneRow, pollWithBackoff, type Lease, type LeaseSpec } from '../leases/index.js';
import type { Logger } from '../logger.js';
import type { TokenCipher } from '../security/token-cipher.js';
import type { ZoomClient, ZoomTokens, ZoomUser } from './client.js';
import { ZoomOAuthError } from './errors.js';

export type ZoomConnectionRow = Selectable<ZoomConnectionsTable>;

/** Why a connection cannot be used; shown to specialists and stored. */
export type ReauthReason = 'not_connected' | 'refresh_token_rejected' | 'access_token_rejected' | 'deauthorized_in_zoom';

/** The Zoom user a specialist connected last, connected now or before a disconnect. */
export interface LastConnectedZoomUser {
  id: string;
  email: string;
  displayName: string;
}

/** What asking for an access token came to. */
export type AccessTokenResult =
  | { kind: 'token'; accessToken: string }
  | { kind: 'reauth'; reason: ReauthReason }
  | { kind: 'unavailable'; message: string };

export interface ZoomConnectionStoreDeps {
  db: Kysely<Database>;
  clock: Clock;
  cipher: TokenCipher;
  zoom: ZoomClient;
  logger: Logger;
  /** Refresh when the access token expires within this many ms. Default 5 minutes. */
  refreshSkewMs?: number;
  /** How long a refresh lock lease lasts before another process may take it. Default 30 s. */
  lockLeaseMs?: number;
  /** How long to wait for another process's refresh (time slept between looks, see `pollWithBackoff`). Default 15 s. */
  lockWaitMs?: number;
}

/** The refresh lock: a fenced lease on the connection row, its token in `refresh_lock_owner`. */
const REFRESH_LEASE: LeaseSpec = {
  name: 'zoom refresh',
  table: 'zoom_connections',
  keyColumn: 'specialist_id',
  tokenColumn: 'refresh_lock_owner',
  untilColumn: 'refresh_lock_until',
};

export interface ZoomConnectionStore {
  /**
   * A usable access token for a specialist: the stored one while it is
   * valid, otherwise a refreshed one. With `rejectedToken` (Zoom just
   * answered 401 to it), refreshes unless another request already did.
   * `signal` (the caller's deadline) ends a wait for another request's
   * refresh; a refresh already sent to Zoom is never abandoned, because its
   * answer holds the only live refresh token.
   */
  getAccessToken(specialistId: string, options?: { rejectedToken?: string; signal?: AbortSignal | undefined }): Promise<AccessTokenResult>;
  /**
   * Stores a fresh authorization: a valid connection, counters reset, and
   * the Zoom user remembered on the specialist as the last one connected.
   * `inTransaction` runs after the writes, in the same transaction, with the
   * connection as it was and the Zoom user last connected (kept across a disconnect):
   * it may write alongside the change (an email) or throw to refuse it,
   * which leaves everything as it was.
   */
  saveAuthorization(
    specialistId: string,
    tokens: ZoomTokens,
    user: ZoomUser,
    inTransaction?: (trx: Transaction<Database>, previous: ZoomConnectionRow | undefined, lastConnected: LastConnectedZoomUser | undefined) => Promise<void>,
  ): Promise<void>;
  /** Marks a connection unusable, with the reason and time. */
  markInvalid(specialistId: string, reason: ReauthReason): Promise<void>;
  /** `app_deauthorized` from Zoom: every connection of that Zoom user is revoked. Returns how many changed. */
  markDeauthorized(zoomUserId: string): Promise<number>;
  /** Revokes the token at Zoom (best effort) and forgets the connection. */
  disconnect(specialistId: string): Promise<void>;
  find(specialistId: string): Promise<ZoomConnectionRow | undefined>;
}

/**
 * The Zoom connections of specialists, with tokens encrypted at rest, and the
 * refresh protocol that keeps one connection healthy under concurrency:
 *
 * 1. A valid access token is reused (Zoom's review rejects refresh-per-call).
 * 2. A refresh happens under a per-connection lock held across processes: a
 *    fenced lease (server/leases) on the connection row, the same SQL on
 *    SQLite and PostgreSQL. A dead holder's lease simply expires.
 * 3. After taking the lock the row is read again: another request may have
 *    refreshed already. The new pair is persisted (version + 1) before use,
 *    because Zoom's refresh tokens are single-use. That write is fenced by
 *    the version the refresh started from, with its row count checked, not
 *    by the lease token: Zoom accepts a refresh token once, so whoever Zoom
 *    answered holds the one live pair even if its lease ran out meanwhile
 *    (the holder that took over gets `invalid_grant` for the same token and
 *    re-reads, step 4); refusing to store that pair would strand the
 *    connection. A holder that finds the version moved stores nothing.
 * 4. `invalid_grant` is only believed after one more read shows nobody else
 *    rotated the tokens meanwhile; then the connection is marked invalid.
 */
export function createZoomConnectionStore(deps: ZoomConnectionStoreDeps): ZoomConnectionStore {
  const { db, clock, cipher, zoom, logger } = deps;
  const refreshSkewMs = deps.refreshSkewMs ?? 5 * 60_000;
  const lockLeaseMs = deps.lockLeaseMs ?? 30_000;
  const lockWaitMs = deps.lockWaitMs ?? 15_000;
  const refreshLocks = createLeaseKeeper({ db, clock }, REFRESH_LEASE);

  const find = (specialistId: string) => db.selectFrom('zoom_connections').selectAll().where('specialist_id', '=', specialistId).executeTakeFirst();
  const accessTokenOf = (row: ZoomConnectionRow) => cipher.decrypt(row.access_token_enc, `${row.specialist_id}:access`);
  const isFresh = (row: ZoomConnectionRow) => Date.parse(row.access_token_expires_at) - clock().getTime() > refreshSkewMs;

  async function markInvalid(specialistId: string, reason: ReauthReason): Promise<void> {
    const now = clock().toISOString();
    await db
      .updateTable('zoom_connections')
      .set({ status: 'invalid', invalid_reason: reason, invalid_since: now, updated_at: now })
      .where('specialist_id', '=', specialistId)
      .where('status', '=', 'active')
      .execute();
    logger.warn('zoom connection marked invalid', { specialistId, reason });
  }

  /** Refreshes while holding the lock; `seen` is the row as read under the lock. */
  async function refreshLocked(seen: ZoomConnectionRow, lease: Lease): Promise<AccessTokenResult> {
    let tokens: ZoomTokens;
    try {
      tokens = await zoom.refreshTokens(cipher.decrypt(seen.refresh_token_enc, `${seen.specialist_id}:refresh`));
    } catch (error) {
      if (error instanceof ZoomOAuthError && error.isInvalidGrant) {
        // Believe it only if nobody rotated the tokens meanwhile.
        const again = await find(seen.specialist_id);
        if (again && again.status === 'active' && again.version !== seen.version) return { kind: 'token', accessToken: accessTokenOf(again) };
        await markInvalid(seen.specialist_id, 'refresh_token_rejected');
        return { kind: 'reauth', reason: 'refresh_token_rejected' };
      }
      logger.warn('zoom token refresh failed', { specialistId: seen.specialist_id, error: (error as Error).message });
      return { kind: 'unavailable', message: 'Zoom could not be reached to renew the connection.' };
    }
    const now = clock();
    const stored = await db
      .updateTable('zoom_connections')
      .set({
        access_token_enc: cipher.encrypt(tokens.accessToken, `${seen.specialist_id}:access`),
        refresh_token_enc: cipher.encrypt(tokens.refreshToken, `${seen.specialist_id}:refresh`),
        access_token_expires_at: new Date(now.getTime() + tokens.expiresIn * 1000).toISOString(),
        scope: tokens.scope,
        version: seen.version + 1,
        updated_at: now.toISOString(),
      })
      .where('specialist_id', '=', seen.specialist_id)
      .where('version', '=', seen.version)
      .executeTakeFirst();
    if (!isOneRow(stored)) {
      // Someone stored a newer pair (a refresh after our lease ran out, or a new authorization): theirs is the live one.
      logger.error('zoom refresh lost to a newer pair', { specialistId: seen.specialist_id, lostLease: lease.until.getTime() < clock().getTime() });
      const again = await find(seen.specialist_id);
      return again?.status === 'active' ? { kind: 'token', accessToken: accessTokenOf(again) } : { kind: 'reauth', reason: 'refresh_token_rejected' };
    }
    logger.info('zoom tokens refreshed', { specialistId: seen.specialist_id, version: seen.version + 1 });
    return { kind: 'token', accessToken: tokens.accessToken };
  }

  return {
    find,
    markInvalid,

    async getAccessToken(specialistId, options = {}) {
      const needsRefresh = (row: ZoomConnectionRow) =>
        !isFresh(row) || (options.rejectedToken !== undefined && accessTokenOf(row) === options.rejectedToken);
      const usable = (row: ZoomConnectionRow | undefined): AccessTokenResult | undefined => {
        if (!row) return { kind: 'reauth', reason: 'not_connected' };
        if (row.status !== 'active') return { kind: 'reauth', reason: (row.invalid_reason as ReauthReason | null) ?? 'refresh_token_rejected' };
        return needsRefresh(row) ? undefined : { kind: 'token', accessToken: accessTokenOf(row) };
      };
      // The wait counts time slept, not the injected clock (see `pollWithBackoff`): a clock that does not move cannot make it spin.
      const result = await pollWithBackoff(
        async () => {
          const known = usable(await find(specialistId));
          if (known) return known;
          const lease = await refreshLocks.take(specialistId, lockLeaseMs);
          if (!lease) return undefined;
          try {
            const locked = await find(specialistId);
            return usable(locked) ?? (await refreshLocked(locked!, lease));
          } finally {
            await refreshLocks.release(lease);
          }
        },
        { budgetMs: lockWaitMs, firstWaitMs: 10, maxWaitMs: 100, signal: options.signal },
      );
      return result ?? { kind: 'unavailable', message: 'The Zoom connection is busy renewing; please try again.' };
    },

    async saveAuthorization(specialistId, tokens, user, inTransaction) {
      const now = clock();
      const values = {
        zoom_user_id: user.id,
        zoom_account_id: user.accountId,
        zoom_email: user.email,
        zoom_display_name: user.displayName,
        access_token_enc: cipher.encrypt(tokens.accessToken, `${specialistId}:access`),
        refresh_token_enc: cipher.encrypt(tokens.refreshToken, `${specialistId}:refresh`),
        access_token_expires_at: new Date(now.getTime() + tokens.expiresIn * 1000).toISOString(),
        scope: tokens.scope,
        status: 'active' as const,
        invalid_reason: null,
        invalid_since: null,
        failed_booking_attempts: 0,
        refresh_lock_owner: null,
        refresh_lock_until: null,
        // A health check of the previous authorization says nothing about this one (issue #17).
        health_checked_at: null,
        health_check_result: null,
        connected_at: now.toISOString(),
        updated_at: now.toISOString(),
      };
      await db.transaction().execute(async (trx) => {
        const existing = await trx.selectFrom('zoom_connections').selectAll().where('specialist_id', '=', specialistId).executeTakeFirst();
        const last = await trx
          .selectFrom('specialists')
          .select(['last_zoom_user_id', 'last_zoom_email', 'last_zoom_display_name'])
          .where('id', '=', specialistId)
          .executeTakeFirst();
        const lastConnected =
          last?.last_zoom_user_id != null ? { id: last.last_zoom_user_id, email: last.last_zoom_email ?? '', displayName: last.last_zoom_display_name ?? '' } : undefined;
        await trx
          .updateTable('specialists')
          .set({ last_zoom_user_id: user.id, last_zoom_email: user.email, last_zoom_display_name: user.displayName })
          .where('id', '=', specialistId)
          .execute();
        if (existing) {
          await trx.updateTable('zoom_connections').set({ ...values, version: existing.version + 1 }).where('specialist_id', '=', specialistId).execute();
        } else {
          await trx.insertInto('zoom_connections').values({ specialist_id: specialistId, version: 1, ...values }).execute();
        }
        // After the specialist and connection rows are written (and locked): work that waits for the connection, made
        // due here, is ordered after any transaction that wrote them first (see `queueHeldRequest` in
        // server/bookings/held-requests.ts).
        await inTransaction?.(trx, existing, lastConnected);
      });
      logger.info('zoom connected', { specialistId, zoomUserId: user.id });
    },

    async markDeauthorized(zoomUserId) {
      const now = clock().toISOString();
      const result = await db
        .updateTable('zoom_connections')
        .set({ status: 'revoked', invalid_reason: 'deauthorized_in_zoom', invalid_since: now, updated_at: now })
        .where('zoom_user_id', '=', zoomUserId)
        .where('status', '=', 'active')
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    },

    async disconnect(specialistId) {
      const row = await find(specialistId);
      if (!row) return;
      try {
        await zoom.revokeToken(accessTokenOf(row));
      } catch (error) {
        // The specialist wants out; a token Zoom already forgot is no reason to refuse.
        logger.warn('zoom revoke failed during disconnect', { specialistId, error: (error as Error).message });
      }
      await db.deleteFrom('zoom_connections').where('specialist_id', '=', specialistId).execute();
    },
  };
}
