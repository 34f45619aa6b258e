import { createHash, randomUUID } from 'node:crypto';
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { z } from 'zod';
import type { Booking, CreateBookingRequestSchema } from '../../sdk/contract.js';
import { claimBlocks, loadSlotRules, offeredSlots } from '../availability/index.js';
import { markAvailabilityChanged } from '../availability/version.js';
import type { Clock } from '../clock.js';
import { isUniqueViolation } from '../db/connection.js';
import type { BookingsTable, Database } from '../db/schema.js';
import { DomainError, rateLimited, UNAVAILABLE_RETRY_AFTER_SECONDS, zoomUnavailable } from '../errors.js';
import { countHits, DAY_MS, HOUR_MS, type AbuseLimits, type Limit } from '../limits/index.js';
import type { Logger } from '../logger.js';
import type { TokenCipher } from '../security/token-cipher.js';
import { requireActiveService, requireSpecialist, type ServiceRow, type SpecialistRow } from '../specialists/index.js';
import { cleanUpBookingMeetings, queueMeetingCleanup } from '../zoom/meeting-cleanup.js';
import type { MeetingResult, ZoomMeetings } from '../zoom/meetings.js';
import { describeReauthReason, type ReauthNotifier, type ReauthRequiredEvent } from '../zoom/reauth.js';
import type { ReauthReason } from '../zoom/connections.js';
import type { BookingConfirmedEvent, BookingConfirmedHandler, BookingNotGoneThroughHandler } from '../email/notifications.js';
import { createLeaseKeeper, isOneRow, keepLeaseAlive, pollWithBackoff, type Lease, type LeaseKeeper, type LeaseSpec } from '../leases/index.js';
import type { Hold } from '../../sdk/contract.js';
import { heldRequestEvent, holdExpiryFor, queueHeldRequest, type HeldRequestHandlers } from './held-requests.js';

const MINUTE = 60_000;
const DEFAULT_MEETING_LOCK_MS = 60_000;
const DEFAULT_MEETING_DEADLINE_MS = 40_000;

/** The booking's meeting lock: a fenced lease on the booking row (issue #15). */
const MEETING_LEASE: LeaseSpec = {
  name: 'meeting',
  table: 'bookings',
  keyColumn: 'id',
  tokenColumn: 'meeting_lock_token',
  untilColumn: 'meeting_lock_until',
};

export type BookingRow = Selectable<BookingsTable>;
export type ValidBookingRequest = z.output<typeof CreateBookingRequestSchema>;

export interface BookingDeps {
  db: Kysely<Database>;
  clock: Clock;
  logger: Logger;
  meetings: ZoomMeetings;
  /** Encrypts the Zoom host link at rest. */
  cipher: TokenCipher;
  notifyReauthRequired: ReauthNotifier;
  /** Runs in the transaction that confirms a booking (queues the invitations). */
  onBookingConfirmed: BookingConfirmedHandler;
  /**
   * Runs in the transaction that releases a pending booking whose time came
   * too close to finish it (queues the customer's email). Without it the
   * slot is released silently.
   */
  onBookingNotGoneThrough: BookingNotGoneThroughHandler;
  /** Runs in the transaction that holds a request (issue #17; queues the customer's email), and in the one that expires it. */
  heldRequests: HeldRequestHandlers;
  /**
   * The meeting lease: how long a holder may go without renewing it before
   * another request or the sweep takes the booking over. Renewed every
   * quarter of it while the holder's Zoom work is alive. Default 60 s.
   */
  meetingLockMs?: number;
  /**
   * How long creating a meeting (Zoom's own retries, network retries, a
   * token refresh) may take before the attempt stops and answers
   * `zoom_unavailable`. Well inside the lease, so a live holder finishes
   * before anyone may take over. Default 40 s.
   */
  meetingDeadlineMs?: number;
  /** Bookings per address, per customer and per specialist. */
  limits: Pick<AbuseLimits, 'bookingsPerAddressPerHour' | 'bookingsPerCustomerPerDay' | 'bookingsPerSpecialistPerDay'>;
}

