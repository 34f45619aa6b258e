import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Booking } from '../../sdk/contract.js';
import { createBookingLifecycle, type BookingLifecycle } from '../../server/bookings/lifecycle.js';
import type { BookingCancelledEvent, BookingLifecycleHandlers, BookingRescheduledEvent, RescheduleOfferedEvent } from '../../server/bookings/lifecycle-events.js';
import { createManageTokens } from '../../server/bookings/manage-tokens.js';
import { DomainError } from '../../server/errors.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from './helpers/databases.js';
import { bookingBody, createTestClock, NOW, seedSpecialist } from './helpers/fixtures.js';
import { connectZoom, startTestServer, type TestServer } from './helpers/server.js';

const HOUR = 3_600_000;
/** Tuesday 2030-01-08 10:00 Berlin: more than 24 h after NOW, outside the default cancellation window. */
const TUESDAY_SLOT = '2030-01-08T09:00:00.000Z';
const TUESDAY_LATER = '2030-01-08T10:00:00.000Z';

/** Every event the lifecycle raised, as the mail and reminder handlers would get them. */
function recordingHandlers() {
  const events = { cancelled: [] as BookingCancelledEvent[], rescheduled: [] as BookingRescheduledEvent[], offered: [] as RescheduleOfferedEvent[] };
  const handlers: BookingLifecycleHandlers = {
    onCancelled: async (_trx, event) => void events.cancelled.push(event),
    onRescheduled: async (_trx, event) => void events.rescheduled.push(event),
    onRescheduleOffered: async (_trx, event) => void events.offered.push(event),
  };
  return { events, handlers };
}

async function refusal(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DomainError) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a DomainError');
}

