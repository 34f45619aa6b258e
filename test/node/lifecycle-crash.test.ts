import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Booking } from '../../sdk/contract.js';
import { systemClock } from '../../server/clock.js';
import { childEnv, startChildServer, type ChildServer } from './helpers/child-server.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from './helpers/databases.js';
import { bookingBody, seedSpecialist } from './helpers/fixtures.js';
import { startFlakyProxy, type FlakyProxy } from './helpers/flaky-proxy.js';
import { connectZoom, startTestServer, type TestServer } from './helpers/server.js';

describe.each(DATABASE_KINDS)('Zoom changes across a kill -9 on %s', (kind) => {
  let database: TestDatabase;
  let server: TestServer;
  let zoomProxy: FlakyProxy;
  const db = () => database.handle.db;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    server = await startTestServer({ db: db(), clock: systemClock });
    zoomProxy = await startFlakyProxy(server.emulator.url);
  });
  afterAll(async () => {
    await zoomProxy?.close();
    await server?.close();
    await database?.destroy();
  });

  /** Runs the server process whose job worker carries out the Zoom changes, its Zoom calls through the proxy. */
  const startWorkerProcess = () => startChildServer({ ...childEnv(database.url, server), ZOOM_API_BASE_URL: `${zoomProxy.url}/v2` });

  /** Holds the worker process's next Zoom call at the proxy, kills the process with the call on the wire, then lets the call reach Zoom. */
  async function killDuringZoomCall(child: ChildServer, method: string, hasReachedZoom: () => boolean): Promise<void> {
    let release!: () => void;
    zoomProxy.requests.length = 0;
    zoomProxy.faults.push({ kind: 'hold', release: new Promise<void>((resolve) => (release = resolve)) });
    await expect.poll(() => zoomProxy.requests.length, { timeout: 10_000 }).toBe(1);
    expect(zoomProxy.requests[0]!.method).toBe(method);
    await child.stop('SIGKILL');
    release();
    // The proxy forwards the call after its client died: Zoom carries it out, and nobody records that.
    await expect.poll(hasReachedZoom, { timeout: 5_000 }).toBe(true);
    // The dead worker's lease runs out (here: at once, instead of after 60 s).
    await db().updateTable('jobs').set({ lease_until: new Date(Date.now() - 1000).toISOString() }).where('lease_token', 'is not', null).execute();
  }

  it('moves, then deletes, the meeting exactly once each, with no duplicate and no orphan', async () => {
    const everyDay = [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '00:00', end: '24:00' }));
    const { specialistId, serviceIds } = await seedSpecialist(db(), { weeklyHours: everyDay, minNoticeMinutes: 0, timeZone: 'UTC' });
    await db().updateTable('specialists').set({ cancellation_window_minutes: 0 }).where('id', '=', specialistId).execute();
    const zoomUserId = await connectZoom(server, specialistId);
    const slots = (await (await fetch(`${server.url}/api/v1/specialists/anna/services/${serviceIds[0]}/slots`)).json()) as { slots: { start: string }[] };
    const res = await fetch(`${server.url}/api/v1/specialists/anna/bookings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(bookingBody(serviceIds[0]!, slots.slots[10]!.start)),
    });
    expect(res.status).toBe(201);
    const booking = ((await res.json()) as { booking: Booking }).booking;
    const token = server.services.manageTokens.issue(booking.id);
    const meetingsOfBooking = () => server.emulator.controls.meetings(zoomUserId).filter((m) => m.agenda.includes(booking.id));
    const [made] = meetingsOfBooking();
    const zoomJobs = () => db().selectFrom('jobs').select(['kind', 'status', 'attempts']).where('kind', 'like', 'zoom.%-meeting').orderBy('created_at').execute();

    let child: ChildServer | undefined = await startWorkerProcess();
    try {
      const newStart = slots.slots[20]!.start;
      const moved = await fetch(`${server.url}/api/v1/bookings/${booking.id}/reschedule`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token, start: newStart }),
      });
      expect(moved.status).toBe(200);
      await killDuringZoomCall(child, 'PATCH', () => Date.parse(meetingsOfBooking()[0]!.start_time) === Date.parse(newStart));
      child = await startWorkerProcess();
      await expect.poll(zoomJobs, { timeout: 10_000 }).toEqual([{ kind: 'zoom.update-meeting', status: 'done', attempts: 2 }]);
      const [after] = meetingsOfBooking();
      expect(meetingsOfBooking()).toHaveLength(1);
      expect(after!.id).toBe(made!.id);
      expect(after!.join_url).toBe(made!.join_url);
      expect(Date.parse(after!.start_time)).toBe(Date.parse(newStart));

      const cancelled = await fetch(`${server.url}/api/v1/bookings/${booking.id}/cancel`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token }),
      });
      expect(cancelled.status).toBe(200);
      await killDuringZoomCall(child, 'DELETE', () => meetingsOfBooking().length === 0);
      child = await startWorkerProcess();
      // The retry finds the meeting gone (404 code 3001) and counts that as done.
      await expect.poll(zoomJobs, { timeout: 10_000 }).toEqual([
        { kind: 'zoom.update-meeting', status: 'done', attempts: 2 },
        { kind: 'zoom.delete-meeting', status: 'done', attempts: 2 },
      ]);
      expect(server.emulator.controls.meetings(zoomUserId).filter((m) => m.agenda.includes(booking.id))).toEqual([]);
    } finally {
      await child?.stop();
    }
  }, 120_000);
});