export interface CreateBookingInput {
  slug: string;
  request: ValidBookingRequest;
  /** From the `Idempotency-Key` header: a repeat with the same key returns the same booking. */
  idempotencyKey?: string | undefined;
  /** The client's address as limits count it (`addressLimitKey`: IPv6 by /64). */
  clientAddressKey: string;
}

export interface CreatedBooking {
  booking: Booking;
  /** True when an earlier request with the same idempotency key made it. */
  isReplay: boolean;
}

/**
 * Books a slot for a customer, with its Zoom meeting.
 *
 * 1. The slot is checked against the specialist's availability, then reserved
 *    by inserting a `pending` booking and its slot claims in one transaction:
 *    the claims' primary key makes a concurrent booking of an overlapping
 *    time fail in the database, whichever process it comes from.
 *    The same transaction counts the booking against the limits per client
 *    address, per customer email with this specialist, and per specialist
 *    per UTC day (below Zoom's daily meeting quota); over one, it is rolled
 *    back: nothing is written, sent or asked of Zoom, and nothing counted.
 *    A booking refused as `slot_taken` is not counted either.
 *    The pending booking is inserted holding its meeting lease (a fenced
 *    lease, see `provisionMeeting`).
 * 2. The meeting is created (see `ZoomMeetings`) within the meeting
 *    deadline, and the booking confirmed by a write fenced with the lease.
 * 3. If Zoom needs re-authorizing, the request is held (issue #17,
 *    server/bookings/held-requests.ts): the slot stays reserved until the
 *    hold's end, the customer and the specialist are emailed, and the
 *    caller gets `requires_reauth` with the hold; when the hold would be
 *    under 30 minutes, the reservation is released instead. If Zoom is
 *    unavailable (or the deadline passed), the reservation is released and
 *    the caller gets `zoom_unavailable`.
 * 4. If the request was so slow that the sweep took the booking over, it
 *    gets what the sweep made of it: the confirmed booking, or
 *    `slot_unavailable` when it was released (never a 201 for a booking
 *    that does not exist).
 *
 * A repeat with the same idempotency key returns the confirmed booking, or
 * resumes a pending one, never making a second booking or meeting.
 *
 * @throws DomainError `not_found`, `slot_unavailable`, `slot_taken`,
 *   `idempotency_key_reused`, `rate_limited`, `requires_reauth`, `zoom_unavailable`.
 */
export async function createBooking(deps: BookingDeps, input: CreateBookingInput): Promise<CreatedBooking> {
  const { db } = deps;
  const specialist = await requireSpecialist(db, input.slug);
  const fingerprint = fingerprintOf(input.request);
  if (input.idempotencyKey !== undefined) {
    const existing = await findByKey(db, specialist, input.idempotencyKey, fingerprint);
    if (existing) return continueExisting(deps, specialist, existing);
  }
  const service = await requireActiveService(db, specialist.id, input.request.serviceId);
  const start = Date.parse(input.request.start);
  const end = start + service.duration_minutes * MINUTE;
  await assertSlotIsOffered(deps, specialist, service, start);

  const now = deps.clock().toISOString();
  const id = randomUUID();
  // The request that reserves the slot holds the meeting lease from the start,
  // and goes on to ask Zoom for the meeting: should it die after that, a
  // resumed attempt must look for the meeting before creating one.
  const { lease, columns } = meetingLeases(deps).forNewRow(id, meetingLockMs(deps));
  const row: BookingRow = {
    id,
    specialist_id: specialist.id,
    service_id: service.id,
    customer_name: input.request.customer.name,
    customer_email: input.request.customer.email,
    customer_note: input.request.customer.note || null,
    customer_time_zone: input.request.customer.timeZone ?? null,
    start_at: new Date(start).toISOString(),
    end_at: new Date(end).toISOString(),
    status: 'pending',
    zoom_meeting_id: null,
    zoom_join_url: null,
    zoom_start_url_enc: null,
    idempotency_key: input.idempotencyKey ?? null,
    request_fingerprint: fingerprint,
    meeting_lock_until: columns.meeting_lock_until!,
    meeting_lock_token: columns.meeting_lock_token!,
    meeting_requested_at: now,
    cancelled_at: null,
    cancelled_by: null,
    cancel_reason: null,
    calendar_sequence: 0,
    reschedule_offered_at: null,
    hold_expires_at: null,
    created_at: now,
    updated_at: now,
  };
  try {
    await db.transaction().execute(async (trx) => {
      const verdict = await countHits(trx, deps.clock, bookingLimits(deps, specialist, input));
      if (!verdict.isAllowed) throw rateLimited('Too many booking attempts.', verdict.retryAfterSeconds);
      await trx.insertInto('bookings').values(row).execute();
      await trx
        .insertInto('booking_slot_claims')
        .values(claimBlocks(start, end).map((block_start) => ({ specialist_id: specialist.id, block_start, booking_id: row.id })))
        .execute();
      await markAvailabilityChanged(trx, specialist.id);
    });
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    // Either another request with the same key won the race, or the time is taken.
    if (input.idempotencyKey !== undefined) {
      const existing = await findByKey(db, specialist, input.idempotencyKey, fingerprint);
      if (existing) return continueExisting(deps, specialist, existing);
    }
    throw new DomainError('slot_taken', 'Sorry, someone has just booked that time. Please pick another slot.');
  }
  return { booking: await provisionMeeting(deps, { specialist, service, row, lease }, 'first'), isReplay: false };
}

