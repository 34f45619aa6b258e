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

  describe('reschedule', () => {
    const blocksOf = (start: string, minutes: number) =>
      Array.from({ length: minutes / 5 }, (_, i) => Date.parse(start) / 60_000 + i * 5);

    it('moves the claims, the time and the calendar sequence in one go, queues the Zoom update, raises one event', async () => {
      const booking = await book(TUESDAY_SLOT, 1); // 60 minutes
      const before = await bookingRow(booking.id);
      // 09:30 overlaps the booking's own 09:00–10:00: its own claims must not block the move.
      const moved = await lifecycle.reschedule(booking.id, customer(booking.id), { start: '2030-01-08T10:30:00+01:00' });
      expect(moved).toMatchObject({ status: 'confirmed', start: '2030-01-08T09:30:00.000Z', end: '2030-01-08T10:30:00.000Z', canReschedule: true });
      expect(await claimsOf(booking.id)).toEqual(blocksOf('2030-01-08T09:30:00.000Z', 60));
      expect(await bookingRow(booking.id)).toMatchObject({ start_at: '2030-01-08T09:30:00.000Z', end_at: '2030-01-08T10:30:00.000Z', calendar_sequence: 1 });
      const updates = await jobsOf('zoom.update-meeting');
      expect(updates).toHaveLength(1);
      expect(JSON.parse(updates[0]!.payload)).toEqual({ specialistId, bookingId: booking.id, meetingId: before.zoom_meeting_id });
      expect(recorded.events.rescheduled).toHaveLength(1);
      expect(recorded.events.rescheduled[0]).toMatchObject({
        previousStart: new Date(TUESDAY_SLOT),
        start: new Date('2030-01-08T09:30:00.000Z'),
        end: new Date('2030-01-08T10:30:00.000Z'),
        rescheduledBy: 'customer',
        joinUrl: before.zoom_join_url,
        sequence: 1,
      });
    });

    it('answers slot_taken for a taken time and keeps the old time and claims', async () => {
      const booking = await book();
      await book(TUESDAY_LATER);
      const answer = await refusal(lifecycle.reschedule(booking.id, customer(booking.id), { start: TUESDAY_LATER }));
      expect(answer.code).toBe('slot_taken');
      expect(await bookingRow(booking.id)).toMatchObject({ start_at: TUESDAY_SLOT, calendar_sequence: 0 });
      expect(await claimsOf(booking.id)).toEqual(blocksOf(TUESDAY_SLOT, 30));
      expect(await jobsOf('zoom.update-meeting')).toEqual([]);
      expect(recorded.events.rescheduled).toEqual([]);
    });

    it('answers slot_unavailable for a time that is not offered', async () => {
      const booking = await book();
      for (const start of ['2030-01-08T03:00:00.000Z', '2030-01-12T09:00:00.000Z', '2030-01-08T09:07:00.000Z']) {
        expect((await refusal(lifecycle.reschedule(booking.id, customer(booking.id), { start }))).code).toBe('slot_unavailable');
      }
      expect(await claimsOf(booking.id)).toEqual(blocksOf(TUESDAY_SLOT, 30));
    });

    it('replays a repeated Idempotency-Key with the same start and refuses it with another', async () => {
      const booking = await book();
      const first = await lifecycle.reschedule(booking.id, customer(booking.id), { start: '2030-01-08T12:00:00.000Z', idempotencyKey: 'move-1' });
      const again = await lifecycle.reschedule(booking.id, customer(booking.id), { start: '2030-01-08T13:00:00+01:00', idempotencyKey: 'move-1' });
      expect(again).toEqual(first);
      expect(recorded.events.rescheduled).toHaveLength(1);
      expect(await jobsOf('zoom.update-meeting')).toHaveLength(1);
      const reused = await refusal(lifecycle.reschedule(booking.id, customer(booking.id), { start: '2030-01-08T13:00:00.000Z', idempotencyKey: 'move-1' }));
      expect(reused.code).toBe('idempotency_key_reused');
      expect(await bookingRow(booking.id)).toMatchObject({ start_at: '2030-01-08T12:00:00.000Z', calendar_sequence: 1 });
    });

    it('refuses inside the window, and allows it after an offer', async () => {
      const booking = await book();
      time.advance(12 * HOUR);
      expect((await refusal(lifecycle.reschedule(booking.id, customer(booking.id), { start: '2030-01-08T12:00:00.000Z' }))).code).toBe('change_window_closed');
      expect(await bookingRow(booking.id)).toMatchObject({ start_at: TUESDAY_SLOT, calendar_sequence: 0 });
      await lifecycle.offerReschedule(booking.id, specialistId);
      const moved = await lifecycle.reschedule(booking.id, customer(booking.id), { start: '2030-01-09T12:00:00.000Z' });
      expect(moved.start).toBe('2030-01-09T12:00:00.000Z');
    });

    it('refuses to reschedule a cancelled booking', async () => {
      const booking = await book();
      await lifecycle.cancel(booking.id, customer(booking.id));
      expect((await refusal(lifecycle.reschedule(booking.id, customer(booking.id), { start: '2030-01-08T12:00:00.000Z' }))).code).toBe('booking_not_changeable');
      expect(await claimsOf(booking.id)).toEqual([]);
    });

    it('gives a time two reschedules race for to one: the other, held back by the first transaction, gets slot_taken', async () => {
      const first = await book();
      const second = await book(TUESDAY_LATER);
      const target = '2030-01-08T12:00:00.000Z';
      // The first move is held inside its transaction (claims inserted, not committed) while the second starts.
      let enteredHold!: () => void;
      const entered = new Promise<void>((resolve) => (enteredHold = resolve));
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const holding = createBookingLifecycle({
        db: db(),
        clock: time.clock,
        logger: server.core.logger,
        manageTokens,
        handlers: { ...recorded.handlers, onRescheduled: async () => (enteredHold(), released) },
      });
      const firstMove = holding.reschedule(first.id, customer(first.id), { start: target });
      await entered;
      const secondMove = refusal(lifecycle.reschedule(second.id, customer(second.id), { start: target }));
      release();
      expect((await firstMove).start).toBe(target);
      expect((await secondMove).code).toBe('slot_taken');
      expect(await claimsOf(first.id)).toEqual(blocksOf(target, 30));
      expect(await claimsOf(second.id)).toEqual(blocksOf(TUESDAY_LATER, 30));
      expect((await bookingRow(second.id)).start_at).toBe(TUESDAY_LATER);
    });

    it('gives a time many reschedules race for to exactly one', async () => {
      const starts = ['2030-01-08T08:00:00.000Z', '2030-01-08T09:00:00.000Z', '2030-01-08T10:00:00.000Z', '2030-01-08T12:00:00.000Z'];
      const bookings = [];
      for (const start of starts) bookings.push(await book(start));
      const target = '2030-01-08T14:00:00.000Z';
      const outcomes = await Promise.allSettled(bookings.map((b) => lifecycle.reschedule(b.id, customer(b.id), { start: target })));
      const winners = outcomes.filter((o) => o.status === 'fulfilled');
      expect(winners).toHaveLength(1);
      for (const outcome of outcomes) if (outcome.status === 'rejected') expect(outcome.reason).toMatchObject({ code: 'slot_taken' });
      const holders = await db().selectFrom('booking_slot_claims').select('booking_id').where('block_start', '=', Date.parse(target) / 60_000).execute();
      expect(holders).toEqual([{ booking_id: (winners[0] as PromiseFulfilledResult<{ id: string }>).value.id }]);
      for (const [i, b] of bookings.entries()) {
        const row = await bookingRow(b.id);
        expect(await claimsOf(b.id)).toEqual(blocksOf(row.start_at, 30));
        if (row.id !== holders[0]!.booking_id) expect(row.start_at).toBe(starts[i]);
      }
    });
  });

  describe('listForSpecialist', () => {
    it('lists upcoming bookings soonest first, and past or cancelled ones latest first', async () => {
      const later = await book(TUESDAY_LATER);
      const sooner = await book(TUESDAY_SLOT);
      const cancelled = await book('2030-01-08T12:00:00.000Z');
      await lifecycle.cancel(cancelled.id, { kind: 'specialist', specialistId });
      const upcoming = await lifecycle.listForSpecialist(specialistId, { when: 'upcoming' });
      expect(upcoming.map((b) => b.id)).toEqual([sooner.id, later.id]);
      expect((await lifecycle.listForSpecialist(specialistId, { when: 'upcoming', limit: 1, offset: 1 })).map((b) => b.id)).toEqual([later.id]);
      expect((await lifecycle.listForSpecialist(specialistId, { when: 'past' })).map((b) => b.id)).toEqual([cancelled.id]);
      time.advance(Date.parse(TUESDAY_SLOT) - time.clock().getTime() + 60_000);
      expect((await lifecycle.listForSpecialist(specialistId, { when: 'upcoming' })).map((b) => b.id)).toEqual([later.id]);
      expect((await lifecycle.listForSpecialist(specialistId, { when: 'past' })).map((b) => b.id)).toEqual([cancelled.id, sooner.id]);
      expect(await lifecycle.listForSpecialist('someone-else', { when: 'upcoming' })).toEqual([]);
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
