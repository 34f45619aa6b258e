/**
 * Held requests (issue #17): no customer lost to a dead Zoom token.
 *
 * A booking that meets a dead token keeps its slot as `held` until its hold
 * ends (`holdExpiryFor`), and one job per request
 * (`bookings.held-request`, queued in the hold's transaction) carries it
 * to its end, across restarts and on any instance:
 *
 * - It waits for the hold's end. A re-authorization (the OAuth callback,
 *   in any process) makes the specialist's held requests due at once, in
 *   start order (`makeHeldRequestsDue`).
 * - When it runs before the hold's end, it provisions: the Zoom meeting
 *   (found by its agenda marker if an earlier attempt made it), then the
 *   confirmation and both invitations, in the transaction that completes the
 *   job, fenced by the job's lease and by `status = 'held'` with its row
 *   count checked. So a request is confirmed exactly once, and a withdrawal
 *   or an expiry that won the race gets the meeting deleted instead.
 * - Zoom failing (429, 5xx) is retried with backoff, never past the hold's
 *   end; a token that is dead again waits for the next re-authorization.
 *   Either way the request stays held.
 * - At the hold's end, or when its time comes inside the minimum notice,
 *   the request expires: the slot is released and the customer emailed a
 *   link to pick another time. An expired request is never confirmed.
 *
 * The customer may withdraw a held request (the manage link) and the slot is
 * released at once (`releaseHeldRequest`).
 */
import type { Kysely, Selectable, Transaction } from 'kysely';
import { markAvailabilityChanged } from '../availability/version.js';
import type { Clock } from '../clock.js';
import type { BookingsTable, Database, ServicesTable, SpecialistsTable } from '../db/schema.js';
import { enqueueJob, RetryJobAt, type JobHandler, type RetryPolicy } from '../jobs/index.js';
import { isOneRow, pollWithBackoff } from '../leases/index.js';
import type { Logger } from '../logger.js';
import type { TokenCipher } from '../security/token-cipher.js';
import { queueMeetingCleanup } from '../zoom/meeting-cleanup.js';
import type { ZoomMeetings } from '../zoom/meetings.js';
import type { ReauthNotifier } from '../zoom/reauth.js';
import type { BookingConfirmedHandler } from '../email/notifications.js';
import { bookingConfirmedEvent } from './index.js';

const MINUTE = 60_000;
export const HELD_REQUEST_JOB = 'bookings.held-request';
/** A hold shorter than this is not worth it: the slot is released as before holds existed. */
export const MIN_HOLD_MS = 30 * MINUTE;
/** The longest hold a specialist may set: a week. */
export const MAX_HOLD_WINDOW_MINUTES = 7 * 24 * 60;
/** How long one provisioning attempt may take (Zoom's retries, a token refresh), well inside the job's lease. */
const PROVISION_DEADLINE_MS = 40_000;
/** A meeting a lost race may have made is deleted this long after the release, once the attempt in flight is over. */
const CLEANUP_DELAY_MS = 60_000;

type BookingRow = Selectable<BookingsTable>;
type SpecialistRow = Selectable<SpecialistsTable>;
type ServiceRow = Selectable<ServicesTable>;

/**
 * When a hold starting `now` for a slot at `start` ends: the specialist's
 * window, but always no later than the start minus the minimum notice.
 * Undefined when that leaves under 30 minutes (or the window is 0): then
 * there is no hold, and the slot is released.
 */
export function holdExpiryFor(specialist: Pick<SpecialistRow, 'hold_window_minutes' | 'min_notice_minutes'>, start: number, now: number): Date | undefined {
  if (specialist.hold_window_minutes <= 0) return undefined;
  const end = Math.min(now + specialist.hold_window_minutes * MINUTE, start - specialist.min_notice_minutes * MINUTE);
  return end - now >= MIN_HOLD_MS ? new Date(end) : undefined;
}

/** What a held request's emails are about. */
export interface HeldRequestEvent {
  bookingId: string;
  service: { title: string };
  specialist: { id: string; slug: string; name: string; email: string; timeZone: string };
  customer: { name: string; email: string; timeZone: string | null };
  start: Date;
  holdExpiresAt: Date;
}