describe.each(DATABASE_KINDS)('booking lifecycle on %s', (kind) => {
  let database: TestDatabase;
  let server: TestServer;
  let serviceIds: string[];
  let specialistId: string;
  const time = createTestClock();
  const db = () => database.handle.db;
  const manageTokens = createManageTokens(Buffer.alloc(32, 7));
  let recorded: ReturnType<typeof recordingHandlers>;
  let lifecycle: BookingLifecycle;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    const anna = await seedSpecialist(db());
    serviceIds = anna.serviceIds;
    specialistId = anna.specialistId;
    server = await startTestServer({ db: db(), clock: time.clock });
    await connectZoom(server, specialistId);
  });
  afterAll(async () => {
    await server?.close();
    await database?.destroy();
  });
  beforeEach(async () => {
    await db().deleteFrom('jobs').execute();
    await db().deleteFrom('booking_slot_claims').execute();
    await db().deleteFrom('bookings').execute();
    await db().updateTable('specialists').set({ cancellation_window_minutes: 1440 }).execute();
    time.advance(NOW.getTime() - time.clock().getTime());
    recorded = recordingHandlers();
    lifecycle = createBookingLifecycle({ db: db(), clock: time.clock, logger: server.core.logger, manageTokens, handlers: recorded.handlers });
  });

  async function book(start = TUESDAY_SLOT, serviceIndex = 0): Promise<Booking> {
    const res = await fetch(`${server.url}/api/v1/specialists/anna/bookings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(bookingBody(serviceIds[serviceIndex]!, start)),
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { booking: Booking }).booking;
  }
  const customer = (bookingId: string) => ({ kind: 'customer' as const, token: manageTokens.issue(bookingId) });
  const claimsOf = async (bookingId: string) =>
    (await db().selectFrom('booking_slot_claims').select('block_start').where('booking_id', '=', bookingId).orderBy('block_start').execute()).map((r) => Number(r.block_start));
  const bookingRow = (bookingId: string) => db().selectFrom('bookings').selectAll().where('id', '=', bookingId).executeTakeFirstOrThrow();
  const jobsOf = (jobKind: string) => db().selectFrom('jobs').selectAll().where('kind', '=', jobKind).execute();
  async function offeredStarts(day = '2030-01-08'): Promise<string[]> {
    const res = await fetch(`${server.url}/api/v1/specialists/anna/services/${serviceIds[0]}/slots?from=${day}T00:00:00Z&to=${day}T23:59:00Z`);
    expect(res.status).toBe(200);
    return ((await res.json()) as { slots: { start: string }[] }).slots.map((slot) => slot.start);
  }

  describe('cancel', () => {
    it('cancels in one go: status, claims released, slot offered again, one Zoom deletion queued, one event', async () => {
      const booking = await book();
      expect(await offeredStarts()).not.toContain(TUESDAY_SLOT);
      const before = await bookingRow(booking.id);

      const cancelled = await lifecycle.cancel(booking.id, customer(booking.id), { reason: '  Feeling ill  ' });

      expect(cancelled).toMatchObject({
        id: booking.id,
        status: 'cancelled',
        start: TUESDAY_SLOT,
        canCancel: false,
        canReschedule: false,
        zoomJoinUrl: null,
        cancellation: { at: NOW.toISOString(), by: 'customer', reason: 'Feeling ill' },
        specialist: { slug: 'anna', name: 'Anna Berg', email: 'anna@example.test', timeZone: 'Europe/Berlin' },
      });
      const row = await bookingRow(booking.id);
      expect(row).toMatchObject({ status: 'cancelled', cancelled_by: 'customer', cancel_reason: 'Feeling ill', calendar_sequence: before.calendar_sequence + 1 });
      expect(await claimsOf(booking.id)).toEqual([]);
      expect(await offeredStarts()).toContain(TUESDAY_SLOT);
      const deletions = await jobsOf('zoom.delete-meeting');
      expect(deletions).toHaveLength(1);
      expect(deletions[0]).toMatchObject({ status: 'pending', specialist_id: specialistId });
      expect(JSON.parse(deletions[0]!.payload)).toEqual({ specialistId, bookingId: booking.id, meetingId: before.zoom_meeting_id });
      expect(recorded.events.cancelled).toHaveLength(1);
      expect(recorded.events.cancelled[0]).toMatchObject({ bookingId: booking.id, cancelledBy: 'customer', reason: 'Feeling ill', sequence: 1, start: new Date(TUESDAY_SLOT) });
    });

    it('answers a second cancel as the first, raising nothing and queueing nothing more', async () => {
      const booking = await book();
      const first = await lifecycle.cancel(booking.id, customer(booking.id));
      time.advance(60_000);
      const second = await lifecycle.cancel(booking.id, customer(booking.id), { reason: 'again' });
      expect(second).toEqual(first);
      expect(recorded.events.cancelled).toHaveLength(1);
      expect(await jobsOf('zoom.delete-meeting')).toHaveLength(1);
      expect((await bookingRow(booking.id)).calendar_sequence).toBe(1);
    });

    it("refuses a customer's cancel inside the window with the specialist's contact, and changes nothing", async () => {
      const booking = await book();
      time.advance(12 * HOUR); // 19:00 Berlin the day before: 15 h before the start
      const answer = await refusal(lifecycle.cancel(booking.id, customer(booking.id)));
      expect(answer.code).toBe('change_window_closed');
      expect(answer.message).toContain('anna@example.test');
      expect((await bookingRow(booking.id)).status).toBe('confirmed');
      expect(await claimsOf(booking.id)).toHaveLength(6);
      expect(await jobsOf('zoom.delete-meeting')).toEqual([]);
      expect(recorded.events.cancelled).toEqual([]);
      const seen = await lifecycle.get(booking.id, customer(booking.id));
      expect(seen.changeWindow).toEqual({ closesAt: '2030-01-07T09:00:00.000Z', isOpen: false, isLiftedByOffer: false });
      expect(seen.canCancel).toBe(false);
    });

    it('lets the customer cancel inside the window once the specialist offered a reschedule', async () => {
      const booking = await book();
      time.advance(12 * HOUR);
      const offered = await lifecycle.offerReschedule(booking.id, specialistId, { message: 'Happy to move it' });
      expect(offered.changeWindow.isLiftedByOffer).toBe(true);
      expect(recorded.events.offered).toHaveLength(1);
      expect(recorded.events.offered[0]).toMatchObject({ bookingId: booking.id, message: 'Happy to move it' });
      expect((await lifecycle.get(booking.id, customer(booking.id))).canCancel).toBe(true);
      const cancelled = await lifecycle.cancel(booking.id, customer(booking.id));
      expect(cancelled.status).toBe('cancelled');
    });

    it('lets the specialist cancel inside the window, with a message for the customer', async () => {
      const booking = await book();
      time.advance(12 * HOUR);
      const cancelled = await lifecycle.cancel(booking.id, { kind: 'specialist', specialistId }, { reason: 'I am ill' });
      expect(cancelled.cancellation).toEqual({ at: time.clock().toISOString(), by: 'specialist', reason: 'I am ill' });
      expect(recorded.events.cancelled[0]).toMatchObject({ cancelledBy: 'specialist', reason: 'I am ill' });
    });
  });

  describe('access', () => {
    it('refuses a forged token (403 code) and a token of another booking, changing nothing', async () => {
      const booking = await book();
      const other = await book(TUESDAY_LATER);
      for (const token of ['forged', manageTokens.issue(other.id), createManageTokens(Buffer.alloc(32, 8)).issue(booking.id)]) {
        expect((await refusal(lifecycle.get(booking.id, { kind: 'customer', token }))).code).toBe('invalid_manage_token');
        expect((await refusal(lifecycle.cancel(booking.id, { kind: 'customer', token }))).code).toBe('invalid_manage_token');
        expect((await refusal(lifecycle.reschedule(booking.id, { kind: 'customer', token }, { start: '2030-01-08T12:00:00.000Z' }))).code).toBe('invalid_manage_token');
      }
      expect(await bookingRow(booking.id)).toMatchObject({ status: 'confirmed', start_at: TUESDAY_SLOT, calendar_sequence: 0 });
      expect(await claimsOf(booking.id)).toHaveLength(6);
      expect(await db().selectFrom('jobs').selectAll().where('kind', 'like', 'zoom.%-meeting').execute()).toEqual([]);
    });

    it('answers not_found for an unknown booking and for another specialist', async () => {
      expect((await refusal(lifecycle.get('no-such-booking', customer('no-such-booking')))).code).toBe('not_found');
      const booking = await book();
      expect((await refusal(lifecycle.get(booking.id, { kind: 'specialist', specialistId: 'someone-else' }))).code).toBe('not_found');
      expect((await refusal(lifecycle.cancel(booking.id, { kind: 'specialist', specialistId: 'someone-else' }))).code).toBe('not_found');
      expect((await bookingRow(booking.id)).status).toBe('confirmed');
    });

    it('expires the manage link when the session starts (410 code), changing nothing', async () => {
      const booking = await book();
      await lifecycle.offerReschedule(booking.id, specialistId);
      time.advance(Date.parse(TUESDAY_SLOT) - time.clock().getTime());
      expect((await refusal(lifecycle.get(booking.id, customer(booking.id)))).code).toBe('manage_link_expired');
      expect((await refusal(lifecycle.cancel(booking.id, customer(booking.id)))).code).toBe('manage_link_expired');
      expect((await refusal(lifecycle.reschedule(booking.id, customer(booking.id), { start: '2030-01-09T09:00:00.000Z' }))).code).toBe('manage_link_expired');
      expect(await bookingRow(booking.id)).toMatchObject({ status: 'confirmed', start_at: TUESDAY_SLOT, calendar_sequence: 0 });
      expect(recorded.events.cancelled).toEqual([]);
    });
  });
});
