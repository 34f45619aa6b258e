import { createHash, randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { Booking, CreateBookingRequestSchema } from '../../sdk/contract.js';
import type { z } from 'zod';
import { claimBlocks, loadSlotRules, offeredSlots } from '../availability/index.js';
import type { Clock } from '../clock.js';
import { isUniqueViolation } from '../db/connection.js';
import type { BookingsTable, Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { requireActiveService, requireSpecialist, type ServiceRow, type SpecialistRow } from '../specialists/index.js';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

export type BookingRow = Selectable<BookingsTable>;
export type ValidBookingRequest = z.output<typeof CreateBookingRequestSchema>;

export interface BookingDeps {
  db: Kysely<Database>;
  clock: Clock;
}

export interface CreateBookingInput {
  slug: string;
  request: ValidBookingRequest;
  /** From the `Idempotency-Key` header: a repeat with the same key returns the same booking. */
  idempotencyKey?: string | undefined;
}

export interface CreatedBooking {
  booking: Booking;
  /** True when an earlier request with the same idempotency key made it. */
  isReplay: boolean;
}

/**
 * Books a slot for a customer.
 *
 * The slot is checked against the specialist's availability, then reserved by
 * inserting the booking and its slot claims in one transaction: the claims'
 * primary key makes a concurrent booking of an overlapping time fail in the
 * database, whichever process it comes from.
 *
 * @throws DomainError `not_found`, `slot_unavailable`, `slot_taken`,
 *   `idempotency_key_reused`.
 */
export async function createBooking(deps: BookingDeps, input: CreateBookingInput): Promise<CreatedBooking> {
  const { db } = deps;
  const specialist = await requireSpecialist(db, input.slug);
  const fingerprint = fingerprintOf(input.request);
  if (input.idempotencyKey !== undefined) {
    const replay = await findReplay(db, specialist, input.idempotencyKey, fingerprint);
    if (replay) return replay;
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
    status: 'confirmed',
    zoom_meeting_id: null,
    zoom_join_url: null,
    idempotency_key: input.idempotencyKey ?? null,
    request_fingerprint: fingerprint,
    created_at: now,
    updated_at: now,
  };
  try {
    await db.transaction().execute(async (trx) => {
      await trx.insertInto('bookings').values(row).execute();
      await trx
        .insertInto('booking_slot_claims')
        .values(claimBlocks(start, end).map((block_start) => ({ specialist_id: specialist.id, block_start, booking_id: row.id })))
        .execute();
    });
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    // Either another request with the same key won the race, or the time is taken.
    if (input.idempotencyKey !== undefined) {
      const replay = await findReplay(db, specialist, input.idempotencyKey, fingerprint);
      if (replay) return replay;
    }
    throw new DomainError('slot_taken', 'Sorry, someone has just booked that time. Please pick another slot.');
  }
  return { booking: toBookingDto(row, service, specialist), isReplay: false };
}

async function findReplay(
  db: Kysely<Database>,
  specialist: SpecialistRow,
  idempotencyKey: string,
  fingerprint: string,
): Promise<CreatedBooking | undefined> {
  const existing = await db
    .selectFrom('bookings')
    .selectAll()
    .where('specialist_id', '=', specialist.id)
    .where('idempotency_key', '=', idempotencyKey)
    .executeTakeFirst();
  if (!existing) return undefined;
  if (existing.request_fingerprint !== fingerprint) {
    throw new DomainError(
      'idempotency_key_reused',
      'This Idempotency-Key was already used for a different booking request. Use a new key for a new request.',
    );
  }
  const service = await db.selectFrom('services').selectAll().where('id', '=', existing.service_id).executeTakeFirstOrThrow();
  return { booking: toBookingDto(existing, service, specialist), isReplay: true };
}

async function assertSlotIsOffered(deps: BookingDeps, specialist: SpecialistRow, service: ServiceRow, start: number): Promise<void> {
  const now = deps.clock().getTime();
  if (start < now) throw new DomainError('slot_unavailable', 'That time has already passed. Please pick a time in the future.');
  if (start < now + specialist.min_notice_minutes * MINUTE) {
    const hours = Math.round((specialist.min_notice_minutes / 60) * 10) / 10;
    throw new DomainError('slot_unavailable', `That time is too soon: bookings need at least ${hours} hours' notice.`);
  }
  if (start >= now + specialist.booking_horizon_days * DAY) {
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