/**
 * Finishes pending bookings whose request died (its meeting lease expired):
 * the meeting is found or created and the booking confirmed, or the slot is
 * released. A booking whose start has passed, or is now inside the
 * specialist's minimum notice, is never confirmed: its slot is released and
 * the customer emailed (`onBookingNotGoneThrough`), and a meeting an earlier
 * attempt may have made is deleted. Run at start and periodically. Returns
 * how many it handled.
 * Once `stopping` is aborted (the server shuts down) it finishes the booking
 * in hand and leaves the rest to another instance or the next start.
 */
export async function resumeStalePendingBookings(deps: BookingDeps, stopping?: AbortSignal): Promise<number> {
  const now = deps.clock().toISOString();
  const stale = await deps.db
    .selectFrom('bookings')
    .selectAll()
    .where('status', '=', 'pending')
    .where((eb) => eb.or([eb('meeting_lock_until', 'is', null), eb('meeting_lock_until', '<', now)]))
    .limit(100)
    .execute();
  let handled = 0;
  for (const candidate of stale) {
    if (stopping?.aborted) break;
    const booking = await takeOver(deps, candidate.id);
    if (!booking) continue;
    try {
      await resume(deps, booking);
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
    }
    handled++;
  }
  return handled;
}

/** A pending booking whose meeting lease this request holds, with what finishing it needs. */
interface LeasedBooking {
  specialist: SpecialistRow;
  service: ServiceRow;
  /** As read after the lease was taken. */
  row: BookingRow;
  lease: Lease;
}

const meetingLeases = (deps: BookingDeps): LeaseKeeper => createLeaseKeeper(deps, MEETING_LEASE);
const meetingLockMs = (deps: BookingDeps) => deps.meetingLockMs ?? DEFAULT_MEETING_LOCK_MS;
const meetingDeadlineMs = (deps: BookingDeps) => deps.meetingDeadlineMs ?? DEFAULT_MEETING_DEADLINE_MS;

/** Takes a pending booking's meeting lease if nobody holds it (or the holder's ran out); undefined otherwise. */
async function takeOver(deps: BookingDeps, bookingId: string): Promise<LeasedBooking | undefined> {
  const lease = await meetingLeases(deps).take(bookingId, meetingLockMs(deps), { extra: (update) => update.where('status', '=', 'pending') });
  if (!lease) return undefined;
  const row = await deps.db.selectFrom('bookings').selectAll().where('id', '=', bookingId).executeTakeFirst();
  if (row?.status !== 'pending') return undefined;
  const specialist = await deps.db.selectFrom('specialists').selectAll().where('id', '=', row.specialist_id).executeTakeFirstOrThrow();
  const service = await deps.db.selectFrom('services').selectAll().where('id', '=', row.service_id).executeTakeFirstOrThrow();
  return { specialist, service, row, lease };
}

