/**
 * Reminders (issue #16): booked over HTTP against the Zoom emulator, run by
 * real job workers under a clock the tests move, delivered to a real SMTP
 * server; on SQLite and PostgreSQL.
 */
import type { ParsedMail } from 'mailparser';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BookingParties } from '../../server/bookings/lifecycle-events.js';
import { createManageTokens } from '../../server/bookings/manage-tokens.js';
import { createEmailJobHandler, type MailSender } from '../../server/email/outbox.js';
import {
  createReminderJobHandler,
  createReminderLifecycleHandlers,
  parseReminderOffsets,
  REMINDER_JOB_KIND,
  scheduleReminders,
  type ReminderJobPayload,
} from '../../server/email/reminders.js';
import { createMailSender } from '../../server/email/transport.js';
import { createJobWorker, type JobHandler, type JobWorker } from '../../server/jobs/index.js';
import { createLogger } from '../../server/logger.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from './helpers/databases.js';
import { bookingBody, createTestClock, NOW, seedSpecialist } from './helpers/fixtures.js';
import { connectZoom, startTestServer, type TestServer } from './helpers/server.js';
import { startTestSmtp, type TestSmtp } from './helpers/smtp.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** Tuesday 2030-01-08 10:00 in Berlin: 27 hours after the tests' NOW, so both default reminders are ahead. */
const START = '2030-01-08T09:00:00.000Z';
/** Wednesday 2030-01-09 14:00 in Berlin: where a reschedule moves it. */
const NEW_START = '2030-01-09T13:00:00.000Z';
const CUSTOMER_SUBJECT = 'Reminder: Intro call with Anna Berg, Tuesday, 8 January 2030 at 04:00 (America/New_York)';
const SPECIALIST_SUBJECT = 'Reminder: Intro call with Carla <b>Customer</b>, Tuesday, 8 January 2030 at 10:00 (Europe/Berlin)';

/** A promise and the function that settles it. */
function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function linksIn(mail: ParsedMail): string[] {
  return [...String(mail.html).matchAll(/href="([^"]+)"/g)].map((m) => m[1]!.replace(/&amp;/g, '&'));
}