/** What holding and expiring tell the customer, in the transaction of the change (server/email). */
export interface HeldRequestHandlers {
  /** The request is held: the customer is told at once, with the link to withdraw it. */
  onHeld(trx: Transaction<Database>, event: HeldRequestEvent): Promise<void>;
  /** The hold ended unconfirmed: the customer is told, with a link to pick another time. */
  onHoldExpired(trx: Transaction<Database>, event: HeldRequestEvent): Promise<void>;
}

export function heldRequestEvent(row: BookingRow, specialist: SpecialistRow, service: Pick<ServiceRow, 'title'>): HeldRequestEvent {
  return {
    bookingId: row.id,
    service: { title: service.title },
    specialist: { id: specialist.id, slug: specialist.slug, name: specialist.name, email: specialist.email, timeZone: specialist.time_zone },
    customer: { name: row.customer_name, email: row.customer_email, timeZone: row.customer_time_zone },
    start: new Date(row.start_at),
    holdExpiresAt: new Date(row.hold_expires_at ?? row.start_at),
  };
}

/** The held-request job's payload: the hold's end never changes, so the job knows it without a read. */
export interface HeldRequestPayload {
  bookingId: string;
  specialistId: string;
  holdExpiresAt: string;
}

const jobKeyOf = (bookingId: string) => `${HELD_REQUEST_JOB}:${bookingId}`;

/**
 * Queues the held request's job in the hold's transaction. It runs at the
 * hold's end, unless the connection is already active again: a
 * re-authorization that committed while this request was being held has
 * made the other requests due already, so this one is due now too.
 *
 * Call it after the hold's transaction has written the specialist's row
 * (`specialists`, which always exists): a Zoom authorization writes that row
 * before it makes held requests due, so the two transactions are ordered by
 * its lock, and either this one sees the new authorization or the
 * authorization sees this job.
 */
export async function queueHeldRequest(trx: Transaction<Database>, clock: Clock, payload: HeldRequestPayload): Promise<void> {
  const connection = await trx.selectFrom('zoom_connections').select('status').where('specialist_id', '=', payload.specialistId).executeTakeFirst();
  const runAfter = connection?.status === 'active' ? clock() : new Date(payload.holdExpiresAt);
  await enqueueJob(trx, clock, { kind: HELD_REQUEST_JOB, payload, runAfter, dedupeKey: jobKeyOf(payload.bookingId), specialistId: payload.specialistId });
}

/**
 * Makes a specialist's held requests due now, soonest start first (the
 * worker takes due jobs by `run_after`, so each is a millisecond after the
 * one before, the last one now). Called in the transaction that saves a new Zoom
 * authorization, after the connection row is written. Returns how many.
 */
export async function makeHeldRequestsDue(trx: Transaction<Database>, clock: Clock, specialistId: string): Promise<number> {
  const held = await trx.selectFrom('bookings').select('id').where('specialist_id', '=', specialistId).where('status', '=', 'held').orderBy('start_at').orderBy('id').execute();
  const now = clock().getTime();
  let due = 0;
  for (const [rank, { id }] of held.entries()) {
    // All due now; the soonest start a millisecond before the next.
    const updated = await trx
      .updateTable('jobs')
      .set({ run_after: new Date(now - held.length + 1 + rank).toISOString() })
      .where('dedupe_key', '=', jobKeyOf(id))
      .where('status', '=', 'pending')
      .executeTakeFirst();
    due += Number(updated.numUpdatedRows);
  }
  return due;
}

/**
 * Ends a held request without confirming it (`expired` at its hold's end,
 * `withdrawn` by the customer): the status change is fenced on `held` with
 * its row count checked, and the slot claims go in the same transaction, so
 * the time is free at once. A meeting that a provisioning attempt may be
 * making right now is deleted a minute later. False when the request was
 * no longer held (confirmed, or ended already): nothing changed.
 */
