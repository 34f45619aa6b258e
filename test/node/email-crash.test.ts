import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../server/clock.js';
import { childEnv, startChildServer, type ChildServer } from './helpers/child-server.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from './helpers/databases.js';
import { bookingBody, seedSpecialist } from './helpers/fixtures.js';
import { connectZoom, startTestServer, type TestServer } from './helpers/server.js';
import { startTestSmtp, type TestSmtp } from './helpers/smtp.js';

describe.each(DATABASE_KINDS)('outbox across a crash on %s', (kind) => {
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

  it('a server killed mid-send loses no email and sends none twice after it restarts', async () => {
    const everyDay = [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '00:00', end: '24:00' }));
    const { specialistId, serviceIds } = await seedSpecialist(db(), { weeklyHours: everyDay, minNoticeMinutes: 0, timeZone: 'UTC' });
    await connectZoom(server, specialistId);
    const env = { ...childEnv(database.url, server), SMTP_URL: smtp.url };
    const outboxRows = () => db().selectFrom('email_outbox').selectAll().orderBy('created_at').execute();
    let child: ChildServer | undefined = await startChildServer(env);
    try {
      const stalled = smtp.stallNext();
      const slots = await (await fetch(`${child.url}/api/v1/specialists/anna/services/${serviceIds[0]}/slots`)).json();
      const res = await fetch(`${child.url}/api/v1/specialists/anna/bookings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(bookingBody(serviceIds[0]!, slots.slots[1].start)),
      });
      expect(res.status).toBe(201);
      await stalled; // the first invite is on the wire, unanswered
      await child.stop('SIGKILL');
      child = undefined;

      let rows = await outboxRows();
      expect(rows.map((r) => r.status)).toEqual(['pending', 'pending']);
      expect(await db().selectFrom('jobs').select('id').where('lease_token', 'is not', null).execute()).toHaveLength(1);
      expect(smtp.messages).toHaveLength(0);

      // The dead worker's lease runs out (here: at once, instead of after 60 s).
      await db().updateTable('jobs').set({ lease_until: new Date(Date.now() - 1000).toISOString() }).where('lease_token', 'is not', null).execute();
      child = await startChildServer(env);
      await smtp.waitForMessages(2);
      await new Promise((r) => setTimeout(r, 300)); // room for a duplicate to show up, if there were one
      expect(smtp.messages).toHaveLength(2);
      // The child marks a row sent just after the mail server has the message.
      await expect.poll(async () => (await outboxRows()).map((r) => r.status), { timeout: 5_000 }).toEqual(['sent', 'sent']);
      rows = await outboxRows();
      expect(new Set(smtp.messages.map((m) => m.messageId))).toEqual(new Set(rows.map((r) => r.message_id)));
      expect(smtp.messages.map((m) => m.subject).sort()).toEqual(['Confirmed: Intro call with Anna Berg', 'New booking: Intro call with Carla Customer']);
    } finally {
      await child?.stop();
    }
  }, 90_000); // two server starts and the restarted one's catching up
});
