/**
 * kill -9 of the server in the middle of a burst of bookings, then a restart:
 * no booking lost, no slot stuck reserved, no email lost or duplicated, no
 * orphan Zoom meeting.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../server/clock.js';
import { bookingMarker } from '../../server/zoom/meetings.js';
import { childEnv, startChildServer, type ChildServer } from './helpers/child-server.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from './helpers/databases.js';
import { bookingBody, seedSpecialist } from './helpers/fixtures.js';
import { connectZoom, startTestServer, type TestServer } from './helpers/server.js';
import { startTestSmtp, type TestSmtp } from './helpers/smtp.js';

const BURST = 30;

describe.each(DATABASE_KINDS)('kill -9 during a burst of bookings on %s', (kind) => {
  let database: TestDatabase;
  let server: TestServer;
  let smtp: TestSmtp;
  const db = () => database.handle.db;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    server = await startTestServer({ db: db(), clock: systemClock });
    smtp = await startTestSmtp();
  });
  afterAll(async () => {
    await smtp?.close();
    await server?.close();
    await database?.destroy();
  });

  it('loses nothing and duplicates nothing', async () => {
    const everyDay = [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '00:00', end: '24:00' }));
    const { specialistId, serviceIds } = await seedSpecialist(db(), { weeklyHours: everyDay, minNoticeMinutes: 0, timeZone: 'UTC' });
    await connectZoom(server, specialistId);
    const env = { ...childEnv(database.url, server), SMTP_URL: smtp.url };
    let child: ChildServer | undefined = await startChildServer(env);
    try {
      const slots = await (await fetch(`${child.url}/api/v1/specialists/anna/services/${serviceIds[0]}/slots`)).json();
      const answered: string[] = [];
      let killed = false;
      const requests = slots.slots.slice(0, BURST).map(async (slot: { start: string }, i: number) => {
        try {
          const res = await fetch(`${child!.url}/api/v1/specialists/anna/bookings`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'idempotency-key': `burst-${i}` },
            body: JSON.stringify(bookingBody(serviceIds[0]!, slot.start, { email: `burst${i}@example.test` })),
          });
          if (res.status === 201) answered.push((await res.json()).booking.id);
        } catch {
          // The server died under this request.
        }
        if (!killed && answered.length >= 5) {
          killed = true;
          child!.process.kill('SIGKILL');
        }
      });
      await Promise.all(requests);
      await child.stop('SIGKILL');
      child = undefined;
      expect(answered.length).toBeGreaterThanOrEqual(5);
      expect(answered.length).toBeLessThan(BURST);

      // The dead process's leases run out (here at once, instead of after a minute).
      const past = new Date(Date.now() - 1000).toISOString();
      await db().updateTable('bookings').set({ meeting_lock_until: past }).where('status', '=', 'pending').execute();
      await db().updateTable('jobs').set({ lease_until: past }).where('status', '=', 'pending').where('lease_token', 'is not', null).execute();
      child = await startChildServer(env);

      // The restarted server finishes what was in flight.
      const deadline = Date.now() + 20_000;
      for (;;) {
        const pending = await db().selectFrom('bookings').select('id').where('status', '=', 'pending').execute();
        const unsent = await db().selectFrom('email_outbox').select('id').where('status', '=', 'pending').execute();
        if (pending.length === 0 && unsent.length === 0) break;
        if (Date.now() > deadline) throw new Error(`still pending: ${pending.length} bookings, ${unsent.length} emails`);
        await new Promise((r) => setTimeout(r, 100));
      }

      const bookings = await db().selectFrom('bookings').selectAll().execute();
      // No booking lost: every one the customer was told about is there, confirmed.
      for (const id of answered) expect(bookings.find((b) => b.id === id)?.status).toBe('confirmed');
      expect(bookings.every((b) => b.status === 'confirmed')).toBe(true);
      // No slot stuck reserved: every claim belongs to a confirmed booking.
      const claims = await db().selectFrom('booking_slot_claims').select('booking_id').execute();
      const confirmed = new Set(bookings.map((b) => b.id));
      expect(claims.every((c) => confirmed.has(c.booking_id))).toBe(true);
      expect(claims.length).toBe(bookings.length * 6);
      // No orphan meeting: each meeting belongs to exactly one booking, and each booking has its own.
      const meetings = server.emulator.controls.meetings();
      expect(meetings.length).toBe(bookings.length);
      for (const booking of bookings) {
        const own = meetings.filter((m) => m.agenda.includes(bookingMarker(booking.id)));
        expect(own.map((m) => String(m.id))).toEqual([booking.zoom_meeting_id]);
      }
      // No email lost or duplicated: two invites per booking, each Message-ID delivered.
      const outbox = await db().selectFrom('email_outbox').selectAll().execute();
      expect(outbox.length).toBe(2 * bookings.length);
      expect(outbox.every((r) => r.status === 'sent')).toBe(true);
      const delivered = new Set(smtp.messages.map((m) => m.messageId));
      expect(delivered).toEqual(new Set(outbox.map((r) => r.message_id)));
    } finally {
      await child?.stop();
    }
  }, 90_000); // two server starts and the restarted one's catching up
});
