import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  BookingApiError,
  BookingConnectionError,
  BookingTimeoutError,
  createBookingClient,
  randomIdempotencyKey,
  retryAfterDelay,
  type BookingClient,
} from '../../sdk/index.js';
import { createTestDatabase, type TestDatabase } from './helpers/databases.js';
import { fixedClock, FREE_SLOT, seedSpecialist } from './helpers/fixtures.js';
import { startFlakyProxy, type FlakyProxy } from './helpers/flaky-proxy.js';
import { connectZoom, startTestServer, UNREACHED_LIMITS, type TestServer } from './helpers/server.js';

const customer = { name: 'Dora Client', email: 'dora@example.test' };

describe('SDK against the real server', () => {
  let database: TestDatabase;
  let server: TestServer;
  let proxy: FlakyProxy;
  let client: BookingClient;
  let serviceIds: string[];
  let specialistId: string;
  let zoomUserId: string;
  const bookingCount = async () => (await database.handle.db.selectFrom('bookings').select('id').execute()).length;

  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    const anna = await seedSpecialist(database.handle.db);
    serviceIds = anna.serviceIds;
    specialistId = anna.specialistId;
    server = await startTestServer({ db: database.handle.db, clock: fixedClock });
    zoomUserId = await connectZoom(server, anna.specialistId);
    proxy = await startFlakyProxy(server.url);
    client = createBookingClient({ baseUrl: proxy.url, maxRetryDelayMs: 2_000 });
  });
  afterAll(async () => {
    await proxy?.close();
    await server?.close();
    await database?.destroy();
  });
  beforeEach(async () => {
    proxy.requests.length = 0;
    proxy.faults.length = 0;
    await database.handle.db.deleteFrom('booking_slot_claims').execute();
    await database.handle.db.deleteFrom('bookings').execute();
  });

  it('reads the profile and lists slots', async () => {
    const profile = await client.getSpecialist('anna');
    expect(profile.specialist).toEqual({ slug: 'anna', name: 'Anna Berg', timeZone: 'Europe/Berlin' });
    expect(profile.services.map((s) => s.id)).toEqual(serviceIds);
    expect(profile).not.toHaveProperty('success');
    const list = await client.listSlots('anna', serviceIds[0]!, { from: new Date('2030-01-07T00:00:00Z'), to: '2030-01-08T00:00:00Z' });
    expect(list.slots).toHaveLength(14);
    expect(list.slots[0]).toEqual({ start: '2030-01-07T08:00:00.000Z', end: '2030-01-07T08:30:00.000Z' });
  });

  it('books, and returns slot_taken as a value for the second customer', async () => {
    const first = await client.createBooking('anna', { serviceId: serviceIds[0]!, start: FREE_SLOT, customer });
    expect(first.status).toBe('confirmed');
    if (first.status !== 'confirmed') throw new Error('unreachable');
    expect(first.booking).toMatchObject({ start: FREE_SLOT, customer: { name: 'Dora Client' }, status: 'confirmed' });
    expect(first.isReplay).toBe(false);
    const second = await client.createBooking('anna', { serviceId: serviceIds[0]!, start: FREE_SLOT, customer: { ...customer, email: 'e@example.test' } });
    expect(second).toEqual({ status: 'slot_taken', message: 'Sorry, someone has just booked that time. Please pick another slot.' });
  });

  it('returns invalid with field errors as a value', async () => {
    const outcome = await client.createBooking('anna', { serviceId: serviceIds[0]!, start: FREE_SLOT, customer: { name: '', email: 'nope' } });
    expect(outcome.status).toBe('invalid');
    if (outcome.status !== 'invalid') throw new Error('unreachable');
    expect(outcome.code).toBe('validation_failed');
    expect(outcome.fieldErrors).toEqual({ 'customer.name': 'Enter your name', 'customer.email': 'Enter a valid email address' });
    const unavailable = await client.createBooking('anna', { serviceId: serviceIds[0]!, start: '2030-01-12T09:00:00Z', customer });
    expect(unavailable).toMatchObject({ status: 'invalid', code: 'slot_unavailable', fieldErrors: {} });
  });

  it('throws BookingApiError with status, code, message and request id for unexpected answers', async () => {
    const error = await client.getSpecialist('nobody').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BookingApiError);
    const apiError = error as BookingApiError;
    expect(apiError.status).toBe(404);
    expect(apiError.code).toBe('not_found');
    expect(apiError.message).toBe('No specialist is published at "nobody".');
    expect(apiError.requestId).toMatch(/^[0-9a-f-]{36}$/);
    await expect(client.createBooking('nobody', { serviceId: 'x', start: FREE_SLOT, customer })).rejects.toMatchObject({ status: 404, code: 'not_found' });
  });

  it('retries 503 and 429 honouring Retry-After, with the same idempotency key, and books once', async () => {
    proxy.faults.push(
      { kind: 'respond', status: 503, headers: { 'content-type': 'text/html' }, body: '<h1>Bad gateway</h1>' },
      { kind: 'respond', status: 429, headers: { 'retry-after': '1', 'content-type': 'application/json' }, body: '{"success":false,"code":"rate_limited","message":"Slow down"}' },
    );
    const outcome = await client.createBooking('anna', { serviceId: serviceIds[0]!, start: FREE_SLOT, customer });
    expect(outcome.status).toBe('confirmed');
    expect(proxy.requests).toHaveLength(3);
    const keys = new Set(proxy.requests.map((r) => r.headers['idempotency-key']));
    expect(keys.size).toBe(1);
    expect([...keys][0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(proxy.requests[2]!.at - proxy.requests[1]!.at).toBeGreaterThanOrEqual(950);
    expect(await bookingCount()).toBe(1);
  });

  /** Anna's Zoom tokens are dead (revoked in the emulator) during `run`; she connects again after it. */
  async function withDeadZoom(run: () => Promise<void>): Promise<void> {
    server.emulator.controls.revokeAllTokens(zoomUserId);
    try {
      await run();
    } finally {
      await connectZoom(server, specialistId, server.emulator.controls.users().find((u) => u.id === zoomUserId));
    }
  }

  it('returns requires_reauth with the hold as a value: the time is held until 24 h from now, and the row is held', async () => {
    await withDeadZoom(async () => {
      // Tuesday 09:00 UTC, 27 hours away: the default 24-hour window ends first.
      const outcome = await client.createBooking('anna', { serviceId: serviceIds[0]!, start: '2030-01-08T09:00:00.000Z', customer });
      expect(outcome.status).toBe('requires_reauth');
      if (outcome.status !== 'requires_reauth') throw new Error('unreachable');
      expect(outcome.specialistNotified).toBe(true);
      expect(outcome.hold).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), expiresAt: '2030-01-08T06:00:00.000Z' });
      const row = await database.handle.db.selectFrom('bookings').select(['id', 'status', 'hold_expires_at']).executeTakeFirstOrThrow();
      expect(row).toEqual({ id: outcome.hold!.id, status: 'held', hold_expires_at: '2030-01-08T06:00:00.000Z' });
      expect(proxy.requests).toHaveLength(1);
    });
  });

  it('returns requires_reauth without a hold when the specialist holds nothing, and nothing stays booked', async () => {
    await database.handle.db.updateTable('specialists').set({ hold_window_minutes: 0 }).where('id', '=', specialistId).execute();
    try {
      await withDeadZoom(async () => {
        const outcome = await client.createBooking('anna', { serviceId: serviceIds[0]!, start: '2030-01-08T09:00:00.000Z', customer });
        expect(outcome).toEqual({ status: 'requires_reauth', message: expect.stringContaining('A notification has been sent to the specialist'), specialistNotified: true, hold: undefined });
        if (outcome.status !== 'requires_reauth') throw new Error('unreachable');
        expect(outcome).toHaveProperty('hold', undefined);
        expect(outcome.message).not.toContain('held');
        expect(await bookingCount()).toBe(0);
      });
    } finally {
      await database.handle.db.updateTable('specialists').set({ hold_window_minutes: 1440 }).where('id', '=', specialistId).execute();
    }
  });

  it('answers 503 zoom_unavailable with Retry-After, and the SDK returns it as a value after one request', async () => {
    // The server's Zoom client makes four attempts before it gives up.
    server.emulator.controls.failNext(4, { status: 503 });
    const raw = await fetch(`${server.url}/api/v1/specialists/anna/bookings`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': 'zoom-down-raw' },
      body: JSON.stringify({ serviceId: serviceIds[0]!, start: FREE_SLOT, customer }),
    });
    expect(raw.status).toBe(503);
    expect(raw.headers.get('retry-after')).toBe('30');
    expect(await raw.json()).toMatchObject({ success: false, code: 'zoom_unavailable', retryAfterSeconds: 30 });

    server.emulator.controls.failNext(4, { status: 503 });
    const outcome = await client.createBooking('anna', { serviceId: serviceIds[0]!, start: FREE_SLOT, customer });
    expect(outcome).toEqual({
      status: 'zoom_unavailable',
      message: 'Failed to create Zoom meeting: Zoom is not accepting new meetings right now. Your time was not booked; please try again in a few minutes.',
      retryAfterSeconds: 30,
    });
    expect(proxy.requests).toHaveLength(1);
    expect(await bookingCount()).toBe(0);
  });

  it("passes on Zoom's own Retry-After when a Zoom rate limit made the booking fail", async () => {
    // Zoom asks for 20 s, longer than the server's Zoom client waits: it gives up at once.
    server.emulator.controls.failNext(1, { status: 429, rateLimitType: 'QPS', retryAfter: '20' });
    const outcome = await client.createBooking('anna', { serviceId: serviceIds[0]!, start: FREE_SLOT, customer });
    expect(outcome).toMatchObject({ status: 'zoom_unavailable', retryAfterSeconds: 20 });
    expect(proxy.requests).toHaveLength(1);
  });

  it('retries a 503 on a GET no sooner than its Retry-After', async () => {
    proxy.faults.push({ kind: 'respond', status: 503, headers: { 'retry-after': '1' } });
    const profile = await client.getSpecialist('anna');
    expect(profile.specialist.slug).toBe('anna');
    expect(proxy.requests).toHaveLength(2);
    expect(proxy.requests[1]!.at - proxy.requests[0]!.at).toBeGreaterThanOrEqual(1000);
  });

  it('recovers from a lost response: the retry replays the booking instead of making a second one', async () => {
    proxy.faults.push({ kind: 'drop-response' });
    const outcome = await client.createBooking('anna', { serviceId: serviceIds[1]!, start: FREE_SLOT, customer });
    expect(outcome.status).toBe('confirmed');
    if (outcome.status !== 'confirmed') throw new Error('unreachable');
    expect(outcome.isReplay).toBe(true);
    expect(proxy.requests).toHaveLength(2);
    expect(proxy.requests[0]!.headers['idempotency-key']).toBe(proxy.requests[1]!.headers['idempotency-key']);
    expect(await bookingCount()).toBe(1);
  });

  it('gives up after maxRetries and throws the last answer', async () => {
    const impatient = createBookingClient({ baseUrl: proxy.url, maxRetries: 1, maxRetryDelayMs: 50 });
    proxy.faults.push({ kind: 'respond', status: 502 }, { kind: 'respond', status: 502 }, { kind: 'respond', status: 502 });
    await expect(impatient.getSpecialist('anna')).rejects.toMatchObject({ name: 'BookingApiError', status: 502, code: 'unknown_error' });
    expect(proxy.requests).toHaveLength(2);
  });

  it('does not retry a Retry-After longer than it is willing to wait', async () => {
    proxy.faults.push({ kind: 'respond', status: 429, headers: { 'retry-after': '3600' } });
    await expect(client.getSpecialist('anna')).rejects.toMatchObject({ status: 429 });
    expect(proxy.requests).toHaveLength(1);
  });

  it('returns rate_limited with retryAfterSeconds as a value at once, not after sleeping through a long Retry-After', async () => {
    const limited = await startTestServer({
      db: database.handle.db,
      clock: fixedClock,
      emulator: server.emulator,
      encryptionKey: server.encryptionKey,
      limits: { ...UNREACHED_LIMITS, bookingsPerAddressPerHour: 1, slotReadsPerAddressPerMinute: 1 },
    });
    try {
      await database.handle.db.deleteFrom('rate_limits').execute();
      const direct = createBookingClient({ baseUrl: limited.url, maxRetryDelayMs: 2_000 });
      const { slots } = await direct.listSlots('anna', serviceIds[0]!);
      expect((await direct.createBooking('anna', { serviceId: serviceIds[0]!, start: slots[0]!.start, customer })).status).toBe('confirmed');
      const started = Date.now();
      const outcome = await direct.createBooking('anna', { serviceId: serviceIds[0]!, start: slots[2]!.start, customer: { ...customer, email: 'other@example.test' } });
      expect(Date.now() - started).toBeLessThan(1000);
      // NOW is 06:00 UTC: the hour's window ends in 3600 s.
      expect(outcome).toEqual({ status: 'rate_limited', message: 'Too many booking attempts. Please try again in 60 minutes.', retryAfterSeconds: 3600 });
      expect(await bookingCount()).toBe(1);
      const error = await direct.listSlots('anna', serviceIds[0]!).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BookingApiError);
      expect(error).toMatchObject({ status: 429, code: 'rate_limited', retryAfterSeconds: 60 });
    } finally {
      await limited.close();
    }
  });

  it('throws BookingConnectionError when nothing listens, after retrying', async () => {
    const closed = await startFlakyProxy(server.url);
    await closed.close();
    const offline = createBookingClient({ baseUrl: closed.url, maxRetries: 2, maxRetryDelayMs: 20 });
    const error = await offline.getSpecialist('anna').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BookingConnectionError);
    expect((error as Error).message).toBe(`Could not reach the booking server at ${closed.url}.`);
  });

  it('throws BookingTimeoutError when the server is too slow', async () => {
    const slow = createBookingClient({ baseUrl: proxy.url, maxRetries: 0, timeoutMs: 1 });
    await expect(slow.listSlots('anna', serviceIds[0]!)).rejects.toBeInstanceOf(BookingTimeoutError);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2030-01-07T06:00:00Z');
    expect(retryAfterDelay(new Headers({ 'retry-after': '2' }), now)).toBe(2000);
    expect(retryAfterDelay(new Headers({ 'retry-after': 'Mon, 07 Jan 2030 06:00:05 GMT' }), now)).toBe(5000);
    expect(retryAfterDelay(new Headers({ 'retry-after': 'soon' }), now)).toBeUndefined();
    expect(retryAfterDelay(new Headers(), now)).toBeUndefined();
  });

  it('exports the random idempotency key it sends, which the server takes as a key', async () => {
    const key = randomIdempotencyKey();
    expect(key).not.toBe(randomIdempotencyKey());
    const request = { serviceId: serviceIds[0]!, start: FREE_SLOT, customer };
    const first = await client.createBooking('anna', request, { idempotencyKey: key });
    const again = await client.createBooking('anna', request, { idempotencyKey: key });
    expect(first.status).toBe('confirmed');
    expect(again).toMatchObject({ status: 'confirmed', isReplay: true });
    expect(await bookingCount()).toBe(1);
  });

  describe('managing a booking with its manage token', () => {
    const TUESDAY = '2030-01-08T09:00:00.000Z';
    async function bookTuesday(start = TUESDAY) {
      const outcome = await client.createBooking('anna', { serviceId: serviceIds[0]!, start, customer });
      if (outcome.status !== 'confirmed') throw new Error(`booking answered ${outcome.status}`);
      return { id: outcome.booking.id, token: server.services.manageTokens.issue(outcome.booking.id) };
    }

    it('reads a booking, and tells a forged link and an unknown booking apart as values', async () => {
      const { id, token } = await bookTuesday();
      const found = await client.getBooking(id, token);
      expect(found).toMatchObject({ status: 'found', booking: { id, status: 'confirmed', start: TUESDAY, canCancel: true, canReschedule: true } });
      expect(await client.getBooking(id, 'forged')).toMatchObject({ status: 'invalid_link' });
      const ghost = 'no-such-booking';
      expect(await client.getBooking(ghost, server.services.manageTokens.issue(ghost))).toMatchObject({ status: 'not_found' });
    });

    it('cancels, and a repeat answers the same', async () => {
      const { id, token } = await bookTuesday();
      const first = await client.cancelBooking(id, token, { reason: 'Something came up' });
      expect(first).toMatchObject({ status: 'cancelled', booking: { id, status: 'cancelled', cancellation: { by: 'customer', reason: 'Something came up' } } });
      expect(await client.cancelBooking(id, token)).toEqual(first);
    });

    it('refuses a cancel inside the window as a value naming the contact', async () => {
      const { id, token } = await bookTuesday(FREE_SLOT); // three hours away: inside the 24-hour window
      const outcome = await client.cancelBooking(id, token);
      expect(outcome.status).toBe('change_window_closed');
      if (outcome.status !== 'change_window_closed') throw new Error('unreachable');
      expect(outcome.message).toContain('anna@example.test');
    });

    it('withdraws a held request, a repeat answers the same, and the time is free again', async () => {
      let held: { id: string; token: string } | undefined;
      await withDeadZoom(async () => {
        const outcome = await client.createBooking('anna', { serviceId: serviceIds[0]!, start: TUESDAY, customer });
        if (outcome.status !== 'requires_reauth' || !outcome.hold) throw new Error(`booking answered ${outcome.status} without a hold`);
        held = { id: outcome.hold.id, token: server.services.manageTokens.issue(outcome.hold.id) };
        expect(await client.getBooking(held.id, held.token)).toMatchObject({ status: 'found', booking: { status: 'held', hold: { expiresAt: '2030-01-08T06:00:00.000Z' }, canWithdraw: true } });
      });
      const { id, token } = held!;
      const first = await client.withdrawRequest(id, token);
      expect(first).toMatchObject({ status: 'withdrawn', booking: { id, status: 'withdrawn', hold: null, canWithdraw: false } });
      expect(await client.withdrawRequest(id, token)).toEqual(first);
      expect(proxy.requests.filter((r) => r.path === `/api/v1/bookings/${id}/withdraw`).map((r) => r.method)).toEqual(['POST', 'POST']);
      // Released at once: another customer can book that time.
      expect((await client.createBooking('anna', { serviceId: serviceIds[0]!, start: TUESDAY, customer: { ...customer, email: 'next@example.test' } })).status).toBe('confirmed');
    });

    it('refuses to withdraw with a forged link, an unknown request, or a confirmed booking, as values', async () => {
      const { id, token } = await bookTuesday();
      expect(await client.withdrawRequest(id, 'forged')).toMatchObject({ status: 'invalid_link' });
      const ghost = 'no-such-booking';
      expect(await client.withdrawRequest(ghost, server.services.manageTokens.issue(ghost))).toMatchObject({ status: 'not_found' });
      expect(await client.withdrawRequest(id, token)).toEqual({
        status: 'not_changeable',
        message: 'This request was already confirmed: cancel the booking instead if you cannot come.',
      });
      expect((await database.handle.db.selectFrom('bookings').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status).toBe('confirmed');
    });

    it('reschedules, answers slot_taken as a value, and a lost answer is replayed with the same key', async () => {
      const { id, token } = await bookTuesday();
      await bookTuesday('2030-01-08T10:00:00.000Z');
      expect(await client.rescheduleBooking(id, token, '2030-01-08T10:00:00.000Z')).toMatchObject({ status: 'slot_taken' });
      proxy.requests.length = 0;
      proxy.faults.push({ kind: 'drop-response' });
      const moved = await client.rescheduleBooking(id, token, new Date('2030-01-08T12:00:00.000Z'));
      expect(moved).toMatchObject({ status: 'rescheduled', booking: { id, start: '2030-01-08T12:00:00.000Z' } });
      expect(proxy.requests).toHaveLength(2);
      expect(proxy.requests[0]!.headers['idempotency-key']).toBe(proxy.requests[1]!.headers['idempotency-key']);
      const row = await database.handle.db.selectFrom('bookings').select(['start_at', 'calendar_sequence']).where('id', '=', id).executeTakeFirstOrThrow();
      expect(row).toEqual({ start_at: '2030-01-08T12:00:00.000Z', calendar_sequence: 1 });
      const reused = await client.rescheduleBooking(id, token, '2030-01-08T13:00:00.000Z', { idempotencyKey: proxy.requests[0]!.headers['idempotency-key'] as string });
      expect(reused).toMatchObject({ status: 'invalid', code: 'idempotency_key_reused' });
    });
  });
});
