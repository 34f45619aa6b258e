/**
 * Zoom changes that follow a booking change (issue #16): a cancelled
 * booking's meeting is deleted, a rescheduled one's is moved. They never
 * wait on Zoom: the booking change queues a job in its own transaction, and
 * the job worker carries it out, retrying while Zoom is down or the
 * specialist's token is dead. After a re-authorization the waiting changes
 * are made due at once (`makeZoomChangesDue`).
 *
 * Exactly once, across retries, restarts and processes: the job's fenced
 * lease keeps it with one worker at a time, and both operations are
 * idempotent (a delete of a gone meeting is done; an update sets the
 * booking's current time, read when the job runs, so retries and a reordered
 * older job converge on the latest). Neither ever creates a meeting.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Clock } from '../clock.js';
import type { Database } from '../db/schema.js';
import { enqueueJob, type JobHandler, type RetryPolicy } from '../jobs/index.js';
import type { Logger } from '../logger.js';
import type { ZoomClient } from '../zoom/client.js';
import type { ZoomConnectionStore } from '../zoom/connections.js';
import { ZoomApiError, ZoomMeetingNotFoundError } from '../zoom/errors.js';

export const ZOOM_DELETE_MEETING_JOB = 'zoom.delete-meeting';
export const ZOOM_UPDATE_MEETING_JOB = 'zoom.update-meeting';
const ZOOM_CHANGE_KINDS = [ZOOM_DELETE_MEETING_JOB, ZOOM_UPDATE_MEETING_JOB];

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
export const ZOOM_CHANGE_RETRY: Partial<RetryPolicy> = { retryForMs: 7 * 24 * 3_600_000 };

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
 * it commits instead of at their backed-off time. Returns how many.
 */
export async function makeZoomChangesDue(trx: Transaction<Database>, clock: Clock, specialistId: string): Promise<number> {
  const now = clock().toISOString();
  const result = await trx
    .updateTable('jobs')
    .set({ run_after: now })
    .where('specialist_id', '=', specialistId)
    .where('status', '=', 'pending')
    .where('kind', 'in', ZOOM_CHANGE_KINDS)
    .where('run_after', '>', now)
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
  logger: Logger;
}

/**
 * The job worker's handlers for `zoom.delete-meeting` and
 * `zoom.update-meeting`. An attempt fails (and is retried with backoff, see
 * `ZOOM_CHANGE_RETRY`) when the connection cannot give a token or Zoom fails.
 */
export function createZoomChangeJobHandlers(deps: ZoomChangeJobDeps): JobHandler<ZoomChangePayload>[] {
  const { db, zoom, connections, logger } = deps;

  /** Runs `call` with the specialist's token; a token Zoom refuses is refreshed once and the call tried again. */
  async function withAccessToken(specialistId: string, signal: AbortSignal, call: (accessToken: string) => Promise<void>): Promise<void> {
    let token = await connections.getAccessToken(specialistId, { signal });
    for (let hasRetriedToken = false; ; hasRetriedToken = true) {
      if (token.kind === 'reauth') throw new Error(`the Zoom connection needs re-authorizing (${token.reason})`);
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

  const updateMeeting: JobHandler<ZoomChangePayload> = {
    kind: ZOOM_UPDATE_MEETING_JOB,
    retry: ZOOM_CHANGE_RETRY,
    async run(payload, context) {
      // The booking as it is now, not as it was when the job was queued: a later reschedule or a cancel wins.
      const booking = await db
        .selectFrom('bookings')
        .innerJoin('services', 'services.id', 'bookings.service_id')
        .innerJoin('specialists', 'specialists.id', 'bookings.specialist_id')
        .select(['bookings.status', 'bookings.start_at', 'bookings.zoom_meeting_id', 'services.duration_minutes', 'specialists.time_zone'])
        .where('bookings.id', '=', payload.bookingId)
        .executeTakeFirst();
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
      logger.info('zoom meeting of a rescheduled booking moved', { specialistId: payload.specialistId, bookingId: payload.bookingId });
    },
  };

  return [deleteMeeting, updateMeeting];
}
