import { createHash, randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { z } from 'zod';
import type { Booking, CreateBookingRequestSchema } from '../../sdk/contract.js';
import { claimBlocks, loadSlotRules, offeredSlots } from '../availability/index.js';
import { markAvailabilityChanged } from '../availability/version.js';
import type { Clock } from '../clock.js';
import { isUniqueViolation } from '../db/connection.js';
import type { BookingsTable, Database } from '../db/schema.js';
import { DomainError, rateLimited, zoomUnavailable } from '../errors.js';
import { countHits, DAY_MS, HOUR_MS, type AbuseLimits, type Limit } from '../limits/index.js';
import type { Logger } from '../logger.js';
import type { TokenCipher } from '../security/token-cipher.js';
import { requireActiveService, requireSpecialist, type ServiceRow, type SpecialistRow } from '../specialists/index.js';
import type { ZoomMeetings } from '../zoom/meetings.js';
import { describeReauthReason, type ReauthNotifier } from '../zoom/reauth.js';
import type { ReauthReason } from '../zoom/connections.js';
import type { BookingConfirmedHandler } from '../email/notifications.js';

const MINUTE = 60_000;

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
  /** How long one request may hold a booking's meeting creation. Default 60 s. */
  meetingLockMs?: number;
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
 * 2. The meeting is created (see `ZoomMeetings`), and the booking confirmed.
 * 3. If Zoom needs re-authorizing or is unavailable, the reservation is
 *    released, the specialist is notified (re-auth only), and the caller gets
 *    `requires_reauth` or `zoom_unavailable`.
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
  const row: BookingRow = {
    id: randomUUID(),
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
    // The request that reserves the slot holds the meeting lock from the start,
    // and goes on to ask Zoom for the meeting: should it die after that, a
    // resumed attempt must look for the meeting before creating one.
    meeting_lock_until: lockUntil(deps),
    meeting_requested_at: now,
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
  return { booking: await provisionMeeting(deps, specialist, service, row, 'first'), isReplay: false };
}

/**
 * Finishes pending bookings whose request died (its meeting lock expired):
 * the meeting is found or created and the booking confirmed, or the slot is
 * released. Run at start and periodically. Returns how many it handled.
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
    if (!(await takeMeetingLock(deps, candidate.id))) continue;
    const row = await deps.db.selectFrom('bookings').selectAll().where('id', '=', candidate.id).executeTakeFirstOrThrow();
    const specialist = await deps.db.selectFrom('specialists').selectAll().where('id', '=', row.specialist_id).executeTakeFirstOrThrow();
    const service = await deps.db.selectFrom('services').selectAll().where('id', '=', row.service_id).executeTakeFirstOrThrow();
    try {
      await provisionMeeting(deps, specialist, service, row, 'resumed');
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
    }
    handled++;
  }
  return handled;
}

async function continueExisting(deps: BookingDeps, specialist: SpecialistRow, existing: BookingRow): Promise<CreatedBooking> {
  const service = await deps.db.selectFrom('services').selectAll().where('id', '=', existing.service_id).executeTakeFirstOrThrow();
  if (existing.status === 'confirmed') return { booking: toBookingDto(existing, service, specialist), isReplay: true };
  // Pending: another request is creating the meeting, or died doing so.
  const deadline = Date.now() + (deps.meetingLockMs ?? 60_000);
  for (let wait = 20; ; wait = Math.min(wait * 2, 250)) {
    if (await takeMeetingLock(deps, existing.id)) {
      const fresh = await deps.db.selectFrom('bookings').selectAll().where('id', '=', existing.id).executeTakeFirst();
      if (fresh?.status === 'pending') return { booking: await provisionMeeting(deps, specialist, service, fresh, 'resumed'), isReplay: true };
    }
    const current = await deps.db.selectFrom('bookings').selectAll().where('id', '=', existing.id).executeTakeFirst();
    if (!current) {
      throw new DomainError('slot_unavailable', 'This booking attempt did not go through. Please pick a time again.');
    }
    if (current.status === 'confirmed') return { booking: toBookingDto(current, service, specialist), isReplay: true };
    if (Date.now() > deadline) throw zoomUnavailable('This booking is still being set up. Please try again in a minute.');
    await new Promise((r) => setTimeout(r, wait));
  }
}

function bookingLimits(deps: BookingDeps, specialist: SpecialistRow, input: CreateBookingInput): Limit[] {
  const { limits } = deps;
  return [
    { bucket: `booking:address:${input.clientAddressKey}`, limit: limits.bookingsPerAddressPerHour, windowMs: HOUR_MS },
    { bucket: `booking:customer:${specialist.id}:${input.request.customer.email.toLowerCase()}`, limit: limits.bookingsPerCustomerPerDay, windowMs: DAY_MS },
    { bucket: `booking:specialist:${specialist.id}`, limit: limits.bookingsPerSpecialistPerDay, windowMs: DAY_MS },
  ];
}

function lockUntil(deps: BookingDeps): string {
  return new Date(deps.clock().getTime() + (deps.meetingLockMs ?? 60_000)).toISOString();
}

/** Compare-and-swap on `meeting_lock_until`: true when this request may create the meeting. */
async function takeMeetingLock(deps: BookingDeps, bookingId: string): Promise<boolean> {
  const now = deps.clock().toISOString();
  const result = await deps.db
    .updateTable('bookings')
    .set({ meeting_lock_until: lockUntil(deps) })
    .where('id', '=', bookingId)
    .where('status', '=', 'pending')
    .where((eb) => eb.or([eb('meeting_lock_until', 'is', null), eb('meeting_lock_until', '<', now)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * With the booking's meeting lock held: create the meeting and confirm, or
 * release the slot. The `first` attempt is the request that reserved the
 * slot (nobody has asked Zoom yet); a `resumed` one may follow an attempt
 * that did, and looks for that meeting first.
 */
async function provisionMeeting(
  deps: BookingDeps,
  specialist: SpecialistRow,
  service: ServiceRow,
  row: BookingRow,
  attempt: 'first' | 'resumed',
): Promise<Booking> {
  const mayAlreadyExist = attempt === 'resumed' && row.meeting_requested_at !== null;
  if (row.meeting_requested_at === null) {
    // Recorded before calling Zoom: from now on a meeting may exist, and a resumed attempt must look for it first.
    await deps.db.updateTable('bookings').set({ meeting_requested_at: deps.clock().toISOString() }).where('id', '=', row.id).execute();
  }
  const result = await deps.meetings.createForBooking({
    specialistId: specialist.id,
    bookingId: row.id,
    topic: `${service.title} with ${row.customer_name}`,
    start: new Date(row.start_at),
    durationMinutes: service.duration_minutes,
    timeZone: specialist.time_zone,
    customerName: row.customer_name,
    mayAlreadyExist,
  });
  if (result.kind === 'created') {
    const now = deps.clock().toISOString();
    const confirmed: BookingRow = {
      ...row,
      status: 'confirmed',
      zoom_meeting_id: result.meeting.id,
      zoom_join_url: result.meeting.joinUrl,
      zoom_start_url_enc: deps.cipher.encrypt(result.meeting.startUrl, `${row.id}:start_url`),
      meeting_lock_until: null,
      meeting_requested_at: row.meeting_requested_at ?? now,
      updated_at: now,
    };
    await deps.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('bookings')
        .set({
          status: 'confirmed',
          zoom_meeting_id: confirmed.zoom_meeting_id,
          zoom_join_url: confirmed.zoom_join_url,
          zoom_start_url_enc: confirmed.zoom_start_url_enc,
          meeting_lock_until: null,
          updated_at: now,
        })
        .where('id', '=', row.id)
        .execute();
      await deps.onBookingConfirmed(trx, {
        bookingId: row.id,
        service: { title: service.title, durationMinutes: service.duration_minutes },
        specialist: { name: specialist.name, email: specialist.email, timeZone: specialist.time_zone },
        customer: { name: row.customer_name, email: row.customer_email, timeZone: row.customer_time_zone, note: row.customer_note },
        start: new Date(row.start_at),
        end: new Date(row.end_at),
        joinUrl: result.meeting.joinUrl,
        startUrl: result.meeting.startUrl,
      });
    });
    return toBookingDto(confirmed, service, specialist);
  }
  if (result.kind === 'reauth') {
    const { notified } = await releaseForReauth(deps, specialist, service, row, result.reason);
    throw new DomainError('requires_reauth', reauthMessage(result.reason, notified), { requiresReAuth: true, specialistNotified: notified });
  }
  await releaseSlot(deps, specialist.id, row.id);
  throw zoomUnavailable(`Failed to create Zoom meeting: ${result.message} Your time was not booked; please try again in a few minutes.`, result.retryAfterSeconds);
}

function reauthMessage(reason: ReauthReason, notified: boolean): string {
  const what = `Failed to create Zoom meeting: ${describeReauthReason(reason)}.`;
  return notified
    ? `${what} A notification has been sent to the specialist to re-authorize their Zoom account.`
    : `${what} The specialist needs to re-authorize their Zoom account before this time can be booked.`;
}

async function releaseSlot(deps: BookingDeps, specialistId: string, bookingId: string): Promise<void> {
  await deps.db.transaction().execute(async (trx) => {
    await trx.deleteFrom('booking_slot_claims').where('booking_id', '=', bookingId).execute();
    await trx.deleteFrom('bookings').where('id', '=', bookingId).where('status', '=', 'pending').execute();
    await markAvailabilityChanged(trx, specialistId);
  });
}

/**
 * Releases the reserved slot, counts the failed attempt on the connection and
 * notifies the specialist, all in one transaction.
 */
async function releaseForReauth(
  deps: BookingDeps,
  specialist: SpecialistRow,
  service: ServiceRow,
  row: BookingRow,
  reason: ReauthReason,
): Promise<{ notified: boolean }> {
  return deps.db.transaction().execute(async (trx) => {
    await trx.deleteFrom('booking_slot_claims').where('booking_id', '=', row.id).execute();
    await trx.deleteFrom('bookings').where('id', '=', row.id).where('status', '=', 'pending').execute();
    await trx
      .updateTable('zoom_connections')
      .set((eb) => ({ failed_booking_attempts: eb('failed_booking_attempts', '+', 1) }))
      .where('specialist_id', '=', specialist.id)
      .execute();
    const outcome = await deps.notifyReauthRequired(trx, {
      specialist: { id: specialist.id, name: specialist.name, email: specialist.email, timeZone: specialist.time_zone },
      service: { id: service.id, title: service.title },
      customer: { name: row.customer_name, email: row.customer_email },
      start: new Date(row.start_at),
      attemptedAt: deps.clock(),
      reason,
    });
    await markAvailabilityChanged(trx, specialist.id);
    return outcome;
  });
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

async function assertSlotIsOffered(deps: BookingDeps, specialist: SpecialistRow, service: ServiceRow, start: number): Promise<void> {
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