export async function releaseHeldRequest(trx: Transaction<Database>, clock: Clock, bookingId: string, outcome: 'expired' | 'withdrawn'): Promise<boolean> {
  const now = clock();
  const updated = await trx
    .updateTable('bookings')
    .set({ status: outcome, updated_at: now.toISOString() })
    .where('id', '=', bookingId)
    .where('status', '=', 'held')
    .executeTakeFirst();
  if (!isOneRow(updated)) return false;
  const row = await trx.selectFrom('bookings').select(['specialist_id', 'meeting_requested_at']).where('id', '=', bookingId).executeTakeFirstOrThrow();
  await trx.deleteFrom('booking_slot_claims').where('booking_id', '=', bookingId).execute();
  await markAvailabilityChanged(trx, row.specialist_id);
  if (row.meeting_requested_at !== null) {
    await queueMeetingCleanup(trx, clock, { specialistId: row.specialist_id, bookingId }, new Date(now.getTime() + CLEANUP_DELAY_MS));
  }
  return true;
}

/** A request waiting for the specialist to re-authorize, as the dashboard and the re-auth email show it. */
export interface WaitingRequest {
  id: string;
  serviceTitle: string;
  customerName: string;
  start: string;
  holdExpiresAt: string;
}

/** A specialist's held requests, soonest deadline first. */
export async function listHeldRequests(db: Kysely<Database> | Transaction<Database>, specialistId: string): Promise<WaitingRequest[]> {
  const rows = await db
    .selectFrom('bookings')
    .innerJoin('services', 'services.id', 'bookings.service_id')
    .select(['bookings.id', 'services.title', 'bookings.customer_name', 'bookings.start_at', 'bookings.hold_expires_at'])
    .where('bookings.specialist_id', '=', specialistId)
    .where('bookings.status', '=', 'held')
    .orderBy('bookings.hold_expires_at')
    .orderBy('bookings.start_at')
    .execute();
  return rows.map((row) => ({ id: row.id, serviceTitle: row.title, customerName: row.customer_name, start: row.start_at, holdExpiresAt: row.hold_expires_at ?? row.start_at }));
}

/** A request whose hold ended unconfirmed, for the specialist's next notice. */
export interface ExpiredRequest {
  serviceTitle: string;
  customerName: string;
  start: string;
  expiredAt: string;
}

/** The specialist's requests that expired after `since` (all, when undefined): the first 20, oldest first, and how many in all. */
export async function listExpiredRequests(
  db: Kysely<Database> | Transaction<Database>,
  specialistId: string,
  since: string | undefined,
): Promise<{ first: ExpiredRequest[]; count: number }> {
  let query = db
    .selectFrom('bookings')
    .innerJoin('services', 'services.id', 'bookings.service_id')
    .where('bookings.specialist_id', '=', specialistId)
    .where('bookings.status', '=', 'expired');
  if (since !== undefined) query = query.where('bookings.updated_at', '>', since);
  const rows = await query.select(['services.title', 'bookings.customer_name', 'bookings.start_at', 'bookings.updated_at']).orderBy('bookings.updated_at').limit(20).execute();
  const { count } = await query.select((eb) => eb.fn.countAll<string | number>().as('count')).executeTakeFirstOrThrow();
  return { first: rows.map((row) => ({ serviceTitle: row.title, customerName: row.customer_name, start: row.start_at, expiredAt: row.updated_at })), count: Number(count) };
}

export interface HeldRequestJobDeps {
  db: Kysely<Database>;
  clock: Clock;
  logger: Logger;
  meetings: ZoomMeetings;
  cipher: TokenCipher;
  onBookingConfirmed: BookingConfirmedHandler;
  heldRequests: HeldRequestHandlers;
  /** Told when a held request finds the connection dead again (throttled there). */
  notifyReauthRequired: ReauthNotifier;
  /** How long one attempt at the meeting may take. Default 40 s. */
  provisionDeadlineMs?: number;
}

/** The connection was dead when the attempt began at `seenVersion`: wait for a re-authorization (or the hold's end). */
class WaitingForReauth extends RetryJobAt {
  constructor(
    at: Date,
    readonly seenVersion: number | undefined,
  ) {
    super(at, 'waiting for the specialist to re-authorize Zoom');
  }
}