/**
 * Finishes a booking taken over from a request that died: confirms it, or,
 * when its time is now too close to keep the specialist's minimum notice,
 * releases it and tells the customer.
 */
async function resume(deps: BookingDeps, booking: LeasedBooking): Promise<Booking> {
  const { specialist, row } = booking;
  const now = deps.clock().getTime();
  const start = Date.parse(row.start_at);
  if (start >= now + specialist.min_notice_minutes * MINUTE) return provisionMeeting(deps, booking, 'resumed');
  const released = await deps.db.transaction().execute(async (trx) => {
    if (!(await releaseReservation(deps, trx, booking))) return false;
    await deps.onBookingNotGoneThrough(trx, {
      specialist: { id: specialist.id, slug: specialist.slug, name: specialist.name, timeZone: specialist.time_zone },
      service: { title: booking.service.title },
      customer: { name: row.customer_name, email: row.customer_email, timeZone: row.customer_time_zone },
      start: new Date(start),
    });
    return true;
  });
  if (!released) return settleLostLease(deps, booking, undefined);
  // The request that died may have asked Zoom already: its meeting must not outlive the booking.
  if (row.meeting_requested_at !== null) await cleanUpBookingMeetings(deps, { specialistId: specialist.id, bookingId: row.id });
  deps.logger.info('stale booking released: too close to its start', { bookingId: row.id, startPassed: start <= now });
  throw new DomainError('slot_unavailable', 'This booking attempt did not go through in time. Please pick another time.');
}

async function continueExisting(deps: BookingDeps, specialist: SpecialistRow, existing: BookingRow): Promise<CreatedBooking> {
  const service = await deps.db.selectFrom('services').selectAll().where('id', '=', existing.service_id).executeTakeFirstOrThrow();
  if (existing.status !== 'pending') return { booking: settledAnswer(existing, service, specialist), isReplay: true };
  // Pending: another request is creating the meeting, or died doing so. The
  // wait counts time slept, not the injected clock (see `pollWithBackoff`).
  const booking = await pollWithBackoff(
    async () => {
      const taken = await takeOver(deps, existing.id);
      if (taken) return resume(deps, taken);
      const current = await deps.db.selectFrom('bookings').selectAll().where('id', '=', existing.id).executeTakeFirst();
      if (!current) throw didNotGoThrough();
      return current.status === 'pending' ? undefined : settledAnswer(current, service, specialist);
    },
    { budgetMs: meetingLockMs(deps) },
  );
  if (!booking) throw zoomUnavailable('This booking is still being set up. Please try again in a minute.');
  return { booking, isReplay: true };
}

const didNotGoThrough = () => new DomainError('slot_unavailable', 'This booking attempt did not go through. Please pick a time again.');

/**
 * What a repeat of a request (or a holder that lost its lease) answers for
 * a booking that is no longer pending: the confirmed booking, the same
 * `requires_reauth` with its hold while it is held, and `slot_unavailable`
 * once the request ended otherwise.
 */
function settledAnswer(row: BookingRow, service: ServiceRow, specialist: SpecialistRow): Booking {
  if (row.status === 'confirmed') return toBookingDto(row, service, specialist);
  if (row.status === 'held' && row.hold_expires_at !== null) {
    throw requiresReauth('the specialist’s Zoom authorization needs renewing', true, { id: row.id, expiresAt: row.hold_expires_at });
  }
  if (row.status === 'cancelled') return toBookingDto(row, service, specialist);
  throw didNotGoThrough();
}

/**
 * The seed's `requires_reauth` answer (its message unchanged), with the hold
 * when the request is held (issue #17).
 */
function requiresReauth(why: string, notified: boolean, hold: Hold | undefined): DomainError {
  const what = `Failed to create Zoom meeting: ${why}.`;
  const message = notified
    ? `${what} A notification has been sent to the specialist to re-authorize their Zoom account.`
    : `${what} The specialist needs to re-authorize their Zoom account before this time can be booked.`;
  return new DomainError('requires_reauth', message, { requiresReAuth: true, specialistNotified: notified, ...(hold ? { hold } : {}) });
}

