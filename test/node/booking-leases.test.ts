/**
 * Issue #15: the booking's meeting lock as a fenced lease. Each race is made
 * by holding a Zoom call open at the proxy and moving the test clock, never
 * by sleeping.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CreateBookingRequestSchema } from '../../sdk/contract.js';
import { claimBlocks } from '../../server/availability/index.js';
import { createBooking, resumeStalePendingBookings, type BookingDeps } from '../../server/bookings/index.js';
import { DomainError } from '../../server/errors.js';
import { createJobWorker } from '../../server/jobs/index.js';
import { createMeetingCleanupJobHandler, MEETING_CLEANUP_JOB } from '../../server/zoom/meeting-cleanup.js';
import { bookingMarker } from '../../server/zoom/meetings.js';
import { DATABASE_KINDS, useTestDatabase } from './helpers/databases.js';
import { bookingBody, createTestClock, FREE_SLOT, NOW, seedSpecialist } from './helpers/fixtures.js';
import { connectZoom, startTestServer, type TestServer } from './helpers/server.js';

const MINUTE = 60_000;
const LEASE_MS = 60_000;

describe.each(DATABASE_KINDS)('booking meeting leases on %s', (kind) => {
  const database = useTestDatabase(kind);
  const db = () => database().handle.db;
  let server: TestServer;
  let time: ReturnType<typeof createTestClock>;
  let specialistId: string;
  let serviceIds: string[];
  let zoomUserId: string;
  const releases: Array<() => void> = [];

  beforeEach(async () => {
    await db().deleteFrom('jobs').execute();
    await db().deleteFrom('email_outbox').execute();
    await db().deleteFrom('specialists').execute();
    ({ specialistId, serviceIds } = await seedSpecialist(db()));
    time = createTestClock(NOW);
    server = await startTestServer({ db: db(), clock: time.clock, zoomThroughProxy: true });
    zoomUserId = await connectZoom(server, specialistId);
  });
  afterEach(async () => {
    for (const release of releases.splice(0)) release();
    await server.close();
  });

  const bookingDeps = (target = server): BookingDeps => target.services.bookings;
  /** A job worker that only deletes leftover meetings, on the test clock. */
  const cleanupWorker = () =>
    createJobWorker({ db: db(), databaseKind: kind, clock: time.clock, logger: server.core.logger, handlers: [createMeetingCleanupJobHandler(server.services.bookings.meetings)] });
  const cleanupJobs = () => db().selectFrom('jobs').select(['kind', 'status', 'run_after', 'payload']).where('kind', '=', MEETING_CLEANUP_JOB).execute();
  const book = (url = server.url, customer: Record<string, unknown> = {}) =>
    fetch(`${url}/api/v1/specialists/anna/bookings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(bookingBody(serviceIds[0]!, FREE_SLOT, customer)),
    });
  /** The next Zoom call through the proxy waits until the returned function is called. */
  const holdNextZoomCall = () => {
    let release!: () => void;
    server.zoomProxy!.faults.push({ kind: 'hold', release: new Promise<void>((resolve) => (release = resolve)) });
    releases.push(release);
    return release;
  };
  const isCreateCall = (r: { method: string; path: string }) => r.method === 'POST' && r.path === '/v2/users/me/meetings';
  /** Waits until the server's meeting create call has reached the proxy (where it is held). */
  const createCallArrived = () => vi.waitFor(() => expect(server.zoomProxy!.requests.filter(isCreateCall)).toHaveLength(1), { timeout: 5_000, interval: 5 });
  const outbox = () => db().selectFrom('email_outbox').select(['kind', 'to_address', 'subject']).orderBy('kind').execute();
  const bookings = () => db().selectFrom('bookings').select(['id', 'status', 'zoom_meeting_id']).execute();
  const claimsOf = async (bookingId: string) => (await db().selectFrom('booking_slot_claims').select('block_start').where('booking_id', '=', bookingId).execute()).length;

  it('ghost confirmation: a slow request whose booking the sweep released gets no 201, queues no invitation and deletes its meeting', async () => {
    holdNextZoomCall();
    const slow = book();
    await createCallArrived();
    // The start passes while Zoom is slow: the sweep releases the booking.
    time.advance(3 * 60 * MINUTE + MINUTE);
    expect(await resumeStalePendingBookings(bookingDeps())).toBe(1);
    expect(await bookings()).toEqual([]);

    for (const release of releases) release();
    const res = await slow;
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ success: false, code: 'slot_unavailable' });
    expect(await outbox()).toEqual([
      { kind: 'booking_not_gone_through', to_address: 'carla@example.test', subject: 'Your booking with Anna Berg did not go through' },
    ]);
    expect(server.emulator.controls.meetings(zoomUserId)).toEqual([]);
  });

  it('double booking: a slow request that fails after the sweep confirmed keeps the confirmed booking and its claims', async () => {
    holdNextZoomCall();
    const slow = book();
    await createCallArrived();
    time.advance(LEASE_MS + 1_000);
    expect(await resumeStalePendingBookings(bookingDeps())).toBe(1);
    const [confirmed] = await bookings();
    expect(confirmed).toMatchObject({ status: 'confirmed' });

    // Zoom now fails the slow request's call (and every retry of it).
    server.emulator.controls.failNext(4, { status: 503 });
    for (const release of releases) release();
    const res = await slow;
    // The customer gets the booking the sweep confirmed, as a replay would answer.
    expect(res.status).toBe(201);
    expect((await res.json()).booking).toMatchObject({ id: confirmed!.id, status: 'confirmed' });
    expect(await claimsOf(confirmed!.id)).toBe(claimBlocks(Date.parse(FREE_SLOT), Date.parse(FREE_SLOT) + 30 * MINUTE).length);

    const second = await book(server.url, { email: 'dora@example.test' });
    expect(second.status).toBe(409);
    expect(await second.json()).toMatchObject({ code: 'slot_taken' });
    expect(await bookings()).toEqual([confirmed]);
    expect((await outbox()).map((e) => e.kind)).toEqual(['booking_confirmed_customer', 'booking_confirmed_specialist']);
    expect(server.emulator.controls.meetings(zoomUserId).map((m) => String(m.id))).toEqual([confirmed!.zoom_meeting_id]);
  });

  it('a process that wakes after losing its lease does not confirm again: one booking, one meeting, two invitations', async () => {
    // A second server process on the same database, with its own clock and a direct line to the same Zoom.
    const otherTime = createTestClock(NOW);
    const other = await startTestServer({ db: db(), clock: otherTime.clock, emulator: server.emulator, encryptionKey: server.encryptionKey });
    try {
      holdNextZoomCall();
      const paused = book();
      await createCallArrived();
      otherTime.advance(LEASE_MS + 1_000);
      expect(await resumeStalePendingBookings(bookingDeps(other))).toBe(1);
      const [confirmed] = await bookings();
      expect(confirmed).toMatchObject({ status: 'confirmed' });

      for (const release of releases) release();
      const res = await paused;
      expect(res.status).toBe(201);
      expect((await res.json()).booking).toMatchObject({ id: confirmed!.id, status: 'confirmed' });
      expect(await bookings()).toEqual([confirmed]);
      const emails = await db().selectFrom('email_outbox').select('kind').execute();
      expect(emails).toHaveLength(2);
      // The woken process made a second meeting at Zoom; it deleted it, keeping the one the booking has.
      expect(server.emulator.controls.meetings(zoomUserId).map((m) => String(m.id))).toEqual([confirmed!.zoom_meeting_id]);
    } finally {
      await other.close();
    }
  });

  it('a process paused after Zoom answered, whose meeting the sweep adopted by its marker, keeps that meeting and confirms nothing', async () => {
    // The pause falls between Zoom's answer and the confirming write: the real meeting creation, then a wait for the test.
    let resume!: () => void;
    const paused = new Promise<void>((resolve) => (resume = resolve));
    let zoomAnswered!: () => void;
    const answered = new Promise<void>((resolve) => (zoomAnswered = resolve));
    const real = server.services.bookings.meetings;
    const deps: BookingDeps = {
      ...bookingDeps(),
      meetings: {
        ...real,
        async createForBooking(request) {
          const result = await real.createForBooking(request);
          zoomAnswered();
          await paused;
          return result;
        },
      },
    };
    const slow = createBooking(deps, { slug: 'anna', request: CreateBookingRequestSchema.parse(bookingBody(serviceIds[0]!)), clientAddressKey: '127.0.0.1' });
    await answered;
    time.advance(LEASE_MS + 1_000);
    expect(await resumeStalePendingBookings(bookingDeps())).toBe(1);
    const [confirmed] = await bookings();
    const [meeting] = server.emulator.controls.meetings(zoomUserId);
    expect(confirmed).toMatchObject({ status: 'confirmed', zoom_meeting_id: String(meeting!.id) });

    resume();
    const { booking } = await slow;
    expect(booking).toMatchObject({ id: confirmed!.id, status: 'confirmed', zoomJoinUrl: meeting!.join_url });
    expect(server.emulator.controls.meetings(zoomUserId).map((m) => String(m.id))).toEqual([confirmed!.zoom_meeting_id]);
    expect((await outbox()).map((e) => e.kind)).toEqual(['booking_confirmed_customer', 'booking_confirmed_specialist']);
  });

  it('a lost lease cleans up its meeting: the sweep released the booking (Zoom unavailable), the slow request deletes what it made', async () => {
    holdNextZoomCall();
    const slow = book();
    await createCallArrived();
    time.advance(LEASE_MS + 1_000);
    // The sweep looks for a meeting first (a request may have asked Zoom): Zoom fails it, the sweep releases.
    server.emulator.controls.failNext(4, { status: 503 });
    expect(await resumeStalePendingBookings(bookingDeps())).toBe(1);
    expect(await bookings()).toEqual([]);
    expect(await db().selectFrom('booking_slot_claims').selectAll().execute()).toEqual([]);

    for (const release of releases) release();
    const res = await slow;
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ code: 'slot_unavailable' });
    expect(server.zoomProxy!.requests.filter(isCreateCall)).toHaveLength(1);
    expect(server.emulator.controls.meetings(zoomUserId)).toEqual([]);
    expect(await outbox()).toEqual([]);
  });

  it('Zoom made the meeting but every answer was lost: the booking is released and a job deletes the meeting once Zoom has had a moment', async () => {
    // The create reaches Zoom and its answer is cut; both searches for it are cut too.
    server.zoomProxy!.faults.push({ kind: 'drop-response' }, { kind: 'drop-response' }, { kind: 'drop-response' });
    const res = await book();
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('30');
    expect(await res.json()).toMatchObject({ code: 'zoom_unavailable' });
    expect(await bookings()).toEqual([]);
    expect(server.emulator.controls.meetings(zoomUserId)).toHaveLength(1);
    const [job] = await cleanupJobs();
    expect(job).toMatchObject({ status: 'pending', run_after: new Date(NOW.getTime() + 30_000).toISOString() });

    const worker = cleanupWorker();
    expect(await worker.runDue()).toBe(0);
    time.advance(30_000);
    expect(await worker.runDue()).toBe(1);
    expect(server.emulator.controls.meetings(zoomUserId)).toEqual([]);
    expect((await cleanupJobs()).map((j) => j.status)).toEqual(['done']);
  });

  describe('the sweep never confirms a booking too close to its start', () => {
    /** A pending booking whose request died: lease ended, meeting never asked for. */
    const insertDeadPending = async (start = FREE_SLOT, requestedAt: string | null = null) => {
      const id = crypto.randomUUID();
      const startMs = Date.parse(start);
      await db()
        .insertInto('bookings')
        .values({
          id,
          specialist_id: specialistId,
          service_id: serviceIds[0]!,
          customer_name: 'Carla <b>Customer</b>',
          customer_email: 'carla@example.test',
          customer_note: null,
          customer_time_zone: 'America/New_York',
          start_at: start,
          end_at: new Date(startMs + 30 * MINUTE).toISOString(),
          status: 'pending',
          zoom_meeting_id: null,
          zoom_join_url: null,
          zoom_start_url_enc: null,
          idempotency_key: null,
          request_fingerprint: null,
          meeting_lock_until: new Date(NOW.getTime() - 1_000).toISOString(),
          meeting_lock_token: 'dead-request',
          meeting_requested_at: requestedAt,
          created_at: NOW.toISOString(),
          updated_at: NOW.toISOString(),
        })
        .execute();
      await db()
        .insertInto('booking_slot_claims')
        .values(claimBlocks(startMs, startMs + 30 * MINUTE).map((block_start) => ({ specialist_id: specialistId, block_start, booking_id: id })))
        .execute();
      return id;
    };

    it.each([
      ['its start has passed', 3 * 60 * MINUTE + MINUTE],
      ['it is inside the minimum notice (60 minutes)', 2 * 60 * MINUTE + 30 * MINUTE],
    ])('when %s: releases the slot, creates no meeting, emails the customer a link to book again', async (_, advanceMs) => {
      await insertDeadPending();
      time.advance(advanceMs);
      expect(await resumeStalePendingBookings(bookingDeps())).toBe(1);
      expect(await bookings()).toEqual([]);
      expect(await db().selectFrom('booking_slot_claims').selectAll().execute()).toEqual([]);
      expect(server.zoomProxy!.requests.filter(isCreateCall)).toEqual([]);
      expect(server.emulator.controls.meetings(zoomUserId)).toEqual([]);

      const emails = await db().selectFrom('email_outbox').selectAll().execute();
      expect(emails.map((e) => [e.kind, e.to_address, e.subject])).toEqual([
        ['booking_not_gone_through', 'carla@example.test', 'Your booking with Anna Berg did not go through'],
      ]);
      const content = JSON.parse(server.cipher.decrypt(emails[0]!.content_enc, `outbox:${emails[0]!.id}`)) as { text: string; html: string };
      // In the customer's zone: 09:00 UTC is 04:00 in New York.
      expect(content.text).toContain('for Monday, 7 January 2030 at 04:00 (America/New_York)');
      expect(content.text).toContain(`Pick another time: ${server.url}/book/anna`);
      expect(content.html).toContain(`href="${server.url}/book/anna"`);
      expect(content.html).toContain('Hi Carla &lt;b&gt;Customer&lt;/b&gt;,');
      expect(content.html).not.toContain('<b>Customer');
    });

    it('deletes the meeting the dead request made; when Zoom fails then, a job deletes it later', async () => {
      const id = await insertDeadPending(FREE_SLOT, NOW.toISOString());
      const token = await server.services.connections.getAccessToken(specialistId);
      if (token.kind !== 'token') throw new Error('expected a token');
      await server.core.zoom.createMeeting(token.accessToken, { topic: 'Intro', startTime: new Date(FREE_SLOT), durationMinutes: 30, timeZone: 'UTC', agenda: bookingMarker(id) });
      time.advance(3 * 60 * MINUTE + MINUTE);
      // Zoom refuses the at-once clean-up (all four attempts of the meeting search).
      server.emulator.controls.failNext(4, { status: 503 });
      expect(await resumeStalePendingBookings(bookingDeps())).toBe(1);
      expect(await bookings()).toEqual([]);
      expect(server.emulator.controls.meetings(zoomUserId)).toHaveLength(1);
      expect(await cleanupJobs()).toEqual([
        { kind: MEETING_CLEANUP_JOB, status: 'pending', run_after: time.clock().toISOString(), payload: JSON.stringify({ specialistId, bookingId: id }) },
      ]);

      const worker = cleanupWorker();
      expect(await worker.runDue()).toBe(1);
      expect(server.emulator.controls.meetings(zoomUserId)).toEqual([]);
      expect((await cleanupJobs()).map((j) => j.status)).toEqual(['done']);
    });

    it('confirms a booking that still keeps the minimum notice', async () => {
      await insertDeadPending();
      time.advance(60 * MINUTE);
      expect(await resumeStalePendingBookings(bookingDeps())).toBe(1);
      expect((await bookings()).map((b) => b.status)).toEqual(['confirmed']);
    });
  });

  it('meeting creation deadline: a Zoom call held past it answers zoom_unavailable within it, long before the lease ends', async () => {
    holdNextZoomCall();
    const deps: BookingDeps = { ...bookingDeps(), meetingLockMs: 5_000, meetingDeadlineMs: 300 };
    const started = performance.now();
    const outcome = await createBooking(deps, {
      slug: 'anna',
      request: CreateBookingRequestSchema.parse(bookingBody(serviceIds[0]!)),
      clientAddressKey: '127.0.0.1',
    }).catch((error: unknown) => error);
    const elapsed = performance.now() - started;
    expect(outcome).toBeInstanceOf(DomainError);
    expect(outcome).toMatchObject({ code: 'zoom_unavailable' });
    expect(elapsed).toBeGreaterThanOrEqual(300);
    expect(elapsed).toBeLessThan(2_000);
    // The held call was the only one: no retry after the deadline.
    expect(server.zoomProxy!.requests.filter(isCreateCall)).toHaveLength(1);
    expect(await bookings()).toEqual([]);
    expect(await db().selectFrom('booking_slot_claims').selectAll().execute()).toEqual([]);
  });

  describe('refresh lock', () => {
    const expireAccessToken = async () => {
      await db().updateTable('zoom_connections').set({ access_token_expires_at: new Date(NOW.getTime() - 1000).toISOString() }).execute();
      server.emulator.controls.expireAccessTokens(zoomUserId);
    };
    const connection = () => db().selectFrom('zoom_connections').selectAll().where('specialist_id', '=', specialistId).executeTakeFirstOrThrow();
    const isRefresh = (r: { method: string; path: string }) => r.method === 'POST' && r.path === '/oauth/token';
    /** Waits until `count` token calls reached the proxy since the connection was made (the code exchange is the first). */
    const refreshCallsArrived = (count: number) =>
      vi.waitFor(() => expect(server.zoomProxy!.requests.filter(isRefresh)).toHaveLength(1 + count), { timeout: 5_000, interval: 5 });

    it('a refresher that lost its lease does not overwrite the winner’s tokens', async () => {
      await expireAccessToken();
      const releaseLoser = holdNextZoomCall();
      const loser = server.services.connections.getAccessToken(specialistId);
      await refreshCallsArrived(1);
      time.advance(31_000);
      // The winner takes the lease and refreshes straight through.
      const winner = await server.services.connections.getAccessToken(specialistId);
      expect(winner.kind).toBe('token');
      const stored = await connection();
      expect(stored).toMatchObject({ status: 'active', version: 2 });

      releaseLoser();
      // Its refresh token was already used: Zoom refuses it, and it takes the winner's pair.
      expect(await loser).toEqual(winner);
      expect(await connection()).toMatchObject({ status: 'active', version: 2, access_token_enc: stored.access_token_enc, refresh_token_enc: stored.refresh_token_enc });
    });

    it('a refresher whose lease ran out but whose refresh Zoom answered stores the live pair: the connection stays healthy', async () => {
      await expireAccessToken();
      const releaseFirst = holdNextZoomCall();
      const first = server.services.connections.getAccessToken(specialistId);
      await refreshCallsArrived(1);
      time.advance(31_000);
      const releaseSecond = holdNextZoomCall();
      const second = server.services.connections.getAccessToken(specialistId);
      await refreshCallsArrived(2);

      // Zoom answers the first holder (its lease ran out meanwhile): that pair is now the only live one.
      releaseFirst();
      const firstResult = await first;
      expect(firstResult.kind).toBe('token');
      releaseSecond();
      expect(await second).toEqual(firstResult);
      expect(await connection()).toMatchObject({ status: 'active', version: 2, refresh_lock_owner: null });
      const refreshes = server.emulator.controls.tokenRequests().filter((r) => r.grantType === 'refresh_token');
      expect(refreshes.map((r) => r.outcome)).toEqual(['ok', 'invalid_grant']);
    });
  });
});
