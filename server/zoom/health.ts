import type { Kysely, Transaction } from 'kysely';
import type { Clock } from '../clock.js';
import type { Database } from '../db/schema.js';
import { enqueueJob, type JobHandler } from '../jobs/index.js';
import { isOneRow } from '../leases/index.js';
import type { Logger } from '../logger.js';
import type { ZoomClient } from './client.js';
import type { ReauthReason, ZoomConnectionStore } from './connections.js';
import { ZoomApiError } from './errors.js';
import type { ReauthNotifier } from './reauth.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** What a health check found: Zoom answered, the connection is dead, or Zoom could not be asked. */
export type ZoomHealthResult = 'ok' | 'dead' | 'unreachable';

/** The job kind of the dead-connection emails: the first one and each reminder. */
export const ZOOM_HEALTH_NOTICE_JOB_KIND = 'zoom.health_notice';

/** Days after the connection died that the specialist is emailed: at once, then reminders after 1, 3 and 7 days (4 emails at most). */
export const ZOOM_HEALTH_NOTICE_DAYS = [0, 1, 3, 7] as const;

/** A connection Zoom could not be asked about is asked again this soon (or at its usual time, if sooner). */
const UNREACHABLE_RETRY_MS = 15 * 60_000;

/**
 * A busy specialist's connection is checked more often than the interval:
 * at least this many checks per booking request (counted over the last
 * `BOOKING_RATE_WINDOW_MS`, or since the specialist joined), so that a token dying between two checks is met
 * by a customer before the next check about once in 2 × 8 deaths, whatever
 * the specialist's booking rate. Never more often than `MIN_BUSY_INTERVAL_MS`.
 */
export const CHECKS_PER_BOOKING = 8;
const BOOKING_RATE_WINDOW_MS = 14 * DAY;
const MIN_BUSY_INTERVAL_MS = HOUR;

/** How often the background task looks for due connections; each look checks at most a second's budget. */
export const ZOOM_HEALTH_TICK_MS = 1_000;

export interface ZoomHealthOptions {
  /**
   * Time between two checks of one connection. Default 6 h. Busy
   * specialists' connections are checked more often (`CHECKS_PER_BOOKING`),
   * never less often than this.
   */
  checkIntervalMs?: number;
  /** Each interval is varied by up to ± this share, so connections made together spread out. Default 0.1. */
  jitter?: number;
  /** Checks (each one `GET /users/me`, plus a token refresh when due) started per second by one process. Default 5. */
  checksPerSecond?: number;
  /**
   * How long Zoom keeps a refresh token that is never used. Zoom says
   * 15 years, others say 90 days (see the Zoom contract): default 90 days.
   * No connection waits longer than half of it between checks.
   */
  refreshTokenLifetimeMs?: number;
  /** Default Math.random. */
  random?: () => number;
}

export interface ZoomHealthDeps extends ZoomHealthOptions {
  db: Kysely<Database>;
  clock: Clock;
  logger: Logger;
  zoom: ZoomClient;
  connections: ZoomConnectionStore;
}

export interface ZoomHealthCheck {
  /**
   * Checks the active connections that are due, at most `checksPerSecond`
   * of them (one second's budget), the longest overdue first; returns how
   * many it checked. `stopping` ends the run after the check in hand.
   */
  runDue(stopping?: AbortSignal): Promise<number>;
}

/**
 * The routine check of every Zoom connection (issue #17, "Proactive health").
 *
 * 1. A due connection is claimed by a compare-and-swap of its due time to the
 *    next one (interval ± jitter, at most half the refresh token's lifetime;
 *    a shorter interval for a busy specialist, see `CHECKS_PER_BOOKING`):
 *    any number of processes may run this, and each due time is checked by
 *    one of them. A process that dies mid-check leaves the next due time set,
 *    so nothing loops; the connection is simply checked then.
 * 2. The check asks the connection store for a token (`getAccessToken`, the
 *    same fenced refresh lock as bookings, so it cannot break a healthy
 *    connection). Access tokens live an hour, so a check hours after the last
 *    use refreshes the pair: the refresh token is renewed long before its own
 *    lifetime ends.
 * 3. `GET /users/me` with that token. A 401 gets one refresh and one retry,
 *    as bookings do; refused again, the connection is marked invalid.
 * 4. The result is stored on the connection (`health_checked_at`,
 *    `health_check_result`) for the dashboard. A connection this check found
 *    dead gets its emails queued in the same transaction (`queueDeadConnectionNotices`).
 *
 * The budget is per process: with several, give each its share of Zoom's limit.
 */