function bookingLimits(deps: BookingDeps, specialist: SpecialistRow, input: CreateBookingInput): Limit[] {
  const { limits } = deps;
  return [
    { bucket: `booking:address:${input.clientAddressKey}`, limit: limits.bookingsPerAddressPerHour, windowMs: HOUR_MS },
    { bucket: `booking:customer:${specialist.id}:${input.request.customer.email.toLowerCase()}`, limit: limits.bookingsPerCustomerPerDay, windowMs: DAY_MS },
    { bucket: `booking:specialist:${specialist.id}`, limit: limits.bookingsPerSpecialistPerDay, windowMs: DAY_MS },
  ];
}

/**
 * With the booking's meeting lease held: create the meeting and confirm, or
 * release the slot. The `first` attempt is the request that reserved the
 * slot (nobody has asked Zoom yet); a `resumed` one may follow an attempt
 * that did, and looks for that meeting first.
 *
 * The lease is renewed while Zoom works, and the work stops at the meeting
 * deadline or as soon as a renewal finds the lease lost. Every write that
 * completes the booking is fenced (id, `pending`, the lease's token) and its
 * row count checked; the invitations are queued only in the transaction
 * whose confirm changed the row. A holder that finds its lease lost does no
 * more writes and settles as `settleLostLease` says.
 */
async function provisionMeeting(deps: BookingDeps, booking: LeasedBooking, attempt: 'first' | 'resumed'): Promise<Booking> {
  const { specialist, service, row, lease } = booking;
  const leases = meetingLeases(deps);
  const mayAlreadyExist = attempt === 'resumed' && row.meeting_requested_at !== null;
  const requestedAt = row.meeting_requested_at ?? deps.clock().toISOString();
  if (row.meeting_requested_at === null) {
    // Recorded before calling Zoom: from now on a meeting may exist, and a resumed attempt must look for it first.
    const marked = await leases.fence(deps.db.updateTable('bookings').set({ meeting_requested_at: requestedAt }).where('status', '=', 'pending'), lease).executeTakeFirst();
    if (!isOneRow(marked)) return settleLostLease(deps, booking, undefined);
  }
  const heartbeat = keepLeaseAlive(leases, lease, { durationMs: meetingLockMs(deps), everyMs: meetingLockMs(deps) / 4 });
  let result: MeetingResult;
  try {
    result = await deps.meetings.createForBooking({
      specialistId: specialist.id,
      bookingId: row.id,
      topic: `${service.title} with ${row.customer_name}`,
      start: new Date(row.start_at),
      durationMinutes: service.duration_minutes,
      timeZone: specialist.time_zone,
      customerName: row.customer_name,
      mayAlreadyExist,
      signal: AbortSignal.any([heartbeat.signal, AbortSignal.timeout(meetingDeadlineMs(deps))]),
    });
  } finally {
    await heartbeat.stop();
  }
  if (result.kind === 'created') {
    const now = deps.clock().toISOString();
    const confirmed: BookingRow = {
      ...row,
      status: 'confirmed',
      zoom_meeting_id: result.meeting.id,
      zoom_join_url: result.meeting.joinUrl,
      zoom_start_url_enc: deps.cipher.encrypt(result.meeting.startUrl, `${row.id}:start_url`),
      meeting_lock_until: null,
      meeting_lock_token: null,
      meeting_requested_at: requestedAt,
      updated_at: now,
    };
    const meeting = result.meeting;
    const isConfirmedHere = await deps.db.transaction().execute(async (trx) => {
      const update = await leases
        .fence(
          trx
            .updateTable('bookings')
            .set({
              status: 'confirmed',
              zoom_meeting_id: confirmed.zoom_meeting_id,
              zoom_join_url: confirmed.zoom_join_url,
              zoom_start_url_enc: confirmed.zoom_start_url_enc,
              ...leases.cleared(),
              updated_at: now,
            })
            .where('status', '=', 'pending'),
          lease,
        )
        .executeTakeFirst();
      if (!isOneRow(update)) return false;
      await deps.onBookingConfirmed(trx, bookingConfirmedEvent(row, service, specialist, meeting));
      return true;
    });
    return isConfirmedHere ? toBookingDto(confirmed, service, specialist) : settleLostLease(deps, booking, meeting.id);
  }
  if (result.kind === 'reauth') {
    const holdExpiresAt = holdExpiryFor(specialist, Date.parse(row.start_at), deps.clock().getTime());
    const ended = holdExpiresAt ? await holdForReauth(deps, booking, result.reason, holdExpiresAt, mayAlreadyExist) : await releaseForReauth(deps, booking, result.reason);
    if (!ended) return settleLostLease(deps, booking, undefined);
    throw requiresReauth(describeReauthReason(result.reason), ended.notified, holdExpiresAt ? { id: row.id, expiresAt: holdExpiresAt.toISOString() } : undefined);
  }
  const isReleased = await deps.db.transaction().execute(async (trx) => {
    if (!(await releaseReservation(deps, trx, booking))) return false;
    // Zoom may have made the meeting and failed to say so (a lost answer, the
    // deadline): once Zoom has had a moment, a job deletes whatever exists.
    const later = new Date(deps.clock().getTime() + (result.retryAfterSeconds ?? UNAVAILABLE_RETRY_AFTER_SECONDS) * 1000);
    await queueMeetingCleanup(trx, deps.clock, { specialistId: specialist.id, bookingId: row.id }, later);
    return true;
  });
  if (!isReleased) return settleLostLease(deps, booking, undefined);
  throw zoomUnavailable(`Failed to create Zoom meeting: ${result.message} Your time was not booked; please try again in a few minutes.`, result.retryAfterSeconds);
}