/**
 * Retried with backoff from 30 s up to 15 minutes while Zoom fails, never
 * past the hold's end (`latestRetryAt`); the retry time covers the longest
 * hold, so a request ends by expiring, not by the job giving up.
 */
export const HELD_REQUEST_RETRY: Partial<RetryPolicy> = { baseDelayMs: 30_000, maxDelayMs: 15 * MINUTE, retryForMs: (MAX_HOLD_WINDOW_MINUTES + 24 * 60) * MINUTE, leaseMs: 90_000 };

/** The job worker's handler for held requests; see the module's comment. */
export function createHeldRequestJobHandler(deps: HeldRequestJobDeps): JobHandler<HeldRequestPayload> {
  const { db, clock, logger } = deps;

  async function load(executor: Kysely<Database> | Transaction<Database>, bookingId: string) {
    const row = await executor.selectFrom('bookings').selectAll().where('id', '=', bookingId).executeTakeFirst();
    if (!row) return undefined;
    const specialist = await executor.selectFrom('specialists').selectAll().where('id', '=', row.specialist_id).executeTakeFirstOrThrow();
    const service = await executor.selectFrom('services').selectAll().where('id', '=', row.service_id).executeTakeFirstOrThrow();
    return { row, specialist, service };
  }

  /** Expires the request and tells the customer, in `trx`; false when it was no longer held. */
  async function expire(trx: Transaction<Database>, row: BookingRow, specialist: SpecialistRow, service: ServiceRow): Promise<boolean> {
    if (!(await releaseHeldRequest(trx, clock, row.id, 'expired'))) return false;
    await deps.heldRequests.onHoldExpired(trx, heldRequestEvent(row, specialist, service));
    return true;
  }

  /**
   * This attempt made a meeting (or may have: `madeMeetingId` undefined) but
   * lost the job's lease, so it confirmed nothing. Whoever runs the job now finds that meeting by its marker and
   * adopts it, or (had it started first) confirms with its own: once the
   * request has settled (at most the attempt's deadline), the meeting goes
   * unless it is the one the request was confirmed with.
   */
  async function settleLostJobLease(bookingId: string, specialistId: string, madeMeetingId: string | undefined): Promise<void> {
    logger.warn('held request attempt lost its job lease', { bookingId });
    const settled = await pollWithBackoff(
      async () => {
        const current = await db.selectFrom('bookings').select(['status', 'zoom_meeting_id']).where('id', '=', bookingId).executeTakeFirst();
        return current?.status === 'held' ? undefined : { current };
      },
      { budgetMs: deps.provisionDeadlineMs ?? PROVISION_DEADLINE_MS },
    );
    // Still held: the new holder is at work, and will find the meeting by its marker.
    if (!settled || (madeMeetingId !== undefined && settled.current?.zoom_meeting_id === madeMeetingId)) return;
    await queueMeetingCleanup(db, clock, { specialistId, bookingId, keepMeetingId: settled.current?.zoom_meeting_id ?? null });
  }

  return {
    kind: HELD_REQUEST_JOB,
    retry: HELD_REQUEST_RETRY,
    latestRetryAt: (payload) => new Date(payload.holdExpiresAt),
    async run(payload, context) {
      const loaded = await load(db, payload.bookingId);
      // Confirmed, withdrawn or expired meanwhile: nothing is left to do.
      if (loaded?.row.status !== 'held') return;
      const { row, specialist, service } = loaded;
      const now = clock();
      const start = Date.parse(row.start_at);
      if (now.getTime() >= Date.parse(payload.holdExpiresAt) || start < now.getTime() + specialist.min_notice_minutes * MINUTE) {
        await context.complete(async (trx) => {
          if (await expire(trx, row, specialist, service)) logger.info('held request expired', { bookingId: row.id, specialistId: specialist.id });
        });
        return;
      }
      const connection = await db.selectFrom('zoom_connections').select(['version']).where('specialist_id', '=', specialist.id).executeTakeFirst();
      // From now on a meeting may exist: a withdrawal or an expiry deletes it, a later attempt adopts it.
      const marked = await db.updateTable('bookings').set({ meeting_requested_at: now.toISOString() }).where('id', '=', row.id).where('status', '=', 'held').executeTakeFirst();
      if (!isOneRow(marked)) return;
      const result = await deps.meetings.createForBooking({
        specialistId: specialist.id,
        bookingId: row.id,
        topic: `${service.title} with ${row.customer_name}`,
        start: new Date(row.start_at),
        durationMinutes: service.duration_minutes,
        timeZone: specialist.time_zone,
        customerName: row.customer_name,
        mayAlreadyExist: true,
        signal: AbortSignal.any([context.signal, AbortSignal.timeout(deps.provisionDeadlineMs ?? PROVISION_DEADLINE_MS)]),
      });
      if (result.kind === 'reauth') {
        await db.transaction().execute((trx) =>
          deps.notifyReauthRequired(trx, {
            trigger: 'held_requests',
            specialist: { id: specialist.id, name: specialist.name, email: specialist.email, timeZone: specialist.time_zone },
            reason: result.reason,
          }),
        );
        throw new WaitingForReauth(new Date(payload.holdExpiresAt), connection?.version);
      }
      if (result.kind !== 'created' && context.signal.aborted) {
        // The job's lease was lost mid-call: Zoom may still have made the meeting.
        await settleLostJobLease(row.id, specialist.id, undefined);
        return;
      }
      if (result.kind === 'unavailable') {
        // Zoom's own Retry-After, when it said one; otherwise the backoff. Either way no later than the hold's end.
        if (result.retryAfterSeconds !== undefined) throw new RetryJobAt(new Date(clock().getTime() + result.retryAfterSeconds * 1000), `Zoom is unavailable: ${result.message}`);
        throw new Error(`Zoom is unavailable: ${result.message}`);
      }
      const meeting = result.meeting;
      const isHeld = await context.complete(async (trx) => {
        const at = clock();
        const confirmed = await trx
          .updateTable('bookings')
          .set({
            status: 'confirmed',
            zoom_meeting_id: meeting.id,
            zoom_join_url: meeting.joinUrl,
            zoom_start_url_enc: deps.cipher.encrypt(meeting.startUrl, `${row.id}:start_url`),
            updated_at: at.toISOString(),
          })
          .where('id', '=', row.id)
          .where('status', '=', 'held')
          .where('hold_expires_at', '>', at.toISOString())
          .executeTakeFirst();
        if (isOneRow(confirmed)) {
          await deps.onBookingConfirmed(trx, bookingConfirmedEvent(row, service, specialist, meeting));
          logger.info('held request confirmed', { bookingId: row.id, specialistId: specialist.id });
          return;
        }
        // Withdrawn meanwhile (its release queued the meeting's deletion), or its hold ended while Zoom worked.
        if (await expire(trx, row, specialist, service)) logger.info('held request expired while its meeting was made', { bookingId: row.id });
      });
      if (!isHeld) await settleLostJobLease(row.id, specialist.id, meeting.id);
    },
    async onFailure(trx, payload, failure) {
      if (failure.isFinal) {
        // Given up (it should not come to that: the hold ends first): the request is not left held for nothing.
        const loaded = await load(trx, payload.bookingId);
        if (loaded?.row.status === 'held') await expire(trx, loaded.row, loaded.specialist, loaded.service);
        return;
      }
      if (!(failure.cause instanceof WaitingForReauth)) return;
      // A re-authorization may have committed while this attempt ran: it made this job due before this
      // write put it back to the hold's end. This write holds the job's row, and the re-authorization
      // writes the connection before the job, so reading the connection now sees it if that happened.
      const connection = await trx.selectFrom('zoom_connections').select(['status', 'version']).where('specialist_id', '=', payload.specialistId).executeTakeFirst();
      if (connection?.status === 'active' && connection.version !== failure.cause.seenVersion) {
        await trx.updateTable('jobs').set({ run_after: clock().toISOString() }).where('id', '=', failure.jobId).execute();
      }
    },
  };
}
