import type { Transaction } from 'kysely';
import type { ParsedMail } from 'mailparser';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BookingParties } from '../../server/bookings/lifecycle-events.js';
import { createZoomChangeJobHandlers } from '../../server/bookings/zoom-changes.js';
import type { Database } from '../../server/db/schema.js';
import { createLifecycleEmails, createNotGoneThroughSender } from '../../server/email/notifications.js';
import { createEmailJobHandler, enqueueEmail, type MailSender } from '../../server/email/outbox.js';
import { createMailSender } from '../../server/email/transport.js';
import { createJobWorker, type JobWorker, type RetryPolicy } from '../../server/jobs/index.js';
import { createLogger, type Logger } from '../../server/logger.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from './helpers/databases.js';
import { bookingBody, createTestClock, FREE_SLOT, NOW, seedSpecialist } from './helpers/fixtures.js';
import { allowOnConsentPage, connectZoom, startTestServer, type TestServer } from './helpers/server.js';
import { startTestSmtp, type TestSmtp } from './helpers/smtp.js';

const REAUTH_SUBJECT = '⚠️ Action Required: Re-authorize Your Zoom Account - Intro call';
const CHANGES_WAITING_SUBJECT = '⚠️ Action Required: Re-authorize Your Zoom Account - changes waiting';
const HOUR_MS = 3_600_000;

/** Reads an .ics into its unfolded property lines. */
function icsLines(ics: string): string[] {
  expect(ics).toContain('\r\n');
  return ics.replace(/\r\n[ \t]/g, '').split('\r\n').filter(Boolean);
}

function linksIn(mail: ParsedMail): string[] {
  return [...String(mail.html).matchAll(/href="([^"]+)"/g)].map((m) => m[1]!.replace(/&amp;/g, '&'));
}

/**
 * The calendar parts as they arrive: nodemailer's `icalEvent` sends an inline
 * `text/calendar; method=…` part (no Content-Disposition: an alternative to
 * the text and HTML, which Gmail and Outlook show as an invitation card) and
 * the same file as an `invite.ics` attachment. Asserts there are exactly
 * these two and that they hold the same text.
 */
function calendarOf(mail: ParsedMail): { method: string; ics: string } {
  expect(mail.attachments.map((a) => [a.contentType, a.contentDisposition, a.filename])).toEqual([
    ['text/calendar', undefined, undefined],
    ['application/ics', 'attachment', 'invite.ics'],
  ]);
  const [inline, attached] = mail.attachments;
  const type = inline!.headers.get('content-type') as { value: string; params: Record<string, string> };
  expect(type.params.charset).toBe('utf-8');
  const ics = inline!.content.toString('utf8');
  expect(attached!.content.toString('utf8')).toBe(ics);
  return { method: type.params.method!, ics };
}

/** One property's value in an .ics, e.g. `icsValue(ics, 'SEQUENCE')`. */
function icsValue(ics: string, name: string): string | undefined {
  return icsLines(ics)
    .find((l) => l.startsWith(`${name}:`) || l.startsWith(`${name};`))
    ?.replace(/^[^:]*:/, '');
}

const replyToOf = (mail: ParsedMail) => mail.replyTo?.value.map((a) => a.address);