export function createZoomHealthCheck(deps: ZoomHealthDeps): ZoomHealthCheck {
  const { db, clock, logger, zoom, connections } = deps;
  const checkIntervalMs = deps.checkIntervalMs ?? 6 * HOUR;
  const jitter = deps.jitter ?? 0.1;
  const checksPerSecond = deps.checksPerSecond ?? 5;
  const refreshTokenLifetimeMs = deps.refreshTokenLifetimeMs ?? 90 * DAY;
  const random = deps.random ?? Math.random;

  const nextDueAfter = (now: Date, intervalMs: number, result: ZoomHealthResult | undefined) => {
    const usual = Math.min(intervalMs * (1 + jitter * (2 * random() - 1)), refreshTokenLifetimeMs / 2);
    return new Date(now.getTime() + (result === 'unreachable' ? Math.min(usual, UNREACHABLE_RETRY_MS) : usual)).toISOString();
  };

  /**
   * The specialist's interval: the configured one, shorter when customers
   * book them often (`CHECKS_PER_BOOKING`). Their booking rate is counted
   * over the last 14 days, or since they joined if later (at least a day).
   */
  async function intervalFor(specialistId: string, now: Date): Promise<number> {
    const specialist = await db.selectFrom('specialists').select('created_at').where('id', '=', specialistId).executeTakeFirst();
    const since = Math.max(now.getTime() - BOOKING_RATE_WINDOW_MS, Math.min(Date.parse(specialist?.created_at ?? '') || 0, now.getTime() - DAY));
    const row = await db
      .selectFrom('bookings')
      .select((eb) => eb.fn.countAll<string | number>().as('requests'))
      .where('specialist_id', '=', specialistId)
      .where('created_at', '>=', new Date(since).toISOString())
      .executeTakeFirstOrThrow();
    const requests = Number(row.requests);
    if (requests === 0) return checkIntervalMs;
    return Math.min(checkIntervalMs, Math.max(MIN_BUSY_INTERVAL_MS, (now.getTime() - since) / requests / CHECKS_PER_BOOKING));
  }

  /** Takes one due time of a connection; false when another process took it first. */
  async function claim(specialistId: string, dueAt: string | null, now: Date, intervalMs: number): Promise<boolean> {
    const updated = await db
      .updateTable('zoom_connections')
      .set({ health_check_due_at: nextDueAfter(now, intervalMs, undefined) })
      .where('specialist_id', '=', specialistId)
      .where('status', '=', 'active')
      .where('health_check_due_at', dueAt === null ? 'is' : '=', dueAt)
      .executeTakeFirst();
    return isOneRow(updated);
  }

  /** Asks Zoom about one connection, through the connection store. */
  async function ask(specialistId: string, signal: AbortSignal | undefined): Promise<ZoomHealthResult> {
    let token = await connections.getAccessToken(specialistId, { signal });
    for (let hasRetriedToken = false; ; hasRetriedToken = true) {
      if (token.kind === 'reauth') return 'dead';
      if (token.kind === 'unavailable') return 'unreachable';
      try {
        await zoom.getMe(token.accessToken);
        return 'ok';
      } catch (error) {
        if (!(error instanceof ZoomApiError && error.isInvalidToken)) {
          logger.warn('zoom health check could not ask zoom', { specialistId, error: (error as Error).message });
          return 'unreachable';
        }
        if (hasRetriedToken) {
          // A freshly refreshed token refused too: only a new authorization helps.
          await connections.markInvalid(specialistId, 'access_token_rejected');
          return 'dead';
        }
        token = await connections.getAccessToken(specialistId, { rejectedToken: token.accessToken, signal });
      }
    }
  }

  async function check(specialistId: string, intervalMs: number, signal: AbortSignal | undefined): Promise<void> {
    const startedAt = clock().toISOString();
    const result = await ask(specialistId, signal);
    const now = clock();
    await db.transaction().execute(async (trx) => {
      await trx
        .updateTable('zoom_connections')
        .set({
          health_checked_at: now.toISOString(),
          health_check_result: result,
          ...(result === 'unreachable' ? { health_check_due_at: nextDueAfter(now, intervalMs, result) } : {}),
        })
        .where('specialist_id', '=', specialistId)
        .execute();
      if (result !== 'dead') return;
      const row = await trx.selectFrom('zoom_connections').select(['status', 'invalid_since']).where('specialist_id', '=', specialistId).executeTakeFirst();
      // Only a death this check saw: one a customer or a job found first already has its email.
      if (row && row.status !== 'active' && row.invalid_since !== null && row.invalid_since >= startedAt) {
        await queueDeadConnectionNotices(trx, clock, specialistId, row.invalid_since);
      }
    });
    logger.info('zoom health checked', { specialistId, result });
  }

  return {
    async runDue(stopping) {
      const now = clock();
      const due = await db
        .selectFrom('zoom_connections')
        .select(['specialist_id', 'health_check_due_at'])
        .where('status', '=', 'active')
        // Never checked: due one interval after it was connected (a fresh
        // authorization has just been proved; a connection older than the
        // check itself is due at once).
        .where((eb) =>
          eb.or([
            eb.and([eb('health_check_due_at', 'is', null), eb('connected_at', '<=', new Date(now.getTime() - checkIntervalMs).toISOString())]),
            eb('health_check_due_at', '<=', now.toISOString()),
          ]),
        )
        // Nulls (never checked) first on both databases, then the longest overdue.
        .orderBy((eb) => eb.case().when('health_check_due_at', 'is', null).then(0).else(1).end())
        .orderBy('health_check_due_at')
        .limit(checksPerSecond)
        .execute();
      let checked = 0;
      for (const connection of due) {
        if (stopping?.aborted) break;
        const intervalMs = await intervalFor(connection.specialist_id, now);
        if (!(await claim(connection.specialist_id, connection.health_check_due_at, now, intervalMs))) continue;
        await check(connection.specialist_id, intervalMs, stopping);
        checked++;
      }
      return checked;
    },
  };
}

