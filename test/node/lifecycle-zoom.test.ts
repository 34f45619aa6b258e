import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Booking } from '../../sdk/contract.js';
import { countPendingZoomChanges, createZoomChangeJobHandlers } from '../../server/bookings/zoom-changes.js';
import { createJobWorker, type JobWorker } from '../../server/jobs/index.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from './helpers/databases.js';
import { bookingBody, createTestClock, NOW, seedSpecialist } from './helpers/fixtures.js';
import { connectZoom, startTestServer, type TestServer } from './helpers/server.js';

const TUESDAY_SLOT = '2030-01-08T09:00:00.000Z';
const HOUR = 3_600_000;

describe.each(DATABASE_KINDS)('Zoom changes of cancelled and rescheduled bookings on %s', (kind) => {
  let database: TestDatabase;
  let server: TestServer;
  let serviceIds: string[];
  let specialistId: string;
  let zoomUserId: string;
  let worker: JobWorker;
  const time = createTestClock();
  const db = () => database.handle.db;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    const anna = await seedSpecialist(db());
    serviceIds = anna.serviceIds;
    specialistId = anna.specialistId;
    // Through the proxy, so a test can hold a Zoom call open; it passes everything else through.
    server = await startTestServer({ db: db(), clock: time.clock, zoomThroughProxy: true });
    zoomUserId = await connectZoom(server, specialistId);
    // The worker start.ts runs, with only the Zoom change kinds.
    worker = createJobWorker({
      db: db(),
      databaseKind: kind,
      clock: time.clock,
      logger: server.core.logger,
      handlers: createZoomChangeJobHandlers({ db: db(), zoom: server.core.zoom, connections: server.services.connections, notifyReauthRequired: server.services.bookings.notifyReauthRequired, logger: server.core.logger }),
    });
  });
  afterAll(async () => {
    await server?.close();
    await database?.destroy();
  });
  beforeEach(async () => {
    await db().deleteFrom('jobs').execute();
    await db().deleteFrom('booking_slot_claims').execute();
    await db().deleteFrom('bookings').execute();
    time.advance(NOW.getTime() - time.clock().getTime());
  });

  async function book(start = TUESDAY_SLOT): Promise<Booking> {
    const res = await fetch(`${server.url}/api/v1/specialists/anna/bookings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(bookingBody(serviceIds[0]!, start)),
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { booking: Booking }).booking;
  }
  const customer = (bookingId: string) => ({ kind: 'customer' as const, token: server.services.manageTokens.issue(bookingId) });
  const meetingIdOf = async (bookingId: string) => (await db().selectFrom('bookings').select('zoom_meeting_id').where('id', '=', bookingId).executeTakeFirstOrThrow()).zoom_meeting_id!;
  const meeting = (id: string) => server.emulator.controls.meetings(zoomUserId).find((m) => String(m.id) === id);
  const zoomJobs = () => db().selectFrom('jobs').selectAll().where('kind', 'in', ['zoom.delete-meeting', 'zoom.update-meeting']).orderBy('created_at').execute();

  it('deletes the meeting of a cancelled booking', async () => {
    const booking = await book();
    const meetingId = await meetingIdOf(booking.id);
    expect(meeting(meetingId)).toBeDefined();
    await server.services.lifecycle.cancel(booking.id, customer(booking.id));
    expect(meeting(meetingId)).toBeDefined(); // the cancel did not wait on Zoom
    expect(await worker.runDue()).toBe(1);
    expect(meeting(meetingId)).toBeUndefined();
    expect(await zoomJobs()).toMatchObject([{ kind: 'zoom.delete-meeting', status: 'done', attempts: 1 }]);
  });

  it('moves the meeting of a rescheduled booking, keeping its join link, and makes no other', async () => {
    const booking = await book();
    const meetingId = await meetingIdOf(booking.id);
    const before = meeting(meetingId)!;
    await server.services.lifecycle.reschedule(booking.id, customer(booking.id), { start: '2030-01-09T13:00:00.000Z' });
    expect(await worker.runDue()).toBe(1);
    const after = meeting(meetingId)!;
    expect(Date.parse(after.start_time)).toBe(Date.parse('2030-01-09T13:00:00.000Z'));
    expect(after.duration).toBe(30);
    expect(after.join_url).toBe(before.join_url);
    expect(server.emulator.controls.meetings(zoomUserId).filter((m) => m.agenda.includes(booking.id))).toHaveLength(1);
  });

  it('retries a failed update and converges on the latest time, however the jobs ran', async () => {
    const booking = await book();
    const meetingId = await meetingIdOf(booking.id);
    await server.services.lifecycle.reschedule(booking.id, customer(booking.id), { start: '2030-01-09T13:00:00.000Z' });
    server.emulator.controls.failNext(1, { status: 400, body: JSON.stringify({ code: 300, message: 'Injected refusal' }) });
    expect(await worker.runDue()).toBe(0);
    const [failed] = await zoomJobs();
    expect(failed).toMatchObject({ status: 'pending', attempts: 1 });
    expect(failed!.last_error).toContain('Injected refusal');
    // A second move while the first one's job waits: both jobs set the current time.
    await server.services.lifecycle.reschedule(booking.id, customer(booking.id), { start: '2030-01-10T13:00:00.000Z' });
    time.advance(HOUR);
    expect(await worker.runDue()).toBe(2);
    expect(Date.parse(meeting(meetingId)!.start_time)).toBe(Date.parse('2030-01-10T13:00:00.000Z'));
    expect(server.emulator.controls.meetings(zoomUserId).filter((m) => m.agenda.includes(booking.id))).toHaveLength(1);
  });

  it('puts right an older move whose slow PATCH lands after a newer one: the meeting ends at the latest time', async () => {
    const booking = await book();
    const meetingId = await meetingIdOf(booking.id);
    const isPatch = (r: { method: string; path: string }) => r.method === 'PATCH' && r.path === `/v2/meetings/${meetingId}`;
    const patches = () => server.zoomProxy!.requests.filter(isPatch);
    const patchesBefore = patches().length;
    await server.services.lifecycle.reschedule(booking.id, customer(booking.id), { start: '2030-01-09T13:00:00.000Z' });
    // Job 1 reads the first new time, and its PATCH is held on its way to Zoom.
    let release!: () => void;
    server.zoomProxy!.faults.push({ kind: 'hold', release: new Promise<void>((resolve) => (release = resolve)) });
    const first = worker.runDue();
    await vi.waitFor(() => expect(patches()).toHaveLength(patchesBefore + 1), { timeout: 5_000, interval: 5 });
    // Meanwhile a second reschedule commits, and its job (in another worker) moves the meeting to the latest time.
    await server.services.lifecycle.reschedule(booking.id, customer(booking.id), { start: '2030-01-10T13:00:00.000Z' });
    const other = createJobWorker({
      db: db(),
      databaseKind: kind,
      clock: time.clock,
      logger: server.core.logger,
      handlers: createZoomChangeJobHandlers({ db: db(), zoom: server.core.zoom, connections: server.services.connections, notifyReauthRequired: server.services.bookings.notifyReauthRequired, logger: server.core.logger }),
    });
    expect(await other.runDue()).toBe(1);
    expect(Date.parse(meeting(meetingId)!.start_time)).toBe(Date.parse('2030-01-10T13:00:00.000Z'));
    // Job 1's stale PATCH lands last; job 1 sees the booking moved meanwhile and moves the meeting again.
    release();
    expect(await first).toBe(1);
    expect(Date.parse(meeting(meetingId)!.start_time)).toBe(Date.parse('2030-01-10T13:00:00.000Z'));
    expect(patches()).toHaveLength(patchesBefore + 3);
    expect(await zoomJobs()).toMatchObject([
      { kind: 'zoom.update-meeting', status: 'done', attempts: 1 },
      { kind: 'zoom.update-meeting', status: 'done', attempts: 1 },
    ]);
  });

  it('leaves no meeting when a reschedule is followed by a cancel before the jobs run', async () => {
    const booking = await book();
    const meetingId = await meetingIdOf(booking.id);
    await server.services.lifecycle.reschedule(booking.id, customer(booking.id), { start: '2030-01-09T13:00:00.000Z' });
    await server.services.lifecycle.cancel(booking.id, customer(booking.id));
    expect(await worker.runDue()).toBe(2);
    expect(meeting(meetingId)).toBeUndefined();
    expect(server.emulator.controls.meetings(zoomUserId).filter((m) => m.agenda.includes(booking.id))).toEqual([]);
  });

  it('runs a change once when two workers (as in two processes) look for it at the same moment', async () => {
    const booking = await book();
    const meetingId = await meetingIdOf(booking.id);
    await server.services.lifecycle.reschedule(booking.id, customer(booking.id), { start: '2030-01-09T13:00:00.000Z' });
    const other = createJobWorker({
      db: db(),
      databaseKind: kind,
      clock: time.clock,
      logger: server.core.logger,
      handlers: createZoomChangeJobHandlers({ db: db(), zoom: server.core.zoom, connections: server.services.connections, notifyReauthRequired: server.services.bookings.notifyReauthRequired, logger: server.core.logger }),
    });
    const [mine, theirs] = await Promise.all([worker.runDue(), other.runDue()]);
    expect(mine + theirs).toBe(1);
    expect(await zoomJobs()).toMatchObject([{ kind: 'zoom.update-meeting', status: 'done', attempts: 1 }]);
    expect(Date.parse(meeting(meetingId)!.start_time)).toBe(Date.parse('2030-01-09T13:00:00.000Z'));
  });

  it('keeps retrying a deletion while the token is dead, and runs it at once after the re-auth', async () => {
    const booking = await book();
    const meetingId = await meetingIdOf(booking.id);
    server.emulator.controls.revokeAllTokens(zoomUserId);
    const cancelled = await server.services.lifecycle.cancel(booking.id, customer(booking.id));
    expect(cancelled.status).toBe('cancelled'); // the customer's cancel does not wait on Zoom

    expect(await worker.runDue()).toBe(0);
    const [waiting] = await zoomJobs();
    expect(waiting).toMatchObject({ status: 'pending', attempts: 1 });
    expect(waiting!.last_error).toMatch(/re-authoriz/);
    expect(Date.parse(waiting!.run_after)).toBeGreaterThan(time.clock().getTime());
    expect(meeting(meetingId)).toBeDefined();
    expect(await countPendingZoomChanges(db(), specialistId)).toBe(1);

    // Still dead an hour later: retried, failed again, backed off further.
    time.advance(2 * HOUR);
    expect(await worker.runDue()).toBe(0);
    expect((await zoomJobs())[0]).toMatchObject({ status: 'pending', attempts: 2 });

    await connectZoom(server, specialistId, server.emulator.controls.users().find((u) => u.id === zoomUserId)!);
    expect((await zoomJobs())[0]!.run_after).toBe(time.clock().toISOString());
    expect(await worker.runDue()).toBe(1);
    expect(meeting(meetingId)).toBeUndefined();
    expect(await zoomJobs()).toMatchObject([{ status: 'done', attempts: 3 }]);
    expect(await countPendingZoomChanges(db(), specialistId)).toBe(0);
  });
});