describe.each(DATABASE_KINDS)('email on %s', (kind) => {
  let database: TestDatabase;
  let server: TestServer;
  let smtp: TestSmtp;
  let worker: JobWorker;
  let time: ReturnType<typeof createTestClock>;
  let specialistId: string;
  let serviceIds: string[];
  const db = () => database.handle.db;

  const senders: MailSender[] = [];
  /** The job worker with the email handler, as the server runs it, sending to the SMTP server on `port`. */
  const newWorker = (port = smtp.port, overrides: { pollMs?: number; logger?: Logger; retry?: Partial<RetryPolicy> } = {}) => {
    const sender = createMailSender({ mode: 'smtp', url: `smtp://127.0.0.1:${port}`, isInsecureAllowed: false });
    senders.push(sender);
    const logger = overrides.logger ?? createLogger('silent');
    const from = 'specialist-booking <no-reply@booking.test>';
    return createJobWorker({
      db: db(),
      databaseKind: kind,
      clock: time.clock,
      logger,
      pollMs: overrides.pollMs,
      handlers: [createEmailJobHandler({ db: db(), clock: time.clock, cipher: server.cipher, logger, sender, from, retry: overrides.retry })],
    });
  };
  const book = (name = 'Carla Customer', start = FREE_SLOT, customer: Record<string, unknown> = {}) =>
    fetch(`${server.url}/api/v1/specialists/anna/bookings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(bookingBody(serviceIds[0]!, start, { name, ...customer })),
    });
  // Rows queued in one transaction share created_at (a fixed clock): kind breaks the tie, which the database would not.
  const outbox = () => db().selectFrom('email_outbox').selectAll().orderBy('created_at').orderBy('kind').execute();
  const outboxRow = (id: string) => db().selectFrom('email_outbox').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  /** The `email.send` job that delivers outbox message `id`. */
  const jobOf = (id: string) => db().selectFrom('jobs').selectAll().where('dedupe_key', '=', `email:${id}`).executeTakeFirstOrThrow();
  const attemptsOf = async (id: string) =>
    (await db().selectFrom('email_delivery_attempts').select(['attempt', 'error']).where('outbox_id', '=', id).orderBy('attempt').execute()).map((a) => [a.attempt, a.error]);
  /** The message failed at its first attempt with `reason`, and a day later nothing has tried it again. */
  const expectFailedAtOnce = async (id: string, reason: string, by: JobWorker) => {
    const failedAt = time.clock().toISOString();
    expect(await outboxRow(id)).toMatchObject({ status: 'failed', attempts: 1, last_error: reason, failed_at: failedAt, sent_at: null });
    expect(await jobOf(id)).toMatchObject({ kind: 'email.send', status: 'failed', attempts: 1, last_error: reason, finished_at: failedAt, lease_token: null, lease_until: null });
    time.advance(25 * HOUR_MS);
    expect(await by.runDue()).toBe(0);
    expect(await attemptsOf(id)).toEqual([[1, reason]]);
  };
  const queue = () =>
    enqueueEmail(db(), { clock: time.clock, cipher: server.cipher, messageIdDomain: 'booking.test' }, { kind: 'test', to: 'carla@example.test', subject: 'Hello', text: 'Hi', html: '<p>Hi</p>' });

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
    smtp.messages.length = 0;
    ({ specialistId, serviceIds } = await seedSpecialist(db()));
    time = createTestClock(NOW);
    server = await startTestServer({ db: db(), clock: time.clock, notifyReauthRequired: 'email' });
    worker = newWorker();
  });
  afterEach(async () => {
    await worker.stop();
    for (const sender of senders.splice(0)) sender.close?.();
    await server.close();
  });

  describe('the re-auth notification', () => {
    // The seed's email, as it goes out when the slot is released; holds add lines and a customer's
    // email, tested in held-requests.test.ts.
    beforeEach(async () => {
      await db().updateTable('specialists').set({ hold_window_minutes: 0 }).execute();
    });
    it('tells the specialist what happened and why, with a one-click link that works once', async () => {
      const zoomUserId = await connectZoom(server, specialistId);
      server.emulator.controls.revokeAllTokens(zoomUserId);
      const res = await book();
      expect(res.status).toBe(409);
      expect(await res.json()).toMatchObject({ code: 'requires_reauth', specialistNotified: true });
      expect(await worker.runDue()).toBe(1);
      const [mail] = await smtp.waitForMessages(1);
      expect(mail!.subject).toBe(REAUTH_SUBJECT);
      expect(mail!.to).toMatchObject({ value: [{ address: 'anna@example.test' }] });
      expect(mail!.from!.value).toEqual([{ name: 'specialist-booking', address: 'no-reply@booking.test' }]);
      expect(mail!.text).toContain(
        'Carla Customer tried to book "Intro call" for Monday, 7 January 2030 at 10:00 (Europe/Berlin), on Monday, 7 January 2030 at 07:00 (Europe/Berlin), but the booking could not be completed: your Zoom connection needs to be re-authorized.',
      );
      expect(mail!.text).toContain('2. On Zoom’s page, click "Allow".');
      expect(mail!.text).not.toContain('to reach Zoom');
      expect(mail!.html).toContain('>Re-authorize Zoom</a>');
      const [oneClick, settings] = linksIn(mail!);
      expect(oneClick).toMatch(new RegExp(`^${server.url}/auth/link\\?token=`));
      expect(settings).toBe(`${server.url}/settings/zoom`);
      expect((await fetch(settings!, { redirect: 'manual' })).headers.get('location')).toBe('/settings#zoom');
      expect(mail!.text).toContain(`Re-authorize Zoom: ${oneClick}`);

      // Follow it as a browser would: straight on to Zoom's consent page, signing nobody in.
      const toZoom = await fetch(oneClick!, { redirect: 'manual' });
      expect(toZoom.status).toBe(302);
      expect(toZoom.headers.get('location')).toMatch(new RegExp(`^${server.emulator.oauthBaseUrl}/oauth/authorize\\?`));
      expect(toZoom.headers.get('set-cookie')).toBeNull();
      const back = await allowOnConsentPage(toZoom.headers.get('location')!, zoomUserId);
      const done = await fetch(back, { redirect: 'manual' });
      expect(done.status).toBe(200);
      expect(done.headers.get('set-cookie')).toBeNull();
      expect(await done.text()).toContain('Zoom re-authorized — customers can book again.');
      expect((await book('Second Customer', '2030-01-07T10:00:00Z')).status).toBe(201);

      const again = await fetch(oneClick!, { redirect: 'manual' });
      expect(again.status).toBe(302);
      expect(again.headers.get('location')).toBe('/sign-in?reason=used&next=%2Fsettings%23zoom');
      expect(again.headers.get('set-cookie')).toBeNull();
      expect(await (await fetch(`${server.url}/sign-in?reason=used&next=%2Fsettings%23zoom`)).text()).toContain('That link was already used. Sign in again to continue.');
    });

    it('names the cancellations and reschedules whose Zoom change waits for the re-authorization', async () => {
      const zoomUserId = await connectZoom(server, specialistId);
      const booked = await book('Carla Customer', '2030-01-08T09:00:00Z');
      expect(booked.status).toBe(201);
      const { booking } = await booked.json();
      server.emulator.controls.revokeAllTokens(zoomUserId);
      // The customer cancels while the specialist's Zoom token is dead: the cancel happens, its meeting deletion waits.
      const cancelled = await fetch(`${server.url}/api/v1/bookings/${booking.id}/cancel`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token: server.services.manageTokens.issue(booking.id) }),
      });
      expect(cancelled.status).toBe(200);
      expect((await book('Second Customer')).status).toBe(409);
      expect(await worker.runDue()).toBe(5); // two confirmations, two cancellations, the re-auth email
      const mails = await smtp.waitForMessages(5);
      const reauth = mails.find((m) => m.subject === REAUTH_SUBJECT)!;
      const pending = '1 change to booked sessions (cancelled or moved) waits to reach Zoom. Your customers have been told; Zoom is updated as soon as you re-authorize.';
      expect(reauth.text).toContain(`Second Customer tried to book`);
      expect(reauth.text).toContain(pending);
      expect(reauth.html).toContain(pending);
    });

    it('a Zoom change that finds the token dead emails the specialist, once a window, and a re-auth revives changes that gave up', async () => {
      const zoomUserId = await connectZoom(server, specialistId);
      const ids: string[] = [];
      for (const start of ['2030-01-08T09:00:00Z', '2030-01-09T09:00:00Z']) {
        const res = await book('Carla Customer', start);
        expect(res.status).toBe(201);
        ids.push(((await res.json()) as { booking: { id: string } }).booking.id);
      }
      const meetingIds = await Promise.all(
        ids.map(async (id) => (await db().selectFrom('bookings').select('zoom_meeting_id').where('id', '=', id).executeTakeFirstOrThrow()).zoom_meeting_id!),
      );
      const meetingExists = (id: string) => server.emulator.controls.meetings(zoomUserId).some((m) => String(m.id) === id);
      // The job worker as start.ts runs it: email and the Zoom changes, with the server's (email) re-auth notifier.
      const sender = createMailSender({ mode: 'smtp', url: `smtp://127.0.0.1:${smtp.port}`, isInsecureAllowed: false });
      senders.push(sender);
      const logger = createLogger('silent');
      const both = createJobWorker({
        db: db(),
        databaseKind: kind,
        clock: time.clock,
        logger,
        handlers: [
          createEmailJobHandler({ db: db(), clock: time.clock, cipher: server.cipher, logger, sender, from: 'specialist-booking <no-reply@booking.test>' }),
          ...createZoomChangeJobHandlers({ db: db(), zoom: server.core.zoom, connections: server.services.connections, notifyReauthRequired: server.services.bookings.notifyReauthRequired, logger }),
        ],
      });
      const runAll = async () => {
        await both.runDue();
        await both.runDue(); // what the first run queued (the re-auth email)
      };
      const cancel = (id: string) => server.services.lifecycle.cancel(id, { kind: 'customer', token: server.services.manageTokens.issue(id) });
      const reauthMails = () => smtp.messages.filter((m) => m.subject?.includes('Re-authorize'));
      const zoomJobs = () => db().selectFrom('jobs').select(['status', 'attempts']).where('kind', '=', 'zoom.delete-meeting').orderBy('created_at').execute();
      await runAll();
      await smtp.waitForMessages(4); // the two bookings' invitations

      server.emulator.controls.revokeAllTokens(zoomUserId);
      expect((await cancel(ids[0]!)).status).toBe('cancelled');
      await runAll();
      await smtp.waitForMessages(7); // two cancellation emails and the re-auth email
      expect(reauthMails().map((m) => m.subject)).toEqual([CHANGES_WAITING_SUBJECT]);
      const [first] = reauthMails();
      expect(first!.to).toMatchObject({ value: [{ address: 'anna@example.test' }] });
      expect(first!.text).toContain('Your Zoom connection needs to be re-authorized. 1 change to booked sessions (cancelled or moved) waits to reach Zoom. Your customers have been told; Zoom is updated as soon as you re-authorize.');
      expect(first!.text).not.toContain('tried to book');
      expect(first!.text).not.toContain('booking attempts have failed');
      expect(first!.html).toContain('>Re-authorize Zoom</a>');
      // No customer tried to book: the job alone told the specialist.
      expect((await db().selectFrom('bookings').select('status').orderBy('start_at').execute()).map((b) => b.status)).toEqual(['cancelled', 'confirmed']);
      expect(await zoomJobs()).toEqual([{ status: 'pending', attempts: 1 }]);

      // A second failing change inside the window: no second email.
      time.advance(10 * 60_000);
      expect((await cancel(ids[1]!)).status).toBe('cancelled');
      await runAll();
      await smtp.waitForMessages(9);
      expect(reauthMails()).toHaveLength(1);
      expect(await db().selectFrom('email_outbox').select('kind').where('kind', '=', 'reauth_required').execute()).toHaveLength(1);

      // Eight days on, past the 7-day retry window: both changes give up (the window has passed, so one more email).
      time.advance(8 * 24 * HOUR_MS);
      await runAll();
      await smtp.waitForMessages(10);
      expect(await zoomJobs()).toMatchObject([{ status: 'failed' }, { status: 'failed' }]);
      const latest = reauthMails().at(-1)!;
      expect(latest.subject).toBe(CHANGES_WAITING_SUBJECT);
      expect(latest.text).toContain('2 changes to booked sessions (cancelled or moved) wait to reach Zoom.');
      expect(meetingIds.map(meetingExists)).toEqual([true, true]);

      // The specialist follows the email's link through Zoom's consent: the changes that gave up run once more.
      const toZoom = await fetch(linksIn(latest)[0]!, { redirect: 'manual' });
      expect(toZoom.status).toBe(302);
      const back = await allowOnConsentPage(toZoom.headers.get('location')!, zoomUserId);
      const done = await fetch(back, { redirect: 'manual' });
      expect(done.status).toBe(200);
      expect(await done.text()).toContain('Zoom re-authorized — customers can book again.');
      expect(await zoomJobs()).toEqual([
        { status: 'pending', attempts: 0 },
        { status: 'pending', attempts: 0 },
      ]);
      await both.runDue();
      expect(await zoomJobs()).toEqual([
        { status: 'done', attempts: 1 },
        { status: 'done', attempts: 1 },
      ]);
      expect(meetingIds.map(meetingExists)).toEqual([false, false]);
    });

    it('refuses an expired or tampered link', async () => {
      await book();
      await worker.runDue();
      const [oneClick] = linksIn((await smtp.waitForMessages(1))[0]!);
      const tampered = await fetch(oneClick!.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')), { redirect: 'manual' });
      expect(tampered.headers.get('location')).toBe('/sign-in?reason=invalid&next=%2Fsettings%23zoom');
      time.advance(24 * 3_600_000 + 1);
      const expired = await fetch(oneClick!, { redirect: 'manual' });
      expect(expired.status).toBe(302);
      expect(expired.headers.get('location')).toBe('/sign-in?reason=expired&next=%2Fsettings%23zoom');
      expect(expired.headers.get('set-cookie')).toBeNull();
    });

    it('sends one email per specialist per hour, then names the attempts that failed meanwhile', async () => {
      for (const name of ['A One', 'B Two', 'C Three']) {
        const res = await book(name);
        expect((await res.json()).specialistNotified).toBe(true);
      }
      expect(await worker.runDue()).toBe(1);
      time.advance(30 * 60_000);
      await book('D Four');
      expect(await worker.runDue()).toBe(0);
      time.advance(31 * 60_000);
      await book('E Five');
      expect(await worker.runDue()).toBe(1);
      const mails = await smtp.waitForMessages(2);
      expect(mails.map((m) => m.subject)).toEqual([REAUTH_SUBJECT, REAUTH_SUBJECT]);
      expect(mails[0]!.text).toContain('A One tried to book');
      expect(mails[0]!.text).not.toContain('booking attempts have failed');
      expect(mails[1]!.text).toContain('E Five tried to book');
      // B, C and D were throttled; E is the fourth since the first email.
      expect(mails[1]!.text).toContain('4 booking attempts have failed since our last email about this.');
      expect((await db().selectFrom('zoom_connections').selectAll().execute()).length).toBe(0);
    });

    it('escapes customer text: markup in a name arrives as text', async () => {
      const hostile = '<script>alert(1)</script><a href="https://evil.example">Click</a>';
      await book(hostile);
      await worker.runDue();
      const [mail] = await smtp.waitForMessages(1);
      expect(mail!.html).not.toContain('<script>');
      expect(mail!.html).not.toContain('href="https://evil.example"');
      expect(mail!.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&lt;a href=&quot;https://evil.example&quot;&gt;Click&lt;/a&gt;');
      expect(mail!.text).toContain(`${hostile} tried to book`);
    });
  });

  describe('invites', () => {
    beforeEach(async () => {
      await connectZoom(server, specialistId);
    });

    it('strips control characters, bidi overrides, invisible separators and direction marks from service titles and specialist names, and the .ics stays valid', async () => {
      await db().updateTable('services').set({ title: 'Intro\u0007 call\u202e\u0001' }).where('id', '=', serviceIds[0]!).execute();
      await db().updateTable('specialists').set({ name: 'Anna\u2066 Berg\r\nX-Injected: 1\u001b\u2028\u2029\u200e\u200f\u061c' }).where('id', '=', specialistId).execute();
      expect((await book('Carla Customer', FREE_SLOT, { note: 'Line one\n\tLine two' })).status).toBe(201);
      // Both invitations are filed under the specialist: a failed one shows on their dashboard.
      expect(await db().selectFrom('email_outbox').select('specialist_id').execute()).toEqual([{ specialist_id: specialistId }, { specialist_id: specialistId }]);
      expect(await worker.runDue()).toBe(2);
      const mails = await smtp.waitForMessages(2);
      const customer = mails.find((m) => m.subject?.startsWith('Confirmed'))!;
      const specialist = mails.find((m) => m.subject?.startsWith('New booking'))!;
      expect(customer.subject).toBe('Confirmed: Intro call with Anna BergX-Injected: 1');
      expect(customer.text).toContain('Your Intro call (30 minutes) with Anna BergX-Injected: 1 is booked');
      expect(specialist.text).toContain('Hi Anna BergX-Injected: 1,');
      expect(specialist.text).toContain('Their note: Line one\n\tLine two');
      for (const mail of [customer, specialist]) {
        expect(String(mail.subject) + mail.text + String(mail.html)).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
        const { ics } = calendarOf(mail);
        // RFC 5545: content lines end in CRLF, fold at 75 octets, and hold no other control character than a fold's tab.
        expect(ics.endsWith('\r\n')).toBe(true);
        for (const line of ics.slice(0, -2).split('\r\n')) {
          expect(Buffer.byteLength(line)).toBeLessThanOrEqual(75);
          expect(line).not.toMatch(/[\u0000-\u0008\u000a-\u001f\u007f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
        }
        const lines = icsLines(ics);
        expect(lines).toContain('SUMMARY:Intro call: Anna BergX-Injected: 1 and Carla Customer');
        expect(lines).toContain('ORGANIZER;CN="Anna BergX-Injected: 1":mailto:anna@example.test');
      }
    });

    it('cleans the "Zoom account has changed" email of the new account owner\'s hostile display name', async () => {
      // Whoever owns the new Zoom account chose its display name.
      const hostile = server.emulator.controls.addUser({ display_name: 'Mallory\r\nX-Injected: 1\u0007 \u202egnp.exe', email: 'mallory@zoom.test' });
      await connectZoom(server, specialistId, hostile);
      expect(await worker.runDue()).toBe(1);
      const [mail] = await smtp.waitForMessages(1);
      expect(mail!.subject).toBe('Your connected Zoom account has changed');
      expect(mail!.text).toContain('New bookings now get their Zoom meetings on MalloryX-Injected: 1 gnp.exe (mallory@zoom.test), instead of ');
      expect(mail!.html).toContain('<strong>MalloryX-Injected: 1 gnp.exe (mallory@zoom.test)</strong>');
      expect(String(mail!.subject) + mail!.text + String(mail!.html)).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f\u202a-\u202e\u2066-\u2069]/);
    });

    it('delivers the "did not go through" email in the customer’s zone, names cleaned and escaped, with the booking page link', async () => {
      const send = createNotGoneThroughSender({ ...server.services.outbox, publicUrl: server.url });
      await db().transaction().execute((trx) =>
        send(trx, {
          specialist: { id: specialistId, slug: 'anna', name: 'Anna <i>Berg</i>\r\nX-Injected: 1', timeZone: 'Europe/Berlin' },
          service: { title: 'Intro\u202e call' },
          customer: { name: 'Carla <script>x</script>', email: 'carla@example.test', timeZone: 'America/New_York' },
          start: new Date(FREE_SLOT),
        }),
      );
      // Filed under the specialist: should it fail, their dashboard lists it.
      expect(await db().selectFrom('email_outbox').select(['specialist_id', 'to_address']).execute()).toEqual([{ specialist_id: specialistId, to_address: 'carla@example.test' }]);
      expect(await worker.runDue()).toBe(1);
      const [mail] = await smtp.waitForMessages(1);
      expect(mail!.subject).toBe('Your booking with Anna <i>Berg</i>X-Injected: 1 did not go through');
      expect(mail!.to).toMatchObject({ value: [{ address: 'carla@example.test' }] });
      expect(replyToOf(mail!)).toEqual(['anna@example.test']);
      expect(mail!.text).toContain('Hi Carla <script>x</script>,');
      expect(mail!.text).toContain('We could not finish your booking of Intro call with Anna <i>Berg</i>X-Injected: 1 for Monday, 7 January 2030 at 04:00 (America/New_York)');
      expect(mail!.text).toContain(`Pick another time: ${server.url}/book/anna`);
      expect(mail!.html).toContain('Hi Carla &lt;script&gt;x&lt;/script&gt;,');
      expect(mail!.html).not.toContain('<script>');
      expect(mail!.html).not.toContain('<i>');
      expect(linksIn(mail!)).toEqual([`${server.url}/book/anna`, `${server.url}/book/anna`]);
    });

    it('sends both sides a confirmation in their own time zone with the join link and an .ics', async () => {
      const res = await book('Carla Customer', FREE_SLOT, { timeZone: 'America/New_York', note: 'Looking <forward>' });
      expect(res.status).toBe(201);
      const [meeting] = server.emulator.controls.meetings();
      const rows = await outbox();
      expect(rows.map((r) => r.kind)).toEqual(['booking_confirmed_customer', 'booking_confirmed_specialist']);
      expect(rows.every((r) => !r.content_enc.includes(meeting!.join_url))).toBe(true);
      expect(await worker.runDue()).toBe(2);
      const mails = await smtp.waitForMessages(2);
      const customer = mails.find((m) => m.subject?.startsWith('Confirmed'))!;
      const specialist = mails.find((m) => m.subject?.startsWith('New booking'))!;
      expect(customer.subject).toBe('Confirmed: Intro call with Anna Berg');
      expect(customer.to).toMatchObject({ value: [{ address: 'carla@example.test' }] });
      expect(customer.text).toContain('is booked for Monday, 7 January 2030 at 04:00 (America/New_York).');
      expect(customer.text).toContain(`Join on Zoom: ${meeting!.join_url}`);
      expect(customer.text).not.toContain(meeting!.start_url);
      expect(customer.html).not.toContain('zak=');
      expect(specialist.subject).toBe('New booking: Intro call with Carla Customer');
      expect(specialist.to).toMatchObject({ value: [{ address: 'anna@example.test' }] });
      expect(specialist.text).toContain('for Monday, 7 January 2030 at 10:00 (Europe/Berlin).');
      expect(specialist.text).toContain('Their note: Looking <forward>');
      expect(specialist.html).toContain('Looking &lt;forward&gt;');
      expect(specialist.text).toContain(`Start the meeting as host: ${meeting!.start_url}`);
      expect(linksIn(specialist)).toContain(meeting!.start_url);

      // Replies to the customer's email reach the specialist; the specialist's copy has no Reply-To.
      expect(replyToOf(customer)).toEqual(['anna@example.test']);
      expect(specialist.replyTo).toBeUndefined();

      const { booking } = await res.json();
      for (const mail of [customer, specialist]) {
        const { method, ics } = calendarOf(mail);
        expect(method).toBe('REQUEST');
        const lines = icsLines(ics);
        expect(lines).toEqual(
          expect.arrayContaining([
            'METHOD:REQUEST',
            'BEGIN:VEVENT',
            `UID:${booking.id}@127.0.0.1`,
            'SEQUENCE:0',
            'DTSTART:20300107T090000Z',
            'DTEND:20300107T093000Z',
            `LOCATION:${meeting!.join_url}`,
            'ORGANIZER;CN="Anna Berg":mailto:anna@example.test',
            'ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN="Carla Customer":MAILTO:carla@example.test',
            'STATUS:CONFIRMED',
            'END:VCALENDAR',
          ]),
        );
      }

      // The manage link: signed for this booking, in the text and behind the HTML's link.
      const manageUrl = customer.text!.match(/^Cancel or reschedule: (\S+)$/m)![1]!;
      const manage = new URL(manageUrl);
      expect(manage.origin + manage.pathname).toBe(`${server.url}/bookings/${booking.id}/manage`);
      expect([...manage.searchParams.keys()]).toEqual(['token']);
      expect(server.services.manageTokens.isValid(booking.id, manage.searchParams.get('token')!)).toBe(true);
      expect(linksIn(customer)).toContain(manageUrl);
      expect(specialist.text).not.toContain('/manage?token=');

      // "Add to calendar": Google and Outlook, with the booking's times in UTC, its title and the join link, never the manage token.
      const googleLink = customer.text!.match(/^Add to Google Calendar: (\S+)$/m)![1]!;
      const google = new URL(googleLink);
      expect(google.origin + google.pathname).toBe('https://calendar.google.com/calendar/render');
      expect(Object.fromEntries(google.searchParams)).toEqual({
        action: 'TEMPLATE',
        text: 'Intro call with Anna Berg',
        dates: '20300107T090000Z/20300107T093000Z',
        details: `Join on Zoom: ${meeting!.join_url}`,
        location: meeting!.join_url,
      });
      const outlookLink = customer.text!.match(/^Add to Outlook: (\S+)$/m)![1]!;
      const outlook = new URL(outlookLink);
      expect(outlook.origin + outlook.pathname).toBe('https://outlook.live.com/calendar/0/deeplink/compose');
      expect(Object.fromEntries(outlook.searchParams)).toEqual({
        path: '/calendar/action/compose',
        rru: 'addevent',
        subject: 'Intro call with Anna Berg',
        startdt: '2030-01-07T09:00:00Z',
        enddt: '2030-01-07T09:30:00Z',
        body: `Join on Zoom: ${meeting!.join_url}`,
        location: meeting!.join_url,
      });
      expect(linksIn(customer)).toEqual(expect.arrayContaining([googleLink, outlookLink]));
      expect(googleLink + outlookLink).not.toContain('token');
      // The join link in the email works: Zoom knows that meeting.
      expect(customer.text).toContain(`/j/${meeting!.id}?pwd=${meeting!.password}`);
    });

    it('queues nothing when the booking fails, and queues invites only with a confirmed booking', async () => {
      server.emulator.controls.failNext(4, { status: 503 }); // the client's four attempts
      expect((await book()).status).toBe(503);
      expect(await outbox()).toEqual([]);
      expect((await book()).status).toBe(201);
      expect((await outbox()).length).toBe(2);
    });
  });

  describe('lifecycle emails (cancel, reschedule, reschedule offer)', () => {
    const NEW_START = '2030-01-08T14:00:00.000Z';
    let bookingId: string;
    let joinUrl: string;
    let parties: BookingParties;
    /** The handlers as services.ts builds them for the booking lifecycle. */
    const lifecycleEmails = () => createLifecycleEmails({ ...server.services.outbox, publicUrl: server.url, manageTokens: server.services.manageTokens });
    /** Raises a lifecycle event as the domain does: in a transaction of its own. */
    const raise = (raiseIn: (trx: Transaction<Database>) => Promise<void>) => db().transaction().execute(raiseIn);
    const byRecipient = async (count: number) => {
      expect(await worker.runDue()).toBe(count);
      const mails = await smtp.waitForMessages(count);
      return (address: string) => mails.find((m) => m.to && !Array.isArray(m.to) && m.to.value[0]!.address === address)!;
    };
    const slotEnd = (start: string) => new Date(Date.parse(start) + 30 * 60_000);

    beforeEach(async () => {
      await connectZoom(server, specialistId);
      const res = await book('Carla Customer', FREE_SLOT, { timeZone: 'America/New_York' });
      expect(res.status).toBe(201);
      ({ id: bookingId, zoomJoinUrl: joinUrl } = (await res.json()).booking);
      // The confirmations are not what these tests look at.
      expect(await worker.runDue()).toBe(2);
      await smtp.waitForMessages(2);
      smtp.messages.length = 0;
      await db().deleteFrom('email_outbox').execute();
      parties = {
        bookingId,
        specialist: { id: specialistId, slug: 'anna', name: 'Anna Berg', email: 'anna@example.test', timeZone: 'Europe/Berlin' },
        service: { id: serviceIds[0]!, title: 'Intro call', durationMinutes: 30 },
        customer: { name: 'Carla Customer', email: 'carla@example.test', timeZone: 'America/New_York', note: null },
      };
    });

    it('through the manage API, a reschedule and then a cancel update the one calendar event (SEQUENCE 1, then 2) and email both parties', async () => {
      // Outside the cancellation window: the booking is three hours away.
      await db().updateTable('specialists').set({ cancellation_window_minutes: 60 }).where('id', '=', specialistId).execute();
      const token = server.services.manageTokens.issue(bookingId);
      const change = (action: string, body: Record<string, unknown>) =>
        fetch(`${server.url}/api/v1/bookings/${bookingId}/${action}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, ...body }) });
      const calendarsOf = async (count: number) => {
        expect(await worker.runDue()).toBe(count);
        const mails = [...(await smtp.waitForMessages(count))];
        smtp.messages.length = 0;
        return mails.map((mail) => ({ subject: mail.subject, ...calendarOf(mail) })).map(({ subject, method, ics }) => [subject, method, icsValue(ics, 'UID'), icsValue(ics, 'SEQUENCE'), icsValue(ics, 'DTSTART'), icsValue(ics, 'STATUS')]);
      };

      expect((await change('reschedule', { start: NEW_START })).status).toBe(200);
      expect((await calendarsOf(2)).sort()).toEqual([
        ['Rescheduled: Intro call with Anna Berg', 'REQUEST', `${bookingId}@127.0.0.1`, '1', '20300108T140000Z', 'CONFIRMED'],
        ['Rescheduled: Intro call with Carla Customer', 'REQUEST', `${bookingId}@127.0.0.1`, '1', '20300108T140000Z', 'CONFIRMED'],
      ]);

      expect((await change('cancel', { reason: 'Plans changed' })).status).toBe(200);
      expect((await calendarsOf(2)).sort()).toEqual([
        ['Cancelled: Intro call with Anna Berg', 'CANCEL', `${bookingId}@127.0.0.1`, '2', '20300108T140000Z', 'CANCELLED'],
        ['Cancelled: Intro call with Carla Customer', 'CANCEL', `${bookingId}@127.0.0.1`, '2', '20300108T140000Z', 'CANCELLED'],
      ]);
    });

    it('a customer’s cancellation tells both parties, each in their own zone, with the reason escaped and a METHOD:CANCEL of the same event', async () => {
      const reason = 'Sick <b>today</b>\nSorry';
      await raise((trx) => lifecycleEmails().onCancelled(trx, { ...parties, start: new Date(FREE_SLOT), end: slotEnd(FREE_SLOT), cancelledBy: 'customer', reason, sequence: 1 }));
      // Both filed under the specialist: a failed one shows on their dashboard.
      expect((await outbox()).map((r) => [r.kind, r.to_address, r.specialist_id])).toEqual([
        ['booking_cancelled_customer', 'carla@example.test', specialistId],
        ['booking_cancelled_specialist', 'anna@example.test', specialistId],
      ]);
      const to = await byRecipient(2);
      const customer = to('carla@example.test');
      expect(customer.subject).toBe('Cancelled: Intro call with Anna Berg');
      expect(customer.text).toContain('Your Intro call with Anna Berg on Monday, 7 January 2030 at 04:00 (America/New_York) is cancelled. You cancelled it.');
      expect(customer.text).toContain(`Your reason: ${reason}`);
      expect(customer.text).toContain(`Book another time: ${server.url}/book/anna`);
      expect(customer.html).toContain('Your reason: Sick &lt;b&gt;today&lt;/b&gt;');
      expect(customer.html).not.toContain('<b>today');
      expect(replyToOf(customer)).toEqual(['anna@example.test']);

      const specialist = to('anna@example.test');
      expect(specialist.subject).toBe('Cancelled: Intro call with Carla Customer');
      expect(specialist.text).toContain('Intro call with Carla Customer on Monday, 7 January 2030 at 10:00 (Europe/Berlin) is cancelled. Carla Customer (carla@example.test) cancelled it.');
      expect(specialist.text).toContain(`Their reason: ${reason}`);
      expect(specialist.replyTo).toBeUndefined();

      for (const mail of [customer, specialist]) {
        const { method, ics } = calendarOf(mail);
        expect(method).toBe('CANCEL');
        expect([icsValue(ics, 'METHOD'), icsValue(ics, 'UID'), icsValue(ics, 'SEQUENCE'), icsValue(ics, 'STATUS')]).toEqual(['CANCEL', `${bookingId}@127.0.0.1`, '1', 'CANCELLED']);
        expect([icsValue(ics, 'DTSTART'), icsValue(ics, 'DTEND')]).toEqual(['20300107T090000Z', '20300107T093000Z']);
        expect(ics).not.toContain(joinUrl);
      }
    });

    it('a specialist’s cancellation says who cancelled and carries their message to the customer', async () => {
      await raise((trx) =>
        lifecycleEmails().onCancelled(trx, { ...parties, start: new Date(FREE_SLOT), end: slotEnd(FREE_SLOT), cancelledBy: 'specialist', reason: 'I am ill, sorry.', sequence: 1 }),
      );
      const to = await byRecipient(2);
      expect(to('carla@example.test').text).toContain('is cancelled. Anna Berg cancelled it.\n\nTheir message: I am ill, sorry.');
      expect(to('anna@example.test').text).toContain('is cancelled. You cancelled it.\n\nYour message: I am ill, sorry.');
    });

    it('a reschedule tells both parties the old and the new time in their zone, keeps the join link, and updates the event with a higher SEQUENCE', async () => {
      await raise((trx) =>
        lifecycleEmails().onRescheduled(trx, {
          ...parties,
          previousStart: new Date(FREE_SLOT),
          previousEnd: slotEnd(FREE_SLOT),
          start: new Date(NEW_START),
          end: slotEnd(NEW_START),
          rescheduledBy: 'specialist',
          joinUrl,
          sequence: 1,
        }),
      );
      expect((await outbox()).map((r) => r.kind)).toEqual(['booking_rescheduled_customer', 'booking_rescheduled_specialist']);
      const to = await byRecipient(2);
      const customer = to('carla@example.test');
      expect(customer.subject).toBe('Rescheduled: Intro call with Anna Berg');
      expect(customer.text).toContain(
        'Your Intro call with Anna Berg is now on Tuesday, 8 January 2030 at 09:00 (America/New_York) (it was on Monday, 7 January 2030 at 04:00 (America/New_York)). Anna Berg moved it.',
      );
      expect(customer.text).toContain(`Join on Zoom (the same link as before): ${joinUrl}`);
      const manageUrl = customer.text!.match(/^Cancel or reschedule: (\S+)$/m)![1]!;
      expect(manageUrl).toBe(`${server.url}/bookings/${bookingId}/manage?token=${server.services.manageTokens.issue(bookingId)}`);
      expect(replyToOf(customer)).toEqual(['anna@example.test']);

      const specialist = to('anna@example.test');
      expect(specialist.subject).toBe('Rescheduled: Intro call with Carla Customer');
      expect(specialist.text).toContain('Intro call with Carla Customer is now on Tuesday, 8 January 2030 at 15:00 (Europe/Berlin) (it was on Monday, 7 January 2030 at 10:00 (Europe/Berlin)). You moved it.');
      expect(specialist.text).toContain(`its join link stays the same: ${joinUrl}`);
      expect(specialist.text).not.toContain('/manage?token=');
      expect(specialist.replyTo).toBeUndefined();

      for (const mail of [customer, specialist]) {
        const { method, ics } = calendarOf(mail);
        expect(method).toBe('REQUEST');
        expect([icsValue(ics, 'METHOD'), icsValue(ics, 'UID'), icsValue(ics, 'SEQUENCE'), icsValue(ics, 'STATUS')]).toEqual(['REQUEST', `${bookingId}@127.0.0.1`, '1', 'CONFIRMED']);
        expect([icsValue(ics, 'DTSTART'), icsValue(ics, 'DTEND'), icsValue(ics, 'LOCATION')]).toEqual(['20300108T140000Z', '20300108T143000Z', joinUrl]);
      }
    });

    it('a reschedule offer gives the customer the specialist’s message, the manage link, and says the window is lifted', async () => {
      const message = 'Something came up <on my side>.';
      await raise((trx) => lifecycleEmails().onRescheduleOffered(trx, { ...parties, start: new Date(FREE_SLOT), end: slotEnd(FREE_SLOT), message }));
      expect((await outbox()).map((r) => [r.kind, r.to_address, r.specialist_id])).toEqual([['reschedule_offered', 'carla@example.test', specialistId]]);
      const [mail] = await (async () => {
        expect(await worker.runDue()).toBe(1);
        return smtp.waitForMessages(1);
      })();
      expect(mail!.subject).toBe('Anna Berg invites you to pick a new time for Intro call');
      expect(mail!.text).toContain('Anna Berg asks you to choose another time for your Intro call, now booked for Monday, 7 January 2030 at 04:00 (America/New_York).');
      expect(mail!.text).toContain(`Their message: ${message}`);
      expect(mail!.html).toContain('Their message: Something came up &lt;on my side&gt;.');
      expect(mail!.text).toContain('The usual cancellation window does not apply: you can reschedule or cancel this booking until it starts.');
      const manageUrl = `${server.url}/bookings/${bookingId}/manage?token=${server.services.manageTokens.issue(bookingId)}`;
      expect(mail!.text).toContain(`Choose a new time: ${manageUrl}`);
      expect(linksIn(mail!)).toEqual([manageUrl]);
      expect(replyToOf(mail!)).toEqual(['anna@example.test']);
      expect(mail!.attachments).toEqual([]);
    });
  });

  describe('delivery', () => {
    it('keeps mail through an SMTP outage, records each failed attempt, and delivers each message once when it is back', async () => {
      const down = await startTestSmtp();
      const port = down.port;
      await down.close();
      const offline = newWorker(port, { retry: { baseDelayMs: 1_000 } });
      await book('Outage One');
      time.advance(2 * 3_600_000);
      await book('Outage Two');
      expect(await offline.runDue()).toBe(0);
      let rows = await outbox();
      expect(rows.map((r) => [r.status, r.attempts])).toEqual([
        ['pending', 1],
        ['pending', 1],
      ]);
      expect(rows[0]!.last_error).toMatch(/ECONNREFUSED/);
      expect(Date.parse((await jobOf(rows[0]!.id)).run_after)).toBeGreaterThan(time.clock().getTime());
      expect(await offline.runDue()).toBe(0); // not due yet: backing off
      time.advance(2_000);
      expect(await offline.runDue()).toBe(0);
      const attempts = await db().selectFrom('email_delivery_attempts').selectAll().orderBy('attempted_at').execute();
      expect(attempts).toHaveLength(4);
      expect(attempts.every((a) => /ECONNREFUSED/.test(a.error ?? ''))).toBe(true);

      const back = await startTestSmtp(port);
      try {
        time.advance(10_000);
        expect(await offline.runDue()).toBe(2);
        expect(await offline.runDue()).toBe(0);
        expect(back.messages).toHaveLength(2);
        rows = await outbox();
        expect(rows.map((r) => [r.status, r.attempts])).toEqual([
          ['sent', 3],
          ['sent', 3],
        ]);
        expect(new Set(back.messages.map((m) => m.messageId))).toEqual(new Set(rows.map((r) => r.message_id)));
      } finally {
        await back.close();
      }
    });

    it('two workers never send the same message', async () => {
      await connectZoom(server, specialistId);
      const starts = ['2030-01-08T08:00:00Z', '2030-01-08T08:30:00Z', '2030-01-08T09:00:00Z', '2030-01-08T09:30:00Z', '2030-01-08T10:00:00Z'];
      for (const start of starts) expect((await book('Racer', start)).status).toBe(201);
      const other = newWorker();
      const [a, b] = await Promise.all([worker.runDue(), other.runDue()]);
      expect(a + b).toBe(10);
      await smtp.waitForMessages(10);
      expect(smtp.messages).toHaveLength(10);
      expect(new Set(smtp.messages.map((m) => m.messageId)).size).toBe(10);
    });

    it('sends a burst of mail over one SMTP connection', async () => {
      await connectZoom(server, specialistId);
      const before = smtp.connections;
      for (const start of [FREE_SLOT, '2030-01-08T08:00:00Z', '2030-01-08T09:00:00Z']) expect((await book('Burst', start)).status).toBe(201);
      expect(await worker.runDue()).toBe(6);
      const mails = await smtp.waitForMessages(6);
      expect(mails.map((m) => m.subject).sort()).toEqual([
        ...Array(3).fill('Confirmed: Intro call with Anna Berg'),
        ...Array(3).fill('New booking: Intro call with Burst'),
      ]);
      expect(smtp.connections - before).toBe(1);
    });

    it('sends mail pending at start at once, and a backlog of more than a batch without waiting for the next poll', async () => {
      await connectZoom(server, specialistId);
      const starts = ['08:00', '08:30', '09:00', '09:30', '10:00', '10:30', '12:00', '12:30', '13:00', '13:30', '14:00', '14:30'];
      for (const start of starts) expect((await book('Backlog', `2030-01-08T${start}:00Z`)).status).toBe(201);
      expect(await outbox()).toHaveLength(24);
      // A poll a minute away: only the start and the full batches can send these.
      const polling = newWorker(smtp.port, { pollMs: 60_000 });
      polling.start();
      let mails: Awaited<ReturnType<typeof smtp.waitForMessages>>;
      try {
        mails = await smtp.waitForMessages(24);
      } finally {
        // stop() waits for the batch in flight: the last message can reach the mail server before its row is marked sent.
        await polling.stop();
      }
      expect(new Set(mails.map((m) => m.messageId)).size).toBe(24);
      expect((await outbox()).map((row) => row.status)).toEqual(Array(24).fill('sent'));
    });

    it('a worker whose claim ran out while sending writes nothing: the message stays with the worker that took it', async () => {
      const logLines: Record<string, unknown>[] = [];
      const slow = newWorker(smtp.port, { logger: createLogger('info', (line) => logLines.push(JSON.parse(line))) });
      const id = await queue();
      const slowHeld = smtp.holdNext();
      const slowSending = slow.runDue();
      await slowHeld.arrived;
      time.advance(60_001); // the slow worker's 60 s lease has run out
      const takerHeld = smtp.holdNext();
      const takerSending = worker.runDue();
      await takerHeld.arrived;
      const taken = await outboxRow(id);
      expect(taken).toMatchObject({ status: 'pending', attempts: 2, sent_at: null });

      slowHeld.release();
      expect(await slowSending).toBe(0);
      expect(await outboxRow(id)).toEqual(taken);
      expect(logLines).toEqual([expect.objectContaining({ level: 'warn', message: 'email sent after its claim was lost', outboxId: id, kind: 'test', attempt: 1, error: null })]);

      takerHeld.release();
      expect(await takerSending).toBe(1);
      expect(await outboxRow(id)).toMatchObject({ status: 'sent', attempts: 2, sent_at: time.clock().toISOString(), last_error: null });
      expect(await jobOf(id)).toMatchObject({ status: 'done', attempts: 2, lease_token: null, lease_until: null, finished_at: time.clock().toISOString() });
      // Both attempts reached the mail server, with one Message-ID: delivery is at least once.
      expect(await attemptsOf(id)).toEqual([
        [1, null],
        [2, null],
      ]);
      expect(smtp.messages.map((m) => m.messageId)).toEqual([taken.message_id, taken.message_id]);
    });

    it('still sends a message queued before calendars moved to icalEvent, with its invite.ics attachment', async () => {
      const id = await queue();
      const ics = 'BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n';
      const legacy = { text: 'Hi', html: '<p>Hi</p>', attachments: [{ filename: 'invite.ics', content: ics, contentType: 'text/calendar; charset=utf-8; method=REQUEST' }] };
      await db().updateTable('email_outbox').set({ content_enc: server.cipher.encrypt(JSON.stringify(legacy), `outbox:${id}`) }).where('id', '=', id).execute();
      expect(await worker.runDue()).toBe(1);
      const [mail] = await smtp.waitForMessages(1);
      expect(mail!.attachments.map((a) => [a.filename, a.contentType, a.content.toString('utf8')])).toEqual([['invite.ics', 'text/calendar', ics]]);
      expect(mail!.replyTo).toBeUndefined();
    });

    it('fails a message that cannot be decrypted at once, with the reason', async () => {
      const id = await queue();
      // Content encrypted for another row (as under another key) does not decrypt for this one.
      await db()
        .updateTable('email_outbox')
        .set({ content_enc: server.cipher.encrypt('{}', 'outbox:another-id') })
        .where('id', '=', id)
        .execute();
      expect(await worker.runDue()).toBe(0);
      await expectFailedAtOnce(id, 'cannot decrypt the content: Unsupported state or unable to authenticate data', worker);
      expect(smtp.messages).toEqual([]);
    });

    it('fails a message whose recipient the mail server refuses for good (550) at once, with its answer', async () => {
      const refusing = await startTestSmtp(0, { refuseRecipients: { code: 550, message: 'No such user here' } });
      try {
        const refused = newWorker(refusing.port);
        const id = await queue();
        expect(await refused.runDue()).toBe(0);
        await expectFailedAtOnce(id, "550: Can't send mail - all recipients were rejected: 550 No such user here", refused);
        expect(refusing.messages).toEqual([]);
      } finally {
        await refusing.close();
      }
    });

    it('retries a deferral (451) 5 s later, doubling to 1 h apart, until 24 hours after queueing, then fails it', async () => {
      const deferring = await startTestSmtp(0, { refuseRecipients: { code: 451, message: 'Try again later' } });
      try {
        const deferred = newWorker(deferring.port);
        const id = await queue();
        const queuedAt = time.clock().getTime();
        const triedAt: number[] = [];
        let row = await outboxRow(id);
        while (row.status === 'pending') {
          expect(await deferred.runDue()).toBe(0);
          triedAt.push(time.clock().getTime() - queuedAt);
          row = await outboxRow(id);
          expect(row.attempts).toBe(triedAt.length);
          if (row.status === 'pending') {
            // Not a moment early: one millisecond before its time, the message waits.
            time.advance(Date.parse((await jobOf(id)).run_after) - time.clock().getTime() - 1);
            expect(await deferred.runDue()).toBe(0);
            expect((await outboxRow(id)).attempts).toBe(triedAt.length);
            time.advance(1);
          }
        }
        const reason = "451: Can't send mail - all recipients were rejected: 451 Try again later";
        expect(row).toMatchObject({ status: 'failed', last_error: reason, sent_at: null });
        expect(await jobOf(id)).toMatchObject({ status: 'failed', last_error: reason, lease_token: null, lease_until: null });
        // Every attempt but the last came within 24 hours; the last one at 24 hours or after, one delay at most later.
        expect(triedAt.slice(0, -1).every((t) => t < 24 * HOUR_MS)).toBe(true);
        expect(triedAt.at(-1)).toBeGreaterThanOrEqual(24 * HOUR_MS);
        expect(triedAt.at(-1)).toBeLessThan(24 * HOUR_MS + 1.25 * HOUR_MS);
        triedAt.slice(1).forEach((t, i) => {
          const nominal = Math.min(HOUR_MS, 5_000 * 2 ** i);
          expect(t - triedAt[i]!).toBeGreaterThanOrEqual(0.75 * nominal);
          expect(t - triedAt[i]!).toBeLessThanOrEqual(1.25 * nominal);
        });
        expect(await attemptsOf(id)).toEqual(triedAt.map((_, i) => [i + 1, reason]));
        time.advance(2 * HOUR_MS);
        expect(await deferred.runDue()).toBe(0);
        expect((await outboxRow(id)).attempts).toBe(triedAt.length);
        expect(deferring.messages).toEqual([]);
      } finally {
        await deferring.close();
      }
    });

    it('a stalled mail server does not hold up bookings', async () => {
      await connectZoom(server, specialistId);
      const stalling = await startTestSmtp();
      const stuck = newWorker(stalling.port, { pollMs: 10 });
      try {
        const stalled = stalling.stallNext();
        stuck.start();
        expect((await book('First', '2030-01-08T08:00:00Z')).status).toBe(201);
        await stalled; // the worker is now waiting on SMTP for an answer that does not come
        const res = await book('Second', '2030-01-08T09:00:00Z');
        expect(res.status).toBe(201);
        const rows = await outbox();
        expect(rows).toHaveLength(4);
        expect(rows.filter((r) => r.status === 'sent')).toHaveLength(0);
        expect(await db().selectFrom('jobs').select('id').where('lease_token', 'is not', null).execute()).toHaveLength(1);
      } finally {
        await stalling.close();
        await stuck.stop();
      }
    });
  });
});