/** What a dead-connection email job carries: whom, which death (its `invalid_since`), and which email of the cadence. */
export interface ZoomHealthNoticePayload {
  specialistId: string;
  invalidSince: string;
  /** 0 for the first email, 1 to 3 for the reminders. */
  reminder: number;
}

/**
 * Queues the emails about a dead connection, in the caller's transaction: one
 * job a day of `ZOOM_HEALTH_NOTICE_DAYS` counted from `invalidSince`, each
 * with a dedupe key naming the connection's death and the email, so however
 * many processes or webhook deliveries report the same death, the specialist
 * gets at most four emails about it.
 */
export async function queueDeadConnectionNotices(trx: Transaction<Database>, clock: Clock, specialistId: string, invalidSince: string): Promise<void> {
  for (const [reminder, days] of ZOOM_HEALTH_NOTICE_DAYS.entries()) {
    const payload: ZoomHealthNoticePayload = { specialistId, invalidSince, reminder };
    await enqueueJob(trx, clock, {
      kind: ZOOM_HEALTH_NOTICE_JOB_KIND,
      payload,
      runAfter: new Date(Date.parse(invalidSince) + days * DAY),
      dedupeKey: `zoom-health:${specialistId}:${invalidSince}:${reminder}`,
    });
  }
}

/**
 * `app_deauthorized` from Zoom counts as a dead token found by the check:
 * each connection of that Zoom user revoked by it is marked as checked and
 * dead, and its emails are queued. Safe to repeat (Zoom redelivers webhooks):
 * the emails' dedupe keys name the revocation. Call after `markDeauthorized`.
 */
export async function recordDeauthorization(deps: { db: Kysely<Database>; clock: Clock }, zoomUserId: string): Promise<void> {
  const revoked = await deps.db
    .selectFrom('zoom_connections')
    .select(['specialist_id', 'invalid_since'])
    .where('zoom_user_id', '=', zoomUserId)
    .where('status', '=', 'revoked')
    .where('invalid_reason', '=', 'deauthorized_in_zoom' satisfies ReauthReason)
    .execute();
  for (const { specialist_id: specialistId, invalid_since: invalidSince } of revoked) {
    if (invalidSince === null) continue;
    await deps.db.transaction().execute(async (trx) => {
      await trx.updateTable('zoom_connections').set({ health_checked_at: invalidSince, health_check_result: 'dead' }).where('specialist_id', '=', specialistId).execute();
      await queueDeadConnectionNotices(trx, deps.clock, specialistId, invalidSince);
    });
  }
}

/**
 * Sends the dead-connection emails through the re-auth notifier (trigger
 * `health_check`; its throttle spares a specialist just emailed about a
 * customer). Checked when the job runs, in the transaction that sends: a
 * connection re-authorized (active again, or dead anew since) or disconnected
 * (gone) gets no more emails about that death.
 */
export function createZoomHealthNoticeJobHandler(deps: { notifyReauthRequired: ReauthNotifier }): JobHandler<ZoomHealthNoticePayload> {
  return {
    kind: ZOOM_HEALTH_NOTICE_JOB_KIND,
    async run(payload, context) {
      await context.complete(async (trx) => {
        const row = await trx
          .selectFrom('zoom_connections as c')
          .innerJoin('specialists as s', 's.id', 'c.specialist_id')
          .select(['c.status', 'c.invalid_since', 'c.invalid_reason', 'c.failed_booking_attempts', 's.name', 's.email', 's.time_zone'])
          .where('c.specialist_id', '=', payload.specialistId)
          .executeTakeFirst();
        if (!row || row.status === 'active' || row.invalid_since !== payload.invalidSince) return;
        await deps.notifyReauthRequired(trx, {
          trigger: 'health_check',
          reminder: payload.reminder,
          failedBookingAttempts: row.failed_booking_attempts,
          reason: (row.invalid_reason as ReauthReason | null) ?? 'refresh_token_rejected',
          specialist: { id: payload.specialistId, name: row.name, email: row.email, timeZone: row.time_zone },
        });
      });
    },
  };
}