/**
 * What a holder does once a fenced write told it that it lost the booking's
 * lease (it was slow, or paused, and another request or the sweep took the
 * booking over). It writes nothing more. It waits (at most the meeting
 * deadline) for the new holder to settle the booking, then:
 * - confirmed: the customer gets that booking, as a replay would, and a
 *   meeting this holder made is deleted unless it is the one the booking
 *   was confirmed with (the new holder found it by its agenda marker);
 * - released: the meeting this holder made is deleted, and the customer
 *   gets `slot_unavailable`, never a 201;
 * - still pending: the meeting is left for the new holder to find by its
 *   marker, and the customer is asked to try again (`zoom_unavailable`).
 */
async function settleLostLease(deps: BookingDeps, booking: LeasedBooking, madeMeetingId: string | undefined): Promise<Booking> {
  const { specialist, service, row } = booking;
  deps.logger.warn('booking meeting lease lost to another holder', { bookingId: row.id, madeMeeting: madeMeetingId !== undefined });
  const settled = await pollWithBackoff(
    async () => {
      const current = await deps.db.selectFrom('bookings').selectAll().where('id', '=', row.id).executeTakeFirst();
      return current?.status === 'pending' ? undefined : { current };
    },
    { budgetMs: meetingDeadlineMs(deps) },
  );
  if (!settled) throw zoomUnavailable('This booking is still being set up. Please try again in a minute.');
  const { current } = settled;
  if (madeMeetingId !== undefined && current?.zoom_meeting_id !== madeMeetingId) {
    await cleanUpBookingMeetings(deps, { specialistId: specialist.id, bookingId: row.id, keepMeetingId: current?.zoom_meeting_id });
  }
  if (current) return settledAnswer(current, service, specialist);
  throw didNotGoThrough();
}

/**
 * Releases a pending booking's slot while its lease is held: deletes the
 * booking row, fenced by its token and `pending`, and its slot claims go
 * with it (`booking_slot_claims.booking_id ... on delete cascade`), so a
 * claim is never deleted apart from its booking. False when the lease was
 * lost (nothing changed).
 */
async function releaseReservation(deps: BookingDeps, trx: Transaction<Database>, booking: LeasedBooking): Promise<boolean> {
  const deleted = await meetingLeases(deps).fence(trx.deleteFrom('bookings').where('status', '=', 'pending'), booking.lease).executeTakeFirst();
  if (!isOneRow(deleted)) return false;
  await markAvailabilityChanged(trx, booking.specialist.id);
  return true;
}

