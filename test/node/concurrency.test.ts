import { describe, expect, it } from 'vitest';
import { systemClock } from '../../server/clock.js';
import { childEnv, startChildServer, type ChildServer } from './helpers/child-server.js';
import { DATABASE_KINDS, useTestDatabase } from './helpers/databases.js';
import { bookingBody, fixedClock, FREE_SLOT, seedSpecialist } from './helpers/fixtures.js';
import { connectZoom, startTestServer, type TestServer } from './helpers/server.js';

const ATTEMPTS = 50;

function book(url: string, body: unknown, i: number) {
  return fetch(`${url}/api/v1/specialists/anna/bookings`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': `racer-${i}` },
    body: JSON.stringify(body),
  });
}

async function summarize(responses: Response[]) {
  const bodies = await Promise.all(responses.map((r) => r.json()));
  return {
    created: responses.filter((r) => r.status === 201).length,
    taken: responses.filter((r, i) => r.status === 409 && bodies[i].code === 'slot_taken').length,
    other: responses.filter((r) => r.status !== 201 && r.status !== 409).map((r) => r.status),
  };
}

describe.each(DATABASE_KINDS)('no double booking on %s', (kind) => {
  const database = useTestDatabase(kind);
  const db = () => database().handle.db;


  it(`${ATTEMPTS} concurrent requests for one slot give one booking and ${ATTEMPTS - 1} slot_taken`, async () => {
    const { serviceIds, specialistId } = await seedSpecialist(db());
    const server: TestServer = await startTestServer({ db: db(), clock: fixedClock });
    try {
      await connectZoom(server, specialistId);
      const responses = await Promise.all(
        Array.from({ length: ATTEMPTS }, (_, i) =>
          // Two services, two starts, every pair overlapping: 09:00–09:30 and 08:30–09:30 UTC.
          book(server.url, bookingBody(serviceIds[i % 2]!, i % 2 === 0 ? FREE_SLOT : '2030-01-07T08:30:00Z', { email: `c${i}@example.test` }), i),
        ),
      );
      const summary = await summarize(responses);
      expect(summary).toEqual({ created: 1, taken: ATTEMPTS - 1, other: [] });
      const rows = await db().selectFrom('bookings').selectAll().execute();
      expect(rows).toHaveLength(1);
      const claims = await db().selectFrom('booking_slot_claims').select('booking_id').execute();
      expect(new Set(claims.map((c) => c.booking_id))).toEqual(new Set([rows[0]!.id]));
    } finally {
      await server.close();
      await db().deleteFrom('specialists').execute();
    }
  });

  it('holds across two server processes sharing the database', async () => {
    // Real time here: the second process runs on the system clock.
    const everyDay = [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '00:00', end: '24:00' }));
    const { serviceIds, specialistId } = await seedSpecialist(db(), { weeklyHours: everyDay, minNoticeMinutes: 0, timeZone: 'UTC' });
    const inProcess = await startTestServer({ db: db(), clock: systemClock });
    let child: ChildServer | undefined;
    try {
      await connectZoom(inProcess, specialistId);
      child = await startChildServer(childEnv(database().url, inProcess));
      const slots = await (await fetch(`${inProcess.url}/api/v1/specialists/anna/services/${serviceIds[1]}/slots`)).json();
      const start: string = slots.slots[4].start;
      const responses = await Promise.all(
        Array.from({ length: ATTEMPTS }, (_, i) => book(i % 2 ? child!.url : inProcess.url, bookingBody(serviceIds[1]!, start, { email: `p${i}@example.test` }), i)),
      );
      expect(await summarize(responses)).toEqual({ created: 1, taken: ATTEMPTS - 1, other: [] });
      expect(await db().selectFrom('bookings').selectAll().execute()).toHaveLength(1);
      expect(inProcess.emulator.controls.meetings()).toHaveLength(1);
    } finally {
      await child?.stop();
      await inProcess.close();
      await db().deleteFrom('specialists').execute();
    }
  });

  it('20 concurrent bookings through two server processes with an expired access token refresh exactly once', async () => {
    const everyDay = [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '00:00', end: '24:00' }));
    const { serviceIds, specialistId } = await seedSpecialist(db(), { weeklyHours: everyDay, minNoticeMinutes: 0, timeZone: 'UTC' });
    const inProcess = await startTestServer({ db: db(), clock: systemClock });
    let child: ChildServer | undefined;
    try {
      const zoomUserId = await connectZoom(inProcess, specialistId);
      child = await startChildServer(childEnv(database().url, inProcess));
      await db().updateTable('zoom_connections').set({ access_token_expires_at: new Date(Date.now() - 1000).toISOString() }).execute();
      inProcess.emulator.controls.expireAccessTokens(zoomUserId);
      const slots = await (await fetch(`${inProcess.url}/api/v1/specialists/anna/services/${serviceIds[0]}/slots`)).json();
      const responses = await Promise.all(
        slots.slots.slice(2, 22).map((slot: { start: string }, i: number) =>
          book(i % 2 ? child!.url : inProcess.url, bookingBody(serviceIds[0]!, slot.start, { email: `r${i}@example.test` }), 1000 + i),
        ),
      );
      expect(responses.map((r) => r.status)).toEqual(Array(20).fill(201));
      const refreshes = inProcess.emulator.controls.tokenRequests().filter((r) => r.grantType === 'refresh_token');
      expect(refreshes.map((r) => r.outcome)).toEqual(['ok']);
      const connection = await db().selectFrom('zoom_connections').selectAll().executeTakeFirstOrThrow();
      expect(connection).toMatchObject({ status: 'active', version: 2, refresh_lock_owner: null });
      expect(inProcess.emulator.controls.meetings()).toHaveLength(20);
    } finally {
      await child?.stop();
      await inProcess.close();
      await db().deleteFrom('specialists').execute();
    }
  });
});
