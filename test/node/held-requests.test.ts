/**
 * Held requests (issue #17): a booking that meets a dead Zoom token keeps
 * its slot, and is confirmed by the job worker the moment the specialist
 * re-authorizes, exactly once; or it expires at its hold's end. Real HTTP
 * against the server and the Zoom emulator, a real job worker sending to a
 * real SMTP server, on SQLite and PostgreSQL; two processes in the last test.
 */
import type { ParsedMail } from 'mailparser';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HELD_REQUEST_JOB, createHeldRequestJobHandler } from '../../server/bookings/held-requests.js';
import { systemClock } from '../../server/clock.js';
import { createEmailJobHandler, type MailSender } from '../../server/email/outbox.js';
import { createMailSender } from '../../server/email/transport.js';
import { createJobWorker, type JobWorker } from '../../server/jobs/index.js';
import { createLogger } from '../../server/logger.js';
import { createMeetingCleanupJobHandler } from '../../server/zoom/meeting-cleanup.js';
import { bookingMarker } from '../../server/zoom/meetings.js';
import { expiredRequestsLine } from '../../server/email/held-templates.js';
import { childEnv, startChildServer, type ChildServer } from './helpers/child-server.js';
import { DATABASE_KINDS, useTestDatabase } from './helpers/databases.js';
import { clearMailState, drainJobs } from './helpers/jobs.js';
import { bookingBody, createTestClock, FREE_SLOT, NOW, seedSpecialist } from './helpers/fixtures.js';
import { allowOnConsentPage, connectZoom, signInCookie, startTestServer, type TestServer } from './helpers/server.js';
import { useTestSmtp } from './helpers/smtp.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** Tuesday 2030-01-08 10:00 Berlin: a day after NOW, so the whole 24 h window fits before it. */
const TUESDAY_SLOT = '2030-01-08T09:00:00.000Z';
const REAUTH_SUBJECT = '⚠️ Action Required: Re-authorize Your Zoom Account - Intro call';
const HELD_SUBJECT = "We're holding Intro call with Anna Berg for you";
const EXPIRED_SUBJECT = 'Your request for Intro call with Anna Berg could not be confirmed';
const CONFIRMED_SUBJECT = 'Confirmed: Intro call with Anna Berg';

const linksIn = (mail: ParsedMail): string[] => [...String(mail.html).matchAll(/href="([^"]+)"/g)].map((m) => m[1]!.replace(/&amp;/g, '&'));