/**
 * Releases the reserved slot, counts the failed attempt on the connection and
 * notifies the specialist, all in one transaction; undefined (nothing
 * written) when the lease was lost.
 */
async function releaseForReauth(deps: BookingDeps, booking: LeasedBooking, reason: ReauthReason): Promise<{ notified: boolean } | undefined> {
  const { specialist, service, row } = booking;
  return deps.db.transaction().execute(async (trx) => {
    if (!(await releaseReservation(deps, trx, booking))) return undefined;
    await trx
      .updateTable('zoom_connections')
      .set((eb) => ({ failed_booking_attempts: eb('failed_booking_attempts', '+', 1) }))
      .where('specialist_id', '=', specialist.id)
      .execute();
    return deps.notifyReauthRequired(trx, bookingAttemptReauthEvent(deps, booking, reason, undefined));
  });
}

/**
 * Holds the request instead of releasing it (issue #17), all in one
 * transaction, or nothing (undefined) when the lease was lost: the booking
 * turns `held` until `holdExpiresAt` (fenced by the lease and `pending`,
 * row count checked; its slot claims stay), the failed attempt is counted on
 * the connection, the held request's job is queued (see `queueHeldRequest`
 * for why after that count), the customer is emailed, and the specialist
 * notified.
 */
async function holdForReauth(
  deps: BookingDeps,
  booking: LeasedBooking,
  reason: ReauthReason,
  holdExpiresAt: Date,
  mayHaveMeeting: boolean,
): Promise<{ notified: boolean } | undefined> {
  const { specialist, service, row, lease } = booking;
  return deps.db.transaction().execute(async (trx) => {
    const now = deps.clock().toISOString();
    // Zoom refused the token, so this attempt made no meeting; an earlier one that died may have (a resumed attempt):
    // then `meeting_requested_at` stays, and a release of the held request deletes what Zoom has.
    const held = await meetingLeases(deps)
      .fence(
        trx
          .updateTable('bookings')
          .set({
            status: 'held',
            hold_expires_at: holdExpiresAt.toISOString(),
            ...(mayHaveMeeting ? {} : { meeting_requested_at: null }),
            ...meetingLeases(deps).cleared(),
            updated_at: now,
          })
          .where('status', '=', 'pending'),
        lease,
      )
      .executeTakeFirst();
    if (!isOneRow(held)) return undefined;
    await trx
      .updateTable('zoom_connections')
      .set((eb) => ({ failed_booking_attempts: eb('failed_booking_attempts', '+', 1) }))
      .where('specialist_id', '=', specialist.id)
      .execute();
    await lockSpecialistRow(trx, specialist.id);
    await queueHeldRequest(trx, deps.clock, { bookingId: row.id, specialistId: specialist.id, holdExpiresAt: holdExpiresAt.toISOString() });
    await deps.heldRequests.onHeld(trx, heldRequestEvent({ ...row, hold_expires_at: holdExpiresAt.toISOString() }, specialist, service));
    deps.logger.info('booking request held until the specialist re-authorizes Zoom', { bookingId: row.id, specialistId: specialist.id, holdExpiresAt: holdExpiresAt.toISOString() });
    return deps.notifyReauthRequired(trx, bookingAttemptReauthEvent(deps, booking, reason, holdExpiresAt));
  });
}

/**
 * Takes the specialist row's write lock until the transaction ends (a write
 * that changes nothing). A Zoom authorization writes that row before it makes
 * held requests due, so the two transactions are ordered by it, also when
 * no connection row exists yet (see `queueHeldRequest`).
 */
async function lockSpecialistRow(trx: Transaction<Database>, specialistId: string): Promise<void> {
  await trx
    .updateTable('specialists')
    .set((eb) => ({ updated_at: eb.ref('updated_at') }))
    .where('id', '=', specialistId)
    .execute();
}

/** What the specialist is told of a booking attempt that met a dead token: released, or held until `holdExpiresAt`. */
function bookingAttemptReauthEvent(deps: BookingDeps, { specialist, service, row }: LeasedBooking, reason: ReauthReason, holdExpiresAt: Date | undefined): ReauthRequiredEvent {
  return {
    trigger: 'booking_attempt',
    specialist: { id: specialist.id, name: specialist.name, email: specialist.email, timeZone: specialist.time_zone },
    service: { id: service.id, title: service.title },
    customer: { name: row.customer_name, email: row.customer_email },
    start: new Date(row.start_at),
    attemptedAt: deps.clock(),
    ...(holdExpiresAt ? { holdExpiresAt } : {}),
    reason,
  };
}

