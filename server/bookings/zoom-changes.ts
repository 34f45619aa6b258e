/**
 * Zoom changes that follow a booking change (issue #16): a cancelled
 * booking's meeting is deleted, a rescheduled one's is moved. They never
 * wait on Zoom: the booking change queues a job in its own transaction, and
 * the job worker carries it out, retrying while Zoom is down or the
 * specialist's token is dead. A job that finds the token dead asks the
 * re-auth notifier to email the specialist (throttled), so a cancel needs no
 * later booking attempt to be noticed. After a re-authorization the waiting
 * changes, and those that gave up meanwhile, are made due at once
 * (`makeZoomChangesDue`).
 *
 * Exactly once, across retries, restarts and processes: the job's fenced
 * lease keeps it with one worker at a time, and both operations are
 * idempotent (a delete of a gone meeting is done; an update sets the
 * booking's current time, read when the job runs, and reads it again after
 * its PATCH, so a slow older PATCH that lands after a newer job's is put
 * right by the job that sent it). Neither ever creates a meeting.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Clock } from '../clock.js';
import type { Database } from '../db/schema.js';
import { enqueueJob, type JobHandler, type RetryPolicy } from '../jobs/index.js';
import type { Logger } from '../logger.js';
import type { ZoomClient } from '../zoom/client.js';
import type { ReauthReason, ZoomConnectionStore } from '../zoom/connections.js';
import { ZoomApiError, ZoomMeetingNotFoundError } from '../zoom/errors.js';
import type { ReauthNotifier } from '../zoom/reauth.js';

export const ZOOM_DELETE_MEETING_JOB = 'zoom.delete-meeting';
export const ZOOM_UPDATE_MEETING_JOB = 'zoom.update-meeting';
const ZOOM_CHANGE_KINDS = [ZOOM_DELETE_MEETING_JOB, ZOOM_UPDATE_MEETING_JOB];
const DAY_MS = 24 * 3_600_000;
/** How far back a re-auth revives changes that gave up: the 7-day retry window, and a few weeks more for a specialist slow to act. */
export const REVIVE_FAILED_ZOOM_CHANGES_FOR_MS = 30 * DAY_MS;
/** PATCHes one update job makes at most while the booking keeps moving under it; the next job carries on after that. */
const MAX_UPDATE_ROUNDS = 5;

/** What a Zoom change job is about. */
export interface ZoomChangePayload {
  specialistId: string;
  bookingId: string;
  meetingId: string;
}

/**
 * Retried for 7 days, not the default 24 h: a dead token waits for the
 * specialist to act on the re-auth email, which may well be after a weekend,
 * and a meeting left standing (or at the old time) misleads the customer.
 * A re-auth makes the jobs due at once, so the long backoff costs nothing then.
 */
export const ZOOM_CHANGE_RETRY: Partial<RetryPolicy> = { retryForMs: 7 * DAY_MS };

/** The Zoom calls the jobs make. */
export type ZoomMeetingChanger = Pick<ZoomClient, 'deleteMeeting' | 'updateMeeting'>;

/** Queues a Zoom change in the booking change's transaction: it exists exactly when the change commits. */
export async function queueZoomChange(trx: Transaction<Database>, clock: Clock, kind: typeof ZOOM_DELETE_MEETING_JOB | typeof ZOOM_UPDATE_MEETING_JOB, payload: ZoomChangePayload): Promise<void> {
  await enqueueJob(trx, clock, {
    kind,
    payload,
    specialistId: payload.specialistId,
    // A booking is cancelled once: one delete job, however the cancel was repeated.
    dedupeKey: kind === ZOOM_DELETE_MEETING_JOB ? `${kind}:${payload.bookingId}` : undefined,
  });
}

/**
 * Makes a specialist's waiting Zoom changes due now: called in the
 * transaction that saves a new Zoom authorization, so they run as soon as
 * it commits instead of at their backed-off time. Changes that gave up
 * (failed) within `REVIVE_FAILED_ZOOM_CHANGES_FOR_MS` are revived too, with
 * a fresh retry window, while their booking still needs them: a cancelled
 * booking's delete, a confirmed booking's move of the meeting it still has.
 * They failed on the dead token, most likely; if not, one more run is
 * harmless, as both changes are idempotent. Returns how many were made due.
 */