describe.each(DATABASE_KINDS)('held requests on %s', (kind) => {
  const database = useTestDatabase(kind);
  let server: TestServer;
  const smtp = useTestSmtp();
  let time: ReturnType<typeof createTestClock>;
  let specialistId: string;
  let serviceIds: string[];
  let zoomUserId: string;
  let worker: JobWorker;
  let sender: MailSender;
  const db = () => database().handle.db;
  const logger = createLogger('silent');

  const book = (start: string, name = 'Carla Customer', email = 'carla@example.test') =>
    fetch(`${server.url}/api/v1/specialists/anna/bookings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(bookingBody(serviceIds[0]!, start, { name, email })),
    });
  /** Books against the dead token: 409 requires_reauth with a hold; returns the hold. */
  async function hold(start: string, name?: string, email?: string): Promise<{ id: string; expiresAt: string }> {
    const res = await book(start, name, email);
    const body = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(409);
    expect(body).toMatchObject({ success: false, code: 'requires_reauth', requiresReAuth: true, specialistNotified: true });
    return body.hold;
  }
  const bookingRow = (id: string) => db().selectFrom('bookings').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const claimsOf = async (id: string) => (await db().selectFrom('booking_slot_claims').select('block_start').where('booking_id', '=', id).execute()).length;
  const offered = async (start: string) => {
    const body = await (await fetch(`${server.url}/api/v1/specialists/anna/services/${serviceIds[0]}/slots?from=2030-01-07T00:00:00Z&to=2030-01-10T00:00:00Z`)).json();
    return (body.slots as { start: string }[]).some((slot) => Date.parse(slot.start) === Date.parse(start));
  };
  const mailTo = (address: string, subject: string) => smtp().messages.filter((m) => m.subject === subject && m.to && JSON.stringify(m.to).includes(address));
  const drain = (by = worker) => drainJobs(by);
  /** Follows the re-auth email's one-click link and clicks Allow, as the specialist does. */
  async function reauthorizeFromEmail(): Promise<void> {
    const mail = smtp().messages.filter((m) => m.subject?.startsWith('⚠️ Action Required: Re-authorize Your Zoom Account')).at(-1)!;
    const toZoom = await fetch(linksIn(mail)[0]!, { redirect: 'manual' });
    expect(toZoom.status).toBe(302);
    const done = await fetch(await allowOnConsentPage(toZoom.headers.get('location')!, zoomUserId), { redirect: 'manual' });
    expect(done.status).toBe(200);
  }
  const newWorker = (onServer = server) =>
    createJobWorker({
      db: db(),
      databaseKind: kind,
      clock: time.clock,
      logger,
      handlers: [
        createEmailJobHandler({ db: db(), clock: time.clock, cipher: onServer.cipher, logger, sender, from: 'specialist-booking <no-reply@booking.test>' }),
        createHeldRequestJobHandler(onServer.services.bookings),
        createMeetingCleanupJobHandler(onServer.services.bookings.meetings),
      ],
    });

  beforeEach(async () => {
    await clearMailState(db());
    smtp().messages.length = 0;
    ({ specialistId, serviceIds } = await seedSpecialist(db()));
    time = createTestClock(NOW);
    sender = createMailSender({ mode: 'smtp', url: smtp().url, isInsecureAllowed: false });
  });
  afterEach(async () => {
    sender?.close?.();
    await server?.close();
  });

  describe('in one process', () => {
    beforeEach(async () => {
      server = await startTestServer({ db: db(), clock: time.clock, notifyReauthRequired: 'email', zoomThroughProxy: true });
      worker = newWorker();
      zoomUserId = await connectZoom(server, specialistId);
      server.emulator.controls.revokeAllTokens(zoomUserId);
    });

    it('holds the slot, emails the customer at once, and leads the re-auth email with the deadline', async () => {
      const held = await hold(TUESDAY_SLOT);
      expect(held.expiresAt).toBe(new Date(NOW.getTime() + 24 * HOUR).toISOString());
      expect(await bookingRow(held.id)).toMatchObject({ status: 'held', hold_expires_at: held.expiresAt, zoom_meeting_id: null, meeting_lock_token: null });
      expect(await claimsOf(held.id)).toBe(6);
      expect(await offered(TUESDAY_SLOT)).toBe(false);

      await drain();
      const [customerMail] = mailTo('carla@example.test', HELD_SUBJECT);
      expect(customerMail!.text).toContain(
        "We're holding Tuesday 8 January at 10:00 for you until Tuesday 8 January at 07:00 (Europe/Berlin). You'll get an email as soon as it's confirmed; there is nothing else to do.",
      );
      expect(customerMail!.replyTo).toMatchObject({ value: [{ address: 'anna@example.test' }] });
      // The withdraw link is the manage link: it opens, and shows the held request (a GET changes nothing).
      const withdrawLink = linksIn(customerMail!).find((href) => href.includes('/manage?token='))!;
      expect(withdrawLink).toBe(`${server.url}/bookings/${held.id}/manage?token=${server.services.manageTokens.issue(held.id)}`);
      const apiView = await fetch(`${server.url}/api/v1/bookings/${held.id}?token=${server.services.manageTokens.issue(held.id)}`);
      expect(apiView.status).toBe(200);
      expect((await apiView.json()).booking).toMatchObject({ status: 'held', hold: { expiresAt: held.expiresAt }, canWithdraw: true, canCancel: false, zoomJoinUrl: null });
      expect((await bookingRow(held.id)).status).toBe('held');

      const [reauth] = mailTo('anna@example.test', REAUTH_SUBJECT);
      expect(reauth!.text).toMatch(/^Hi Anna Berg,\n\nRe-authorize by 07:00 tomorrow to confirm 1 waiting customer\.\n/);
      expect(reauth!.text).toContain("the booking could not be confirmed yet: your Zoom connection needs to be re-authorized. We're holding the time for them until Tuesday 8 January at 07:00.");
      expect(reauth!.html).toContain('Re-authorize by 07:00 tomorrow to confirm 1 waiting customer.');
    });

    it('a re-authorization from the email confirms it: one meeting, both invitations with the .ics, exactly once', async () => {
      const held = await hold(TUESDAY_SLOT);
      await drain();
      await reauthorizeFromEmail();
      const job = await db().selectFrom('jobs').selectAll().where('dedupe_key', '=', `${HELD_REQUEST_JOB}:${held.id}`).executeTakeFirstOrThrow();
      expect(job).toMatchObject({ status: 'pending', run_after: NOW.toISOString() });

      await drain();
      const meetings = server.emulator.controls.meetings(zoomUserId);
      expect(meetings).toHaveLength(1);
      expect(meetings[0]!.agenda).toContain(bookingMarker(held.id));
      expect(await bookingRow(held.id)).toMatchObject({ status: 'confirmed', zoom_meeting_id: String(meetings[0]!.id), zoom_join_url: meetings[0]!.join_url });
      expect(await claimsOf(held.id)).toBe(6);
      const [confirmation] = mailTo('carla@example.test', CONFIRMED_SUBJECT);
      expect(confirmation!.text).toContain(meetings[0]!.join_url);
      expect(confirmation!.attachments.map((a) => a.contentType)).toContain('text/calendar');
      expect(mailTo('anna@example.test', 'New booking: Intro call with Carla Customer')).toHaveLength(1);

      // Nothing runs twice: a second re-authorization and more work find nothing to do.
      await connectZoom(server, specialistId, server.emulator.controls.users().find((u) => u.id === zoomUserId));
      time.advance(2 * HOUR);
      await drain();
      expect(server.emulator.controls.meetings(zoomUserId)).toHaveLength(1);
      expect(mailTo('carla@example.test', CONFIRMED_SUBJECT)).toHaveLength(1);
      const apiView = await (await fetch(`${server.url}/api/v1/bookings/${held.id}?token=${server.services.manageTokens.issue(held.id)}`)).json();
      expect(apiView.booking).toMatchObject({ status: 'confirmed', hold: null, canWithdraw: false, canCancel: true });
    });

    it('confirms several held requests in start order, whatever order they were made in', async () => {
      const later = await hold('2030-01-08T13:00:00.000Z', 'Late Lou', 'lou@example.test');
      const soonest = await hold('2030-01-08T09:00:00.000Z', 'Early Eve', 'eve@example.test');
      const middle = await hold('2030-01-08T10:00:00.000Z', 'Mid Max', 'max@example.test');
      await drain();
      await reauthorizeFromEmail();
      await drain();
      const meetings = server.emulator.controls.meetings(zoomUserId);
      // The emulator lists meetings in the order it made them: the order of confirmation.
      const order = meetings.map((m) => [soonest, middle, later].find((h) => m.agenda?.includes(bookingMarker(h.id)))!.id);
      expect(order).toEqual([soonest.id, middle.id, later.id]);
      for (const { id } of [soonest, middle, later]) expect((await bookingRow(id)).status).toBe('confirmed');
    });

    it('a hold that expires under a moved clock: released, the customer told with a link that works, never confirmed; the next notice names it', async () => {
      const held = await hold(FREE_SLOT);
      // The 24 h window is cut to end at the start minus the hour of minimum notice.
      expect(held.expiresAt).toBe('2030-01-07T08:00:00.000Z');
      await drain();
      time.advance(2 * HOUR - 1);
      await drain();
      expect((await bookingRow(held.id)).status).toBe('held');

      time.advance(1);
      await drain();
      expect(await bookingRow(held.id)).toMatchObject({ status: 'expired' });
      expect(await claimsOf(held.id)).toBe(0);
      const [expired] = mailTo('carla@example.test', EXPIRED_SUBJECT);
      expect(expired!.text).toContain('That time is released, and nothing was charged.');
      const pickAnother = linksIn(expired!).find((href) => href.endsWith('/book/anna'))!;
      expect(pickAnother).toBe(`${server.url}/book/anna`);
      expect((await fetch(pickAnother)).status).toBe(200);
      // The specialist's dashboard lists it among the past bookings.
      const past = await server.services.lifecycle.listForSpecialist(specialistId, { when: 'past' });
      expect(past.map((b) => [b.id, b.status])).toEqual([[held.id, 'expired']]);
      const dashboard = await (await fetch(`${server.url}/dashboard`, { headers: { cookie: await signInCookie(server, specialistId) } })).text();
      expect(dashboard).toContain('Expired unconfirmed');

      // The specialist's next notice (a booking attempt an hour later) names the expired request.
      const next = await hold('2030-01-08T12:00:00.000Z', 'Next Nora', 'nora@example.test');
      await drain();
      const notices = mailTo('anna@example.test', REAUTH_SUBJECT);
      expect(notices).toHaveLength(2);
      expect(notices[1]!.text).toContain(
        '1 request expired since our last email, before Zoom was reconnected: Carla Customer (Intro call, Monday 7 January at 10:00). Those customers were told and invited to pick another time.',
      );
      expect(notices[1]!.text).toMatch(/^Hi Anna Berg,\n\nRe-authorize by 09:00 tomorrow to confirm 1 waiting customer\./);

      // Re-authorizing now confirms the waiting one only; the expired one is never confirmed.
      await reauthorizeFromEmail();
      await drain();
      expect((await bookingRow(held.id)).status).toBe('expired');
      expect((await bookingRow(next.id)).status).toBe('confirmed');
      expect(server.emulator.controls.meetings(zoomUserId).map((m) => m.agenda?.includes(bookingMarker(held.id)))).toEqual([false]);
    });

    it('Zoom failing while confirming keeps the request held, retried with backoff until Zoom answers', async () => {
      const held = await hold(TUESDAY_SLOT);
      await drain();
      await reauthorizeFromEmail();
      // Every answer of the first attempt is a 503 (the client's own retries included).
      for (let i = 0; i < 10; i++) server.zoomProxy!.faults.push({ kind: 'respond', status: 503, body: '{"code":503,"message":"down"}' });
      await drain();
      expect((await bookingRow(held.id)).status).toBe('held');
      const job = await db().selectFrom('jobs').selectAll().where('dedupe_key', '=', `${HELD_REQUEST_JOB}:${held.id}`).executeTakeFirstOrThrow();
      expect(job.status).toBe('pending');
      expect(job.last_error).toMatch(/^Zoom is unavailable/);
      const waitMs = Date.parse(job.run_after) - time.clock().getTime();
      expect(waitMs).toBeGreaterThanOrEqual(22_500);
      expect(waitMs).toBeLessThanOrEqual(37_500);
      server.zoomProxy!.faults.length = 0;
      time.advance(waitMs);
      await drain();
      expect((await bookingRow(held.id)).status).toBe('confirmed');
      expect(server.emulator.controls.meetings(zoomUserId)).toHaveLength(1);
    });

    it('a retry never waits past the hold: Zoom down until the end expires the request', async () => {
      const held = await hold(FREE_SLOT); // held until 08:00Z, two hours
      await drain();
      await reauthorizeFromEmail();
      for (let i = 0; i < 1_000; i++) server.zoomProxy!.faults.push({ kind: 'respond', status: 503, body: '{"code":503,"message":"down"}' });
      for (let round = 0; round < 40 && (await bookingRow(held.id)).status === 'held'; round++) {
        await drain();
        const job = await db().selectFrom('jobs').select('run_after').where('dedupe_key', '=', `${HELD_REQUEST_JOB}:${held.id}`).executeTakeFirstOrThrow();
        expect(Date.parse(job.run_after)).toBeLessThanOrEqual(Date.parse(held.expiresAt));
        time.advance(Math.max(1, Date.parse(job.run_after) - time.clock().getTime()));
      }
      expect((await bookingRow(held.id)).status).toBe('expired');
      expect(mailTo('carla@example.test', EXPIRED_SUBJECT)).toHaveLength(1);
    });

    it('a token that dies again while confirming: still held, waiting for the next re-authorization, then confirmed', async () => {
      const held = await hold(TUESDAY_SLOT);
      await drain();
      await reauthorizeFromEmail();
      server.emulator.controls.revokeAllTokens(zoomUserId);
      await drain();
      expect((await bookingRow(held.id)).status).toBe('held');
      const job = await db().selectFrom('jobs').selectAll().where('dedupe_key', '=', `${HELD_REQUEST_JOB}:${held.id}`).executeTakeFirstOrThrow();
      expect(job).toMatchObject({ status: 'pending', run_after: held.expiresAt, last_error: 'waiting for the specialist to re-authorize Zoom' });

      await connectZoom(server, specialistId, server.emulator.controls.users().find((u) => u.id === zoomUserId));
      await drain();
      expect((await bookingRow(held.id)).status).toBe('confirmed');
      expect(server.emulator.controls.meetings(zoomUserId)).toHaveLength(1);
    });

    it('a re-authorization that arrives while provisioning is under way: each request confirmed once', async () => {
      const first = await hold('2030-01-08T09:00:00.000Z', 'Early Eve', 'eve@example.test');
      const second = await hold('2030-01-08T10:00:00.000Z', 'Mid Max', 'max@example.test');
      await drain();
      await reauthorizeFromEmail();
      // The first request's first call to Zoom hangs until the test lets it go.
      let release!: () => void;
      server.zoomProxy!.faults.push({ kind: 'hold', release: new Promise<void>((resolve) => (release = resolve)) });
      const requestsBefore = server.zoomProxy!.requests.length;
      const running = drain();
      await expect.poll(() => server.zoomProxy!.requests.length, { timeout: 5_000 }).toBeGreaterThan(requestsBefore);
      // The specialist re-authorizes again meanwhile (a second click): the jobs are made due again.
      await connectZoom(server, specialistId, server.emulator.controls.users().find((u) => u.id === zoomUserId));
      release();
      await running;
      await drain();
      for (const { id } of [first, second]) expect((await bookingRow(id)).status).toBe('confirmed');
      const meetings = server.emulator.controls.meetings(zoomUserId);
      expect(meetings.map((m) => [first, second].findIndex((h) => m.agenda?.includes(bookingMarker(h.id)))).sort()).toEqual([0, 1]);
      expect(mailTo('eve@example.test', CONFIRMED_SUBJECT)).toHaveLength(1);
      expect(mailTo('max@example.test', CONFIRMED_SUBJECT)).toHaveLength(1);
    });

    it('an attempt that lost its job lease while Zoom made its meeting: the new holder confirms once, the stray meeting is deleted', async () => {
      const held = await hold(TUESDAY_SLOT);
      await drain();
      await reauthorizeFromEmail();
      // The first worker's meeting list goes through; its create hangs until the test lets it go.
      let release!: () => void;
      server.zoomProxy!.faults.push({ kind: 'delay', ms: 0 }, { kind: 'hold', release: new Promise<void>((resolve) => (release = resolve)) });
      const requestsBefore = server.zoomProxy!.requests.length;
      const first = drain();
      await expect.poll(() => server.zoomProxy!.requests.filter((r, i) => i >= requestsBefore && r.method === 'POST').length, { timeout: 5_000 }).toBe(1);
      // Its lease runs out meanwhile, and another worker takes the job and confirms with a meeting of its own.
      await db().updateTable('jobs').set({ lease_token: 'lost', lease_until: NOW.toISOString() }).where('dedupe_key', '=', `${HELD_REQUEST_JOB}:${held.id}`).execute();
      time.advance(1);
      const other = newWorker();
      await drain(other);
      const confirmed = await bookingRow(held.id);
      expect(confirmed.status).toBe('confirmed');
      release();
      await first; // its meeting was made, then deleted by the clean-up it queued (which that worker ran next)
      const cleanups = await db().selectFrom('jobs').select(['status', 'payload']).where('kind', '=', 'zoom.delete-booking-meetings').execute();
      expect(cleanups).toEqual([{ status: 'done', payload: JSON.stringify({ specialistId, bookingId: held.id, keepMeetingId: confirmed.zoom_meeting_id }) }]);
      expect(server.emulator.controls.meetings(zoomUserId).map((m) => String(m.id))).toEqual([confirmed.zoom_meeting_id]);
      expect(mailTo('carla@example.test', CONFIRMED_SUBJECT)).toHaveLength(1);
    });

    it('withdrawing releases the slot at once and the request is never confirmed; a forged token is refused', async () => {
      const held = await hold(TUESDAY_SLOT);
      const lifecycle = server.services.lifecycle;
      await expect(lifecycle.withdraw(held.id, { kind: 'customer', token: 'forged-token-forged-token-forged-token-xxxxx' })).rejects.toMatchObject({ code: 'invalid_manage_token' });
      expect((await bookingRow(held.id)).status).toBe('held');

      const withdrawn = await lifecycle.withdraw(held.id, { kind: 'customer', token: server.services.manageTokens.issue(held.id) });
      expect(withdrawn).toMatchObject({ status: 'withdrawn', hold: null, canWithdraw: false });
      expect(await claimsOf(held.id)).toBe(0);
      expect(await offered(TUESDAY_SLOT)).toBe(true);
      // A repeat answers the same; the re-authorization later confirms nothing.
      expect(await lifecycle.withdraw(held.id, { kind: 'customer', token: server.services.manageTokens.issue(held.id) })).toMatchObject({ status: 'withdrawn' });
      await drain();
      await reauthorizeFromEmail();
      await drain();
      expect((await bookingRow(held.id)).status).toBe('withdrawn');
      expect(server.emulator.controls.meetings(zoomUserId)).toHaveLength(0);
    });

    it('a new hold due sooner than the deadline last emailed is emailed at once; one due later waits for the hourly throttle', async () => {
      await hold(TUESDAY_SLOT, 'Tue Tom', 'tom@example.test'); // held until Tuesday 07:00 Berlin
      await drain();
      expect(mailTo('anna@example.test', REAUTH_SUBJECT)).toHaveLength(1);
      time.advance(10 * MINUTE);
      await hold('2030-01-08T13:00:00.000Z', 'Later Lea', 'lea@example.test'); // the same deadline: no news
      await drain();
      expect(mailTo('anna@example.test', REAUTH_SUBJECT)).toHaveLength(1);
      time.advance(10 * MINUTE);
      await hold(FREE_SLOT, 'Soon Sam', 'sam@example.test'); // today 09:00 Berlin: sooner
      await drain();
      const notices = mailTo('anna@example.test', REAUTH_SUBJECT);
      expect(notices).toHaveLength(2);
      expect(notices[1]!.text).toMatch(/^Hi Anna Berg,\n\nRe-authorize by 09:00 to confirm 3 waiting customers\./);
      expect(notices[1]!.text).toContain('2 customers have tried to book since our last email about this.');
    });

    it('a new hold after the deadline last emailed has passed is emailed at once, inside the hourly throttle', async () => {
      time.advance(80 * MINUTE); // 07:20Z: the 09:00Z slot is held for 40 minutes, until 08:00Z
      const short = await hold(FREE_SLOT, 'Short Sue', 'sue@example.test');
      expect(short.expiresAt).toBe('2030-01-07T08:00:00.000Z');
      await drain();
      expect(mailTo('anna@example.test', REAUTH_SUBJECT)).toHaveLength(1);
      time.advance(45 * MINUTE); // 08:05Z: Sue's request expired; the last email is 45 minutes old
      await drain();
      await hold(TUESDAY_SLOT, 'Next Ned', 'ned@example.test');
      await drain();
      const notices = mailTo('anna@example.test', REAUTH_SUBJECT);
      expect(notices).toHaveLength(2);
      expect(notices[1]!.text).toMatch(/^Hi Anna Berg,\n\nRe-authorize by 09:00 tomorrow to confirm 1 waiting customer\./);
      expect(notices[1]!.text).toContain('1 request expired since our last email, before Zoom was reconnected: Short Sue (Intro call, Monday 7 January at 10:00).');
    });

    it('Zoom’s own Retry-After sets when a held request is tried again', async () => {
      const held = await hold(TUESDAY_SLOT);
      await drain();
      await reauthorizeFromEmail();
      const limited = { kind: 'respond' as const, status: 429, headers: { 'retry-after': '120', 'content-type': 'application/json' }, body: '{"code":429,"message":"Too many requests"}' };
      for (let i = 0; i < 20; i++) server.zoomProxy!.faults.push(limited);
      await drain();
      const job = await db().selectFrom('jobs').selectAll().where('dedupe_key', '=', `${HELD_REQUEST_JOB}:${held.id}`).executeTakeFirstOrThrow();
      expect(job).toMatchObject({ status: 'pending', run_after: new Date(time.clock().getTime() + 120_000).toISOString() });
      expect(job.last_error).toMatch(/^Zoom is unavailable/);
      expect((await bookingRow(held.id)).status).toBe('held');
    });

    it('a repeat of the held request with the same key answers the same hold, and makes nothing new', async () => {
      const send = () =>
        fetch(`${server.url}/api/v1/specialists/anna/bookings`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': 'same-key-1' },
          body: JSON.stringify(bookingBody(serviceIds[0]!, TUESDAY_SLOT)),
        });
      const first = await (await send()).json();
      const again = await send();
      expect(again.status).toBe(409);
      expect((await again.json()).hold).toEqual(first.hold);
      expect(await db().selectFrom('bookings').select('id').execute()).toHaveLength(1);
    });

    it('a hold that would be under 30 minutes is not made: the slot is released as before', async () => {
      time.advance(2 * HOUR - 29 * MINUTE); // 07:31Z: the 09:00 slot's hold would end at 08:00
      const res = await book(FREE_SLOT);
      const body = await res.json();
      expect(res.status).toBe(409);
      expect(body.code).toBe('requires_reauth');
      expect(body.hold).toBeUndefined();
      expect(await db().selectFrom('bookings').select('id').execute()).toHaveLength(0);
    });
  });

  it('two processes provisioning the same held requests after a re-authorization: each is confirmed once', async () => {
    // Real time: the second process runs on the system clock.
    const everyDay = [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '00:00', end: '24:00' }));
    await db().deleteFrom('specialists').execute();
    ({ specialistId, serviceIds } = await seedSpecialist(db(), { weeklyHours: everyDay, minNoticeMinutes: 0, timeZone: 'UTC' }));
    server = await startTestServer({ db: db(), clock: systemClock });
    time = { clock: systemClock, advance: () => {} } as unknown as ReturnType<typeof createTestClock>;
    worker = newWorker();
    let child: ChildServer | undefined;
    try {
      zoomUserId = await connectZoom(server, specialistId);
      server.emulator.controls.revokeAllTokens(zoomUserId);
      const slots = (await (await fetch(`${server.url}/api/v1/specialists/anna/services/${serviceIds[0]}/slots`)).json()).slots as { start: string }[];
      const held: string[] = [];
      for (const [i, slot] of slots.slice(4, 12).entries()) held.push((await hold(slot.start, `Customer ${i}`, `c${i}@example.test`)).id);
      child = await startChildServer(childEnv(database().url, server));
      await connectZoom(server, specialistId, server.emulator.controls.users().find((u) => u.id === zoomUserId));
      // This process's worker and the child's race for the same jobs.
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        await drain();
        const statuses = await db().selectFrom('bookings').select('status').where('id', 'in', held).execute();
        if (statuses.every((s) => s.status === 'confirmed')) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const rows = await db().selectFrom('bookings').select(['id', 'status', 'zoom_meeting_id']).where('id', 'in', held).execute();
      expect(rows.map((r) => r.status)).toEqual(held.map(() => 'confirmed'));
      const meetings = server.emulator.controls.meetings(zoomUserId);
      expect(meetings).toHaveLength(held.length);
      for (const row of rows) expect(meetings.filter((m) => m.agenda?.includes(bookingMarker(row.id))).map((m) => String(m.id))).toEqual([row.zoom_meeting_id]);
      const invites = await db().selectFrom('email_outbox').select('kind').where('kind', 'in', ['booking_confirmed_customer', 'booking_confirmed_specialist']).execute();
      expect(invites).toHaveLength(2 * held.length);
      const jobs = await db().selectFrom('jobs').select('status').where('kind', '=', HELD_REQUEST_JOB).execute();
      expect(jobs.map((j) => j.status)).toEqual(held.map(() => 'done'));
    } finally {
      await child?.stop();
    }
  }, 60_000);
});

describe('the expired requests line of the re-auth email', () => {
  it('names the first ones and counts the rest', () => {
    const expired = Array.from({ length: 2 }, (_, i) => ({ customerName: `C${i}`, serviceTitle: 'Intro call', start: new Date(FREE_SLOT) }));
    expect(expiredRequestsLine({ waiting: 0, earliestDeadline: undefined, expired, expiredCount: 5 }, 'Europe/Berlin')).toBe(
      '5 requests expired since our last email, before Zoom was reconnected: C0 (Intro call, Monday 7 January at 10:00); C1 (Intro call, Monday 7 January at 10:00); and 3 more. Those customers were told and invited to pick another time.',
    );
  });
});