/** What a confirmed booking's invitations are made of: the booking as stored, and the meeting it was confirmed with. */
export function bookingConfirmedEvent(row: BookingRow, service: ServiceRow, specialist: SpecialistRow, meeting: { joinUrl: string; startUrl: string }): BookingConfirmedEvent {
  return {
    bookingId: row.id,
    service: { title: service.title, durationMinutes: service.duration_minutes },
    specialist: { id: specialist.id, name: specialist.name, email: specialist.email, timeZone: specialist.time_zone },
    customer: { name: row.customer_name, email: row.customer_email, timeZone: row.customer_time_zone, note: row.customer_note },
    start: new Date(row.start_at),
    end: new Date(row.end_at),
    joinUrl: meeting.joinUrl,
    startUrl: meeting.startUrl,
  };
}

async function findByKey(db: Kysely<Database>, specialist: SpecialistRow, idempotencyKey: string, fingerprint: string): Promise<BookingRow | undefined> {
  const existing = await db
    .selectFrom('bookings')
    .selectAll()
    .where('specialist_id', '=', specialist.id)
    .where('idempotency_key', '=', idempotencyKey)
    .executeTakeFirst();
  if (existing && existing.request_fingerprint !== fingerprint) {
    throw new DomainError(
      'idempotency_key_reused',
      'This Idempotency-Key was already used for a different booking request. Use a new key for a new request.',
    );
  }
  return existing;
}

/**
 * Refuses (`slot_unavailable`) a start that is not one of the service's
 * offered slots now: past, inside the minimum notice, beyond the horizon or
 * outside the weekly hours. Claims are not looked at: the claims' primary
 * key refuses a taken time when the booking or the move is written.
 */
export async function assertSlotIsOffered(deps: Pick<BookingDeps, 'db' | 'clock'>, specialist: SpecialistRow, service: ServiceRow, start: number): Promise<void> {
  const now = deps.clock().getTime();
  if (start < now) throw new DomainError('slot_unavailable', 'That time has already passed. Please pick a time in the future.');
  if (start < now + specialist.min_notice_minutes * MINUTE) {
    const hours = Math.round((specialist.min_notice_minutes / 60) * 10) / 10;
    throw new DomainError('slot_unavailable', `That time is too soon: bookings need at least ${hours} hours' notice.`);
  }
  if (start >= now + specialist.booking_horizon_days * DAY_MS) {
    throw new DomainError('slot_unavailable', `That time is too far ahead: book at most ${specialist.booking_horizon_days} days in advance.`);
  }
  const rules = await loadSlotRules(deps.db, specialist, service);
  const offered = offeredSlots(rules, start, start + 1);
  if (offered.length === 0 || offered[0]!.start !== start) {
    throw new DomainError('slot_unavailable', 'That time is not one of the available slots. Please pick a listed slot.');
  }
}

/**
 * A stable hash of what a booking request asks for, so a reused idempotency
 * key with a different body is refused rather than silently replayed.
 */
function fingerprintOf(request: ValidBookingRequest): string {
  const canonical = JSON.stringify([
    request.serviceId,
    Date.parse(request.start),
    request.customer.name,
    request.customer.email.toLowerCase(),
    request.customer.note ?? '',
    request.customer.timeZone ?? '',
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

export function toBookingDto(row: BookingRow, service: ServiceRow, specialist: SpecialistRow): Booking {
  return {
    id: row.id,
    status: row.status,
    serviceId: row.service_id,
    serviceTitle: service.title,
    start: row.start_at,
    end: row.end_at,
    timeZone: specialist.time_zone,
    customer: { name: row.customer_name, email: row.customer_email, timeZone: row.customer_time_zone },
    zoomJoinUrl: row.zoom_join_url,
    createdAt: row.created_at,
  };
}