export async function makeZoomChangesDue(trx: Transaction<Database>, clock: Clock, specialistId: string): Promise<number> {
  const now = clock();
  const result = await trx
    .updateTable('jobs')
    .set({ run_after: now.toISOString() })
    .where('specialist_id', '=', specialistId)
    .where('status', '=', 'pending')
    .where('kind', 'in', ZOOM_CHANGE_KINDS)
    .where('run_after', '>', now.toISOString())
    .executeTakeFirst();
  const revived = await reviveFailedZoomChanges(trx, now, specialistId);
  return Number(result.numUpdatedRows) + revived;
}

/** Resets to pending, due now, the specialist's recently failed Zoom changes whose booking still needs them. */
async function reviveFailedZoomChanges(trx: Transaction<Database>, now: Date, specialistId: string): Promise<number> {
  const failed = await trx
    .selectFrom('jobs')
    .select(['id', 'kind', 'payload'])
    .where('specialist_id', '=', specialistId)
    .where('status', '=', 'failed')
    .where('kind', 'in', ZOOM_CHANGE_KINDS)
    .where('finished_at', '>=', new Date(now.getTime() - REVIVE_FAILED_ZOOM_CHANGES_FOR_MS).toISOString())
    .execute();
  if (failed.length === 0) return 0;
  const changes = failed.map((job) => ({ id: job.id, kind: job.kind, payload: JSON.parse(job.payload) as ZoomChangePayload }));
  const bookings = await trx
    .selectFrom('bookings')
    .select(['id', 'status', 'zoom_meeting_id'])
    .where('id', 'in', changes.map((c) => c.payload.bookingId))
    .execute();
  const byId = new Map(bookings.map((b) => [b.id, b]));
  const needed = changes.filter(({ kind, payload }) => {
    const booking = byId.get(payload.bookingId);
    if (kind === ZOOM_DELETE_MEETING_JOB) return booking?.status === 'cancelled';
    return booking?.status === 'confirmed' && booking.zoom_meeting_id === payload.meetingId;
  });
  if (needed.length === 0) return 0;
  // created_at is where the retry window starts (server/jobs/worker.ts): moving it gives the revived job a full window again.
  const result = await trx
    .updateTable('jobs')
    .set({ status: 'pending', run_after: now.toISOString(), created_at: now.toISOString(), attempts: 0, finished_at: null, lease_token: null, lease_until: null })
    .where('id', 'in', needed.map((c) => c.id))
    .where('status', '=', 'failed')
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** How many Zoom changes of a specialist's bookings wait to be carried out (the re-auth email names them). */
export async function countPendingZoomChanges(db: Kysely<Database> | Transaction<Database>, specialistId: string): Promise<number> {
  const row = await db
    .selectFrom('jobs')
    .select((eb) => eb.fn.countAll<string | number>().as('count'))
    .where('specialist_id', '=', specialistId)
    .where('status', '=', 'pending')
    .where('kind', 'in', ZOOM_CHANGE_KINDS)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

export interface ZoomChangeJobDeps {
  db: Kysely<Database>;
  zoom: ZoomMeetingChanger;
  connections: Pick<ZoomConnectionStore, 'getAccessToken'>;
  /** Told (in a transaction of its own) each time a job finds the connection needs re-authorizing; it throttles. */
  notifyReauthRequired: ReauthNotifier;
  logger: Logger;
}

/**
 * The job worker's handlers for `zoom.delete-meeting` and
 * `zoom.update-meeting`. An attempt fails (and is retried with backoff, see
 * `ZOOM_CHANGE_RETRY`) when the connection cannot give a token or Zoom fails;
 * a connection that needs re-authorizing is also reported to
 * `notifyReauthRequired`, so the specialist hears of it without a customer's
 * booking attempt.
 */
export function createZoomChangeJobHandlers(deps: ZoomChangeJobDeps): JobHandler<ZoomChangePayload>[] {
  const { db, zoom, connections, notifyReauthRequired, logger } = deps;

  /** Asks the notifier to email the specialist about the dead connection, naming the changes that wait. */
  async function reportReauthRequired(specialistId: string, reason: ReauthReason): Promise<void> {
    await db.transaction().execute(async (trx) => {
      const specialist = await trx.selectFrom('specialists').select(['id', 'name', 'email', 'time_zone']).where('id', '=', specialistId).executeTakeFirstOrThrow();
      await notifyReauthRequired(trx, {
        trigger: 'changes_waiting',
        specialist: { id: specialist.id, name: specialist.name, email: specialist.email, timeZone: specialist.time_zone },
        reason,
      });
    });
  }

  /** Runs `call` with the specialist's token; a token Zoom refuses is refreshed once and the call tried again. */
  async function withAccessToken(specialistId: string, signal: AbortSignal, call: (accessToken: string) => Promise<void>): Promise<void> {
    let token = await connections.getAccessToken(specialistId, { signal });
    for (let hasRetriedToken = false; ; hasRetriedToken = true) {
      if (token.kind === 'reauth') {
        await reportReauthRequired(specialistId, token.reason);
        throw new Error(`the Zoom connection needs re-authorizing (${token.reason})`);
      }
      if (token.kind !== 'token') throw new Error(token.message);
      try {
        return await call(token.accessToken);
      } catch (error) {
        if (!(error instanceof ZoomApiError && error.isInvalidToken) || hasRetriedToken) throw error;
        token = await connections.getAccessToken(specialistId, { rejectedToken: token.accessToken, signal });
      }
    }
  }

  const deleteMeeting: JobHandler<ZoomChangePayload> = {
    kind: ZOOM_DELETE_MEETING_JOB,
    retry: ZOOM_CHANGE_RETRY,
    async run(payload, context) {
      // The client counts Zoom's 404 code 3001 (no such meeting) as deleted.
      await withAccessToken(payload.specialistId, context.signal, (accessToken) => zoom.deleteMeeting(accessToken, payload.meetingId, { signal: context.signal }));
      logger.info('zoom meeting of a cancelled booking deleted', { specialistId: payload.specialistId, bookingId: payload.bookingId });
    },
  };

  /** The booking and what its meeting's time is made of, as committed now. */
  function currentBooking(payload: ZoomChangePayload) {
    return db
      .selectFrom('bookings')
      .innerJoin('services', 'services.id', 'bookings.service_id')
      .innerJoin('specialists', 'specialists.id', 'bookings.specialist_id')
      .select(['bookings.status', 'bookings.start_at', 'bookings.zoom_meeting_id', 'services.duration_minutes', 'specialists.time_zone'])
      .where('bookings.id', '=', payload.bookingId)
      .executeTakeFirst();
  }

  const updateMeeting: JobHandler<ZoomChangePayload> = {
    kind: ZOOM_UPDATE_MEETING_JOB,
    retry: ZOOM_CHANGE_RETRY,
    async run(payload, context) {
      // The booking as it is now, not as it was when the job was queued: a later reschedule or a cancel wins.
      let booking = await currentBooking(payload);
      for (let round = 1; ; round++) {
        if (booking?.status !== 'confirmed' || booking.zoom_meeting_id !== payload.meetingId) {
          logger.info('zoom meeting update skipped: the booking is no longer confirmed with it', { bookingId: payload.bookingId });
          return;
        }
        const change = { startTime: new Date(booking.start_at), durationMinutes: booking.duration_minutes, timeZone: booking.time_zone };
        try {
          await withAccessToken(payload.specialistId, context.signal, (accessToken) => zoom.updateMeeting(accessToken, payload.meetingId, change, { signal: context.signal }));
        } catch (error) {
          if (!(error instanceof ZoomMeetingNotFoundError)) throw error;
          // Deleted at Zoom (by the specialist, by hand): there is nothing to move, and a retry would not change that.
          logger.warn('zoom meeting to move no longer exists', { specialistId: payload.specialistId, bookingId: payload.bookingId });
          return;
        }
        // Another reschedule may have committed while this PATCH was on its way, and its own job may have
        // PATCHed first: then this slower PATCH just put the old time back. Read again, and move again if so.
        const after = await currentBooking(payload);
        if (after?.status === booking.status && after.start_at === booking.start_at && after.duration_minutes === booking.duration_minutes) break;
        if (round === MAX_UPDATE_ROUNDS) throw new Error(`the booking kept moving during ${MAX_UPDATE_ROUNDS} Zoom updates; trying again later`);
        booking = after;
      }
      logger.info('zoom meeting of a rescheduled booking moved', { specialistId: payload.specialistId, bookingId: payload.bookingId });
    },
  };

  return [deleteMeeting, updateMeeting];
}