describe.each(DATABASE_KINDS)('reminders on %s', (kind) => {
  let database: TestDatabase;
  let server: TestServer;
  let smtp: TestSmtp;
  let time: ReturnType<typeof createTestClock>;
  let specialistId: string;
  let serviceIds: string[];
  let zoomUserId: string;
  const db = () => database.handle.db;
  const logger = createLogger('silent');
  const senders: MailSender[] = [];
  const workers: JobWorker[] = [];

  const reminderHandler = () =>
    createReminderJobHandler({ db: db(), clock: time.clock, logger, outbox: server.services.outbox, publicUrl: server.url, manageTokens: createManageTokens(server.core.signingKey) });
  /** A job worker as the server runs it: email delivery and reminders (or `reminders`, a stand-in that wraps the real one). */
  function newWorker(reminders: JobHandler<ReminderJobPayload> = reminderHandler()): JobWorker {
    const sender = createMailSender({ mode: 'smtp', url: smtp.url, isInsecureAllowed: false });
    senders.push(sender);
    const email = createEmailJobHandler({ db: db(), clock: time.clock, cipher: server.cipher, logger, sender, from: 'specialist-booking <no-reply@booking.test>' });
    const worker = createJobWorker({ db: db(), databaseKind: kind, clock: time.clock, logger, handlers: [email, reminders] });
    workers.push(worker);
    return worker;
  }
  /**
   * The real reminder handler behind a gate: its run starts, says so
   * (`arrived`), and goes on only when `release()` is called.
   */
  function heldReminders() {
    const arrived = deferred();
    const gate = deferred();
    const real = reminderHandler();
    const handler: JobHandler<ReminderJobPayload> = {
      ...real,
      async run(payload, context) {
        arrived.resolve();
        await gate.promise;
        await real.run(payload, context);
      },
    };
    return { handler, arrived: arrived.promise, release: gate.resolve };
  }

  async function book(start = START): Promise<string> {
    const res = await fetch(`${server.url}/api/v1/specialists/anna/bookings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(bookingBody(serviceIds[0]!, start, { name: 'Carla <b>Customer</b>', timeZone: 'America/New_York', note: 'Looking <forward>' })),
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { booking: { id: string } }).booking.id;
  }
  /** Moves the clock to `at` (later than now). */
  const moveTo = (at: string | number) => time.advance((typeof at === 'string' ? Date.parse(at) : at) - time.clock().getTime());
  const reminderJobs = () =>
    db().selectFrom('jobs').select(['status', 'run_after', 'payload', 'dedupe_key']).where('kind', '=', REMINDER_JOB_KIND).orderBy('run_after').execute();
  const reminderRows = () =>
    db().selectFrom('email_outbox').select(['kind', 'to_address', 'subject']).where('kind', 'like', 'booking_reminder_%').orderBy('kind').orderBy('created_at').execute();
  const subjects = () => smtp.messages.map((m) => m.subject).sort();
  /** Runs `worker` until nothing is due, and says how many jobs it completed. */
  async function drain(worker: JobWorker): Promise<number> {
    let total = 0;
    for (let n = await worker.runDue(); n > 0; n = await worker.runDue()) total += n;
    return total;
  }
  /** Who is involved in a booking, as the lifecycle's events carry it. */
  async function partiesOf(bookingId: string): Promise<BookingParties> {
    const row = await db()
      .selectFrom('bookings as b')
      .innerJoin('services as s', 's.id', 'b.service_id')
      .innerJoin('specialists as p', 'p.id', 'b.specialist_id')
      .select(['b.customer_name', 'b.customer_email', 'b.customer_time_zone', 'b.customer_note', 's.id as service_id', 's.title', 's.duration_minutes', 'p.id as specialist_id', 'p.slug', 'p.name', 'p.email', 'p.time_zone'])
      .where('b.id', '=', bookingId)
      .executeTakeFirstOrThrow();
    return {
      bookingId,
      specialist: { id: row.specialist_id, slug: row.slug, name: row.name, email: row.email, timeZone: row.time_zone },
      service: { id: row.service_id, title: row.title, durationMinutes: row.duration_minutes },
      customer: { name: row.customer_name, email: row.customer_email, timeZone: row.customer_time_zone, note: row.customer_note },
    };
  }
  const lifecycle = () => createReminderLifecycleHandlers({ clock: time.clock });
  /** Cancels as the lifecycle does: the status and, in the same transaction, the reminders' handler. */
  async function cancel(bookingId: string) {
    const parties = await partiesOf(bookingId);
    await db()
      .transaction()
      .execute(async (trx) => {
        const row = await trx.selectFrom('bookings').select(['start_at', 'end_at']).where('id', '=', bookingId).executeTakeFirstOrThrow();
        await trx.updateTable('bookings').set({ status: 'cancelled' }).where('id', '=', bookingId).execute();
        await lifecycle().onCancelled(trx, { ...parties, start: new Date(row.start_at), end: new Date(row.end_at), cancelledBy: 'customer', reason: null, sequence: 1 });
      });
  }
  /** Reschedules as the lifecycle does: the new time and, in the same transaction, the reminders' handler. */
  async function reschedule(bookingId: string, start: string) {
    const parties = await partiesOf(bookingId);
    await db()
      .transaction()
      .execute(async (trx) => {
        const row = await trx.selectFrom('bookings').select(['start_at', 'end_at', 'zoom_join_url']).where('id', '=', bookingId).executeTakeFirstOrThrow();
        const end = new Date(Date.parse(start) + 30 * MINUTE);
        await trx.updateTable('bookings').set({ start_at: start, end_at: end.toISOString() }).where('id', '=', bookingId).execute();
        await lifecycle().onRescheduled(trx, {
          ...parties,
          previousStart: new Date(row.start_at),
          previousEnd: new Date(row.end_at),
          start: new Date(start),
          end,
          rescheduledBy: 'customer',
          joinUrl: row.zoom_join_url!,
          sequence: 1,
        });
      });
  }

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    smtp = await startTestSmtp();
  });
  afterAll(async () => {
    await smtp?.close();
    await database?.destroy();
  });
  beforeEach(async () => {
    await db().deleteFrom('jobs').execute();
    await db().deleteFrom('email_outbox').execute();
    await db().deleteFrom('specialists').execute();
    ({ specialistId, serviceIds } = await seedSpecialist(db()));
    time = createTestClock(NOW);
    server = await startTestServer({ db: db(), clock: time.clock });
    zoomUserId = await connectZoom(server, specialistId);
    // The sign-in and connect emails of the setup go first: each test counts from nothing.
    await drain(newWorker());
    smtp.messages.length = 0;
  });
  afterEach(async () => {
    for (const worker of workers.splice(0)) await worker.stop();
    for (const sender of senders.splice(0)) sender.close?.();
    await server.close();
  });

  describe('scheduling', () => {
    it('a confirmed booking gets one job per offset, at start minus the offset, keyed by booking, start and offset', async () => {
      const id = await book();
      expect(await reminderJobs()).toEqual([
        { status: 'pending', run_after: '2030-01-07T09:00:00.000Z', payload: JSON.stringify({ bookingId: id, offsetMinutes: 1440, startAt: START }), dedupe_key: `reminder:${id}:${START}:1440` },
        { status: 'pending', run_after: '2030-01-08T08:00:00.000Z', payload: JSON.stringify({ bookingId: id, offsetMinutes: 60, startAt: START }), dedupe_key: `reminder:${id}:${START}:60` },
      ]);
      // Two processes confirming, or one retrying: still one job per reminder.
      const again = () => db().transaction().execute((trx) => scheduleReminders(trx, { clock: time.clock }, { bookingId: id, specialistId, start: new Date(START) }));
      expect(await Promise.all([again(), again()])).toEqual([2, 2]);
      expect(await reminderJobs()).toHaveLength(2);
    });

    it("follows the specialist's offsets, and leaves out a reminder whose time has already passed", async () => {
      await db().updateTable('specialists').set({ reminder_offsets_minutes: '[30,2880,240]' }).execute();
      const id = await book();
      // 48 h before is already past (the session is 27 h away).
      expect((await reminderJobs()).map((job) => [job.run_after, JSON.parse(job.payload).offsetMinutes])).toEqual([
        ['2030-01-08T05:00:00.000Z', 240],
        ['2030-01-08T08:30:00.000Z', 30],
      ]);
      await db().deleteFrom('jobs').execute();
      expect(await scheduleReminders(db(), { clock: time.clock }, { bookingId: id, specialistId, start: new Date('2030-01-07T06:20:00.000Z') })).toBe(0);
      await db().updateTable('specialists').set({ reminder_offsets_minutes: '[]' }).execute();
      expect(await scheduleReminders(db(), { clock: time.clock }, { bookingId: id, specialistId, start: new Date(START) })).toBe(0);
      expect(await reminderJobs()).toEqual([]);
    });

    it('reads stored offsets defensively: distinct positive minutes, the defaults for anything else', () => {
      expect(parseReminderOffsets('[1440,60]')).toEqual([1440, 60]);
      expect(parseReminderOffsets('[60,1440,60,0,-5,1.5,"30",null]')).toEqual([1440, 60]);
      expect(parseReminderOffsets('[]')).toEqual([]);
      expect(parseReminderOffsets('not json')).toEqual([1440, 60]);
      expect(parseReminderOffsets('{"a":1}')).toEqual([1440, 60]);
    });
  });

  describe('sending', () => {
    it('sends each reminder once, 24 h and 1 h before, to the customer and the specialist, each in their own zone', async () => {
      const id = await book();
      const worker = newWorker();
      await drain(worker);
      smtp.messages.length = 0;

      moveTo(Date.parse('2030-01-07T09:00:00.000Z') - 1);
      expect(await drain(worker)).toBe(0);
      time.advance(1);
      // The reminder job, then the two emails it queued.
      expect(await drain(worker)).toBe(3);
      await smtp.waitForMessages(2);
      expect(subjects()).toEqual([CUSTOMER_SUBJECT, SPECIALIST_SUBJECT].sort());

      const customer = smtp.messages.find((m) => m.subject === CUSTOMER_SUBJECT)!;
      const specialist = smtp.messages.find((m) => m.subject === SPECIALIST_SUBJECT)!;
      const [meeting] = server.emulator.controls.meetings(zoomUserId);
      expect(customer.to).toMatchObject({ value: [{ address: 'carla@example.test' }] });
      expect(specialist.to).toMatchObject({ value: [{ address: 'anna@example.test' }] });
      const manageUrl = `${server.url}/bookings/${id}/manage?token=${createManageTokens(server.core.signingKey).issue(id)}`;
      expect(customer.text).toContain(`Join on Zoom: ${meeting!.join_url}`);
      expect(customer.text).toContain(`Cannot make it? Cancel or reschedule: ${manageUrl}`);
      expect(linksIn(customer)).toEqual([meeting!.join_url, meeting!.join_url, manageUrl]);
      expect(customer.text).not.toContain(meeting!.start_url);
      expect(specialist.text).toContain(`Start the meeting as host: ${meeting!.start_url}`);
      expect(specialist.text).toContain(`Join link for participants: ${meeting!.join_url}`);
      // Customer text arrives as text.
      expect(customer.html).toContain('Hi Carla &lt;b&gt;Customer&lt;/b&gt;,');
      expect(specialist.html).toContain('Their note: Looking &lt;forward&gt;');
      expect(String(specialist.html)).not.toContain('<b>Customer</b>');

      // Due again? No: the job is done.
      time.advance(30 * MINUTE);
      expect(await drain(worker)).toBe(0);
      expect(smtp.messages).toHaveLength(2);

      moveTo('2030-01-08T08:00:00.000Z');
      expect(await drain(worker)).toBe(3);
      await smtp.waitForMessages(4);
      expect(subjects()).toEqual([CUSTOMER_SUBJECT, CUSTOMER_SUBJECT, SPECIALIST_SUBJECT, SPECIALIST_SUBJECT]);
      moveTo('2030-01-09T00:00:00.000Z');
      expect(await drain(worker)).toBe(0);
      expect(smtp.messages).toHaveLength(4);
      expect((await reminderJobs()).map((job) => job.status)).toEqual(['done', 'done']);
      expect(await reminderRows()).toEqual([
        { kind: 'booking_reminder_customer', to_address: 'carla@example.test', subject: CUSTOMER_SUBJECT },
        { kind: 'booking_reminder_customer', to_address: 'carla@example.test', subject: CUSTOMER_SUBJECT },
        { kind: 'booking_reminder_specialist', to_address: 'anna@example.test', subject: SPECIALIST_SUBJECT },
        { kind: 'booking_reminder_specialist', to_address: 'anna@example.test', subject: SPECIALIST_SUBJECT },
      ]);
    });

    it('two workers racing: a worker that stalls and loses the reminder to another sends nothing; it goes out once', async () => {
      await book();
      const setup = newWorker();
      await drain(setup);
      smtp.messages.length = 0;
      moveTo('2030-01-07T09:00:00.000Z');

      const held = heldReminders();
      const stalled = newWorker(held.handler);
      const other = newWorker();
      const stalledRun = stalled.runDue();
      await held.arrived;
      // The job is in hand, its lease held: the other worker finds nothing due.
      expect(await other.runDue()).toBe(0);
      // The stalled worker's lease (60 s) runs out; the other takes the job over and sends.
      time.advance(61_000);
      expect(await drain(other)).toBe(3);
      await smtp.waitForMessages(2);
      held.release();
      await stalledRun;
      expect(await drain(stalled)).toBe(0);
      expect(smtp.messages).toHaveLength(2);
      expect(await reminderRows()).toHaveLength(2);

      // Both racing for the 1 h reminder, neither stalled: once.
      moveTo('2030-01-08T08:00:00.000Z');
      const [a, b] = [newWorker(), newWorker()];
      await Promise.all([drain(a), drain(b)]);
      await smtp.waitForMessages(4);
      expect(await Promise.all([drain(a), drain(b)])).toEqual([0, 0]);
      expect(subjects()).toEqual([CUSTOMER_SUBJECT, CUSTOMER_SUBJECT, SPECIALIST_SUBJECT, SPECIALIST_SUBJECT]);
      expect(await reminderRows()).toHaveLength(4);
    });

    it('a reminder overdue because no server ran goes out late, once, while the session has not started', async () => {
      await book();
      await drain(newWorker());
      smtp.messages.length = 0;
      // Down from before the 24 h reminder until 2 h before the start: it goes out then, once.
      moveTo('2030-01-08T07:00:00.000Z');
      const worker = newWorker();
      expect(await drain(worker)).toBe(3);
      await smtp.waitForMessages(2);
      expect(subjects()).toEqual([CUSTOMER_SUBJECT, SPECIALIST_SUBJECT].sort());
      expect((await reminderJobs()).map((job) => job.status)).toEqual(['done', 'pending']);
      expect(await drain(worker)).toBe(0);
      expect(smtp.messages).toHaveLength(2);
    });

    it('after downtime past both reminders, only the latest due one goes out', async () => {
      await book();
      await drain(newWorker());
      smtp.messages.length = 0;
      moveTo('2030-01-08T08:30:00.000Z');
      // The 24 h reminder (skipped: the 1 h one is due too), the 1 h reminder, its two emails.
      expect(await drain(newWorker())).toBe(4);
      await smtp.waitForMessages(2);
      expect(smtp.messages).toHaveLength(2);
      expect(subjects()).toEqual([CUSTOMER_SUBJECT, SPECIALIST_SUBJECT].sort());
      expect((await reminderJobs()).map((job) => job.status)).toEqual(['done', 'done']);
      expect(await reminderRows()).toHaveLength(2);
    });

    it('a reminder overdue past the session start sends nothing', async () => {
      await book();
      const setup = newWorker();
      await drain(setup);
      smtp.messages.length = 0;
      // Down until the session has started (09:00): both reminders are overdue and too late.
      moveTo('2030-01-08T09:00:00.000Z');
      expect(await drain(newWorker())).toBe(2);
      expect(smtp.messages).toEqual([]);
      expect(await reminderRows()).toEqual([]);
      expect((await reminderJobs()).map((job) => job.status)).toEqual(['done', 'done']);
    });
  });

  describe('cancel and reschedule', () => {
    it('a cancel deletes the pending reminders in its transaction: nothing goes out at either time', async () => {
      const id = await book();
      const worker = newWorker();
      await drain(worker);
      smtp.messages.length = 0;
      await cancel(id);
      expect(await reminderJobs()).toEqual([]);
      for (const at of ['2030-01-07T09:00:00.000Z', '2030-01-08T08:00:00.000Z', '2030-01-08T08:59:00.000Z']) {
        moveTo(at);
        expect(await drain(worker)).toBe(0);
      }
      expect(smtp.messages).toEqual([]);
      expect(await reminderRows()).toEqual([]);
    });

    it('never reminds of a cancelled booking, even when its reminder job was left behind', async () => {
      const id = await book();
      const worker = newWorker();
      await drain(worker);
      smtp.messages.length = 0;
      await db().updateTable('bookings').set({ status: 'cancelled' }).where('id', '=', id).execute();
      moveTo('2030-01-08T08:00:00.000Z');
      expect(await drain(worker)).toBe(2);
      expect(smtp.messages).toEqual([]);
      expect(await reminderRows()).toEqual([]);
    });

    it('a cancel while a worker runs the reminder: the worker finds its job gone and sends nothing', async () => {
      const id = await book();
      await drain(newWorker());
      smtp.messages.length = 0;
      moveTo('2030-01-07T09:00:00.000Z');
      const held = heldReminders();
      const worker = newWorker(held.handler);
      const running = worker.runDue();
      await held.arrived;
      await cancel(id);
      held.release();
      expect(await running).toBe(0);
      moveTo('2030-01-08T08:30:00.000Z');
      expect(await drain(newWorker())).toBe(0);
      expect(smtp.messages).toEqual([]);
      expect(await reminderRows()).toEqual([]);
    });

    it('a reschedule moves the reminders: the old times send nothing, the new times send', async () => {
      const id = await book();
      const worker = newWorker();
      await drain(worker);
      smtp.messages.length = 0;
      await reschedule(id, NEW_START);
      expect(await reminderJobs()).toEqual([
        { status: 'pending', run_after: '2030-01-08T13:00:00.000Z', payload: JSON.stringify({ bookingId: id, offsetMinutes: 1440, startAt: NEW_START }), dedupe_key: `reminder:${id}:${NEW_START}:1440` },
        { status: 'pending', run_after: '2030-01-09T12:00:00.000Z', payload: JSON.stringify({ bookingId: id, offsetMinutes: 60, startAt: NEW_START }), dedupe_key: `reminder:${id}:${NEW_START}:60` },
      ]);
      for (const at of ['2030-01-07T09:00:00.000Z', '2030-01-08T08:00:00.000Z']) {
        moveTo(at);
        expect(await drain(worker)).toBe(0);
      }
      expect(smtp.messages).toEqual([]);

      moveTo('2030-01-08T13:00:00.000Z');
      expect(await drain(worker)).toBe(3);
      await smtp.waitForMessages(2);
      expect(subjects()).toEqual([
        'Reminder: Intro call with Anna Berg, Wednesday, 9 January 2030 at 08:00 (America/New_York)',
        'Reminder: Intro call with Carla <b>Customer</b>, Wednesday, 9 January 2030 at 14:00 (Europe/Berlin)',
      ]);
      moveTo('2030-01-09T12:00:00.000Z');
      expect(await drain(worker)).toBe(3);
      await smtp.waitForMessages(4);
      expect(await reminderRows()).toHaveLength(4);
    });

    it("through the booking lifecycle: the customer's reschedule moves the reminders, the specialist's cancel deletes them", async () => {
      const id = await book();
      const worker = newWorker();
      await drain(worker);
      smtp.messages.length = 0;
      const access = { kind: 'customer' as const, token: createManageTokens(server.core.signingKey).issue(id) };
      await server.services.lifecycle.reschedule(id, access, { start: NEW_START });
      expect((await reminderJobs()).map((job) => [job.run_after, job.dedupe_key])).toEqual([
        ['2030-01-08T13:00:00.000Z', `reminder:${id}:${NEW_START}:1440`],
        ['2030-01-09T12:00:00.000Z', `reminder:${id}:${NEW_START}:60`],
      ]);
      // Both parties hear of the move at once (the lifecycle emails); the reminders wait for their time.
      expect(await drain(worker)).toBe(2);
      await smtp.waitForMessages(2);
      smtp.messages.length = 0;
      moveTo('2030-01-08T13:00:00.000Z');
      expect(await drain(worker)).toBe(3);
      await smtp.waitForMessages(2);
      expect(subjects()).toEqual([
        'Reminder: Intro call with Anna Berg, Wednesday, 9 January 2030 at 08:00 (America/New_York)',
        'Reminder: Intro call with Carla <b>Customer</b>, Wednesday, 9 January 2030 at 14:00 (Europe/Berlin)',
      ]);
      // The 1 h reminder is still to come; the specialist cancels (the customer's window has closed).
      await server.services.lifecycle.cancel(id, { kind: 'specialist', specialistId }, { reason: 'Sorry' });
      expect((await reminderJobs()).map((job) => job.status)).toEqual(['done']);
      moveTo('2030-01-09T12:00:00.000Z');
      // The two cancellation emails go out; no reminder does.
      expect(await drain(worker)).toBe(2);
      await smtp.waitForMessages(4);
      expect(subjects().filter((subject) => subject?.startsWith('Reminder'))).toHaveLength(2);
    });

    it('a reminder of the old time left behind by a reschedule does nothing', async () => {
      const id = await book();
      const worker = newWorker();
      await drain(worker);
      smtp.messages.length = 0;
      // The time moved without the reminders' handler: the old jobs still run, and see the move.
      await db().updateTable('bookings').set({ start_at: NEW_START, end_at: '2030-01-09T13:30:00.000Z' }).where('id', '=', id).execute();
      moveTo('2030-01-08T08:00:00.000Z');
      expect(await drain(worker)).toBe(2);
      expect(smtp.messages).toEqual([]);
      expect((await reminderJobs()).map((job) => job.status)).toEqual(['done', 'done']);
    });
  });
});
