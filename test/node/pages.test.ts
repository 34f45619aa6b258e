import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from './helpers/child-server.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase, useTestDatabase } from './helpers/databases.js';
import { createEmailJobHandler, enqueueEmail } from '../../server/email/outbox.js';
import { createMailSender } from '../../server/email/transport.js';
import { createJobWorker } from '../../server/jobs/index.js';
import { createLogger } from '../../server/logger.js';
import { bookingBody, createTestClock, FREE_SLOT, NOW, seedSpecialist } from './helpers/fixtures.js';
import { connectZoom, signInCookie, startTestServer, type TestServer } from './helpers/server.js';
import { startTestSmtp } from './helpers/smtp.js';

describe('hosted pages for specialists', () => {
  let database: TestDatabase;
  let server: TestServer;
  let specialistId: string;
  let serviceIds: string[];
  let time: ReturnType<typeof createTestClock>;
  const db = () => database.handle.db;

  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
  });
  afterAll(async () => {
    await server?.close();
    await database?.destroy();
  });
  beforeEach(async () => {
    await db().deleteFrom('rate_limits').execute();
    await db().deleteFrom('jobs').execute();
    await db().deleteFrom('email_outbox').execute();
    await db().deleteFrom('specialists').execute();
    ({ specialistId, serviceIds } = await seedSpecialist(db()));
    time = createTestClock(NOW);
    await server?.close();
    server = await startTestServer({ db: db(), clock: time.clock, notifyReauthRequired: 'email' });
  });

  const page = async (path: string, cookie: string) => {
    const res = await fetch(`${server.url}${path}`, { headers: { cookie }, redirect: 'manual' });
    return { res, text: await res.text() };
  };
  const csrfOf = (text: string) => /name="_csrf" value="([^"]+)"/.exec(text)![1]!;
  const postForm = (path: string, cookie: string, form: Record<string, string>) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form),
      redirect: 'manual',
    });

  describe('sign-in', () => {
    async function signInForm() {
      const res = await fetch(`${server.url}/sign-in?next=%2Fsettings`);
      const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
      return { cookie, csrf: csrfOf(await res.text()) };
    }

    it('emails a single-use link to a known address and answers unknown ones the same way', async () => {
      const { cookie, csrf } = await signInForm();
      const known = await postForm('/sign-in', cookie, { _csrf: csrf, email: 'Anna@Example.test', next: '/settings' });
      const unknown = await postForm('/sign-in', cookie, { _csrf: csrf, email: 'nobody@example.test', next: '/settings' });
      expect(known.status).toBe(200);
      expect(unknown.status).toBe(200);
      const knownText = await known.text();
      expect(knownText.replace('Anna@Example.test', 'X')).toBe((await unknown.text()).replace('nobody@example.test', 'X'));
      const rows = await db().selectFrom('email_outbox').selectAll().execute();
      expect(rows.map((r) => [r.kind, r.to_address, r.subject])).toEqual([['sign_in', 'anna@example.test', 'Your sign-in link for specialist-booking']]);
      const content = JSON.parse(server.cipher.decrypt(rows[0]!.content_enc, `outbox:${rows[0]!.id}`));
      const link = /Sign in: (\S+)/.exec(content.text)![1]!;
      const landed = await fetch(link, { headers: { cookie }, redirect: 'manual' });
      expect(landed.status).toBe(200);
      const question = await landed.text();
      expect(question).toContain('<h1>Sign in as a…@example.test?</h1>');
      const signedIn = await postForm('/auth/link', cookie, { _csrf: csrfOf(question), token: new URL(link).searchParams.get('token')! });
      expect(signedIn.status).toBe(303);
      expect(signedIn.headers.get('location')).toBe('/settings');
      const session = signedIn.headers.get('set-cookie')!.split(';')[0]!;
      expect((await page('/settings', session)).res.status).toBe(200);
      expect((await fetch(link, { redirect: 'manual' })).headers.get('location')).toBe('/sign-in?reason=used&next=%2Fsettings%23zoom');
    });

    it('refuses a sign-in form without its CSRF token, and an invalid email', async () => {
      const { cookie, csrf } = await signInForm();
      expect((await postForm('/sign-in', cookie, { _csrf: 'forged', email: 'anna@example.test' })).status).toBe(403);
      expect((await postForm('/sign-in', '', { _csrf: csrf, email: 'anna@example.test' })).status).toBe(403);
      const bad = await postForm('/sign-in', cookie, { _csrf: csrf, email: 'not an email' });
      expect(bad.status).toBe(400);
      expect(await bad.text()).toContain('Enter the email address you use for your account');
      expect(await db().selectFrom('email_outbox').selectAll().execute()).toEqual([]);
    });

    it('limits sign-in requests per email address', async () => {
      const { cookie, csrf } = await signInForm();
      const statuses = [];
      for (let i = 0; i < 6; i++) statuses.push((await postForm('/sign-in', cookie, { _csrf: csrf, email: 'anna@example.test' })).status);
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
      const refused = await postForm('/sign-in', cookie, { _csrf: csrf, email: 'anna@example.test' });
      expect(refused.headers.get('retry-after')).toBe('900');
      expect(await refused.text()).toContain('Too many sign-in requests. Please wait 15 minutes and try again.');
      expect((await db().selectFrom('email_outbox').selectAll().execute()).length).toBe(5);
      time.advance(16 * 60_000);
      expect((await postForm('/sign-in', cookie, { _csrf: csrf, email: 'anna@example.test' })).status).toBe(200);
    });

    it('signs out, and the old cookie no longer works', async () => {
      const cookie = await signInCookie(server, specialistId);
      const { text } = await page('/dashboard', cookie);
      const res = await postForm('/sign-out', cookie, { _csrf: csrfOf(text) });
      expect(res.headers.get('location')).toBe('/sign-in?reason=signed_out');
      expect((await page('/dashboard', cookie)).res.headers.get('location')).toBe('/sign-in?next=%2Fdashboard');
    });
  });

  describe('dashboard', () => {
    it('lists upcoming bookings, escaped, and shows a healthy Zoom card', async () => {
      await connectZoom(server, specialistId);
      const booked = await fetch(`${server.url}/api/v1/specialists/anna/bookings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(bookingBody(serviceIds[0]!, FREE_SLOT, { name: '<b>Bold</b> Customer' })),
      });
      expect(booked.status).toBe(201);
      const { text } = await page('/dashboard', await signInCookie(server, specialistId));
      expect(text).toContain('Hello, Anna Berg');
      expect(text).toContain('&lt;b&gt;Bold&lt;/b&gt; Customer');
      expect(text).not.toContain('<b>Bold</b>');
      expect(text).toContain('Monday, 7 January 2030 at 10:00 (Europe/Berlin)');
      expect(text).toContain('<span class="badge ok">Healthy</span>');
      expect(text).not.toContain('Emails that could not be sent');
    });

    it('lists the specialist’s own emails that could not be sent, escaped, with when and why, and nobody else’s', async () => {
      const zoomUser = await connectZoom(server, specialistId);
      server.emulator.controls.revokeAllTokens(zoomUser);
      // The re-auth email and the customer's "we're holding" email (issue #17), queued by a booking that needs re-authorizing.
      expect((await fetch(`${server.url}/api/v1/specialists/anna/bookings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(bookingBody(serviceIds[0]!)) })).status).toBe(409);
      const outbox = { clock: time.clock, cipher: server.cipher, messageIdDomain: 'booking.test' };
      const other = await seedSpecialist(db(), { slug: 'bob', name: 'Bob Other', email: 'bob@example.test' });
      const email = (subject: string, specialist: string | undefined) => enqueueEmail(db(), outbox, { kind: 'test', to: 'x@example.test', subject, text: 'x', html: 'x', specialistId: specialist });
      await email('<img src=x onerror=alert(1)> Anna’s note', specialistId);
      await email('For Bob only', other.specialistId);
      await email('System notice', undefined);

      // The mail server refuses every recipient for good: each email fails at its first attempt.
      const refusing = await startTestSmtp(0, { refuseRecipients: { code: 550, message: 'No such user here' } });
      const sender = createMailSender({ mode: 'smtp', url: refusing.url, isInsecureAllowed: false });
      try {
        const logger = createLogger('silent');
        const worker = createJobWorker({ db: db(), databaseKind: 'sqlite', clock: time.clock, logger, handlers: [createEmailJobHandler({ db: db(), clock: time.clock, cipher: server.cipher, logger, sender, from: 'b@booking.test' })] });
        expect(await worker.runDue()).toBe(0);
      } finally {
        sender.close?.();
        await refusing.close();
      }
      expect((await db().selectFrom('email_outbox').select('status').execute()).map((row) => row.status)).toEqual(['failed', 'failed', 'failed', 'failed', 'failed']);

      const { text } = await page('/dashboard', await signInCookie(server, specialistId));
      const card = text.slice(text.indexOf('<section class="card" id="failed-emails"'));
      expect(card).toContain('Emails that could not be sent');
      const rows = [...card.matchAll(/<tr><td>(.*?)<\/td><td>(.*?)<\/td><td>(.*?)<\/td><td>(.*?)<\/td><\/tr>/g)].map((m) => m.slice(1));
      const reason = '550: Can&#39;t send mail - all recipients were rejected: 550 No such user here';
      const when = 'Monday, 7 January 2030 at 07:00 (Europe/Berlin)';
      expect(rows.sort((a, b) => a[1]!.localeCompare(b[1]!))).toEqual([
        ['x@example.test', '&lt;img src=x onerror=alert(1)&gt; Anna’s note', when, reason],
        ['anna@example.test', '⚠️ Action Required: Re-authorize Your Zoom Account - Intro call', when, reason],
        ['carla@example.test', 'We&#39;re holding Intro call with Anna Berg for you', when, reason],
      ]);
      expect(text).not.toContain('<img src=x');
      expect(text).not.toContain('For Bob only');
      expect(text).not.toContain('System notice');
    });

    it('shows "needs re-authorization" with since when, why, how many attempts failed, and the one-click button', async () => {
      const zoomUser = await connectZoom(server, specialistId);
      server.emulator.controls.revokeAllTokens(zoomUser);
      for (const start of [FREE_SLOT, '2030-01-07T10:00:00Z']) {
        await fetch(`${server.url}/api/v1/specialists/anna/bookings`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(bookingBody(serviceIds[0]!, start)),
        });
      }
      const { text } = await page('/dashboard', await signInCookie(server, specialistId));
      expect(text).toContain('<span class="badge bad">Needs re-authorization</span>');
      expect(text).toContain('Since Monday, 7 January 2030 at 07:00 (Europe/Berlin): Zoom no longer accepts this app’s authorization (it expired or was revoked).');
      expect(text).toContain('<strong>2 booking attempts failed</strong>');
      expect(text).toMatch(/<form class="inline" method="post" action="\/settings\/zoom\/connect">\s*<input type="hidden" name="_csrf" value="[^"]+">\s*<button class="button" type="submit">Re-authorize Zoom<\/button>/);
    });

    const book = async (slug: string, serviceId: string, start: string, customer: Record<string, unknown> = {}) => {
      const res = await fetch(`${server.url}/api/v1/specialists/${slug}/bookings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(bookingBody(serviceId, start, customer)),
      });
      expect(res.status).toBe(201);
      return ((await res.json()) as { booking: { id: string } }).booking.id;
    };
    const bookingState = (id: string) =>
      db().selectFrom('bookings').select(['status', 'cancelled_by', 'cancel_reason', 'reschedule_offered_at']).where('id', '=', id).executeTakeFirstOrThrow();

    it('lists upcoming and past bookings with their status, only the specialist’s own', async () => {
      await connectZoom(server, specialistId);
      const other = await seedSpecialist(db(), { slug: 'bob', name: 'Bob Other', email: 'bob@example.test' });
      await connectZoom(server, other.specialistId);
      await book('anna', serviceIds[0]!, FREE_SLOT, { name: 'Early <em>Bird</em>' });
      await book('anna', serviceIds[0]!, '2030-01-09T09:00:00.000Z', { name: 'Later Customer', email: 'later@example.test' });
      const cancelled = await book('anna', serviceIds[0]!, '2030-01-10T09:00:00.000Z', { name: 'Gone Customer', email: 'gone@example.test' });
      await book('bob', other.serviceIds[0]!, '2030-01-09T10:00:00.000Z', { name: 'Bob’s Customer' });
      time.advance(4 * 3_600_000); // 11:00 Berlin: the 10:00 session is over.
      const cookie = await signInCookie(server, specialistId);
      await postForm(`/dashboard/bookings/${cancelled}/cancel`, cookie, { _csrf: csrfOf((await page('/dashboard', cookie)).text), message: '' });
      const { text } = await page('/dashboard', cookie);
      const upcoming = text.slice(text.indexOf('id="upcoming"'), text.indexOf('id="past"'));
      const past = text.slice(text.indexOf('id="past"'));
      const rowsOf = (section: string) => [...section.matchAll(/<tr id="booking-[^"]+"><td>(.*?)<\/td><td>.*?<\/td><td>(.*?)<br>.*?<span class="badge [a-z]+">(.*?)<\/span>/gs)].map((m) => m.slice(1));
      expect(rowsOf(upcoming)).toEqual([['Wednesday, 9 January 2030 at 10:00 (Europe/Berlin)', 'Later Customer', 'Confirmed']]);
      expect(rowsOf(past)).toEqual([
        ['Thursday, 10 January 2030 at 10:00 (Europe/Berlin)', 'Gone Customer', 'Cancelled by you'],
        ['Monday, 7 January 2030 at 10:00 (Europe/Berlin)', 'Early &lt;em&gt;Bird&lt;/em&gt;', 'Confirmed'],
      ]);
      expect(upcoming).toContain('/cancel"');
      expect(past).not.toContain('/cancel"');
      expect(text).not.toContain('<em>Bird</em>');
      expect(text).not.toContain('Bob’s Customer');
    });

    it('cancels a booking with a message to the customer, and offers another a reschedule', async () => {
      await connectZoom(server, specialistId);
      const first = await book('anna', serviceIds[0]!, '2030-01-08T09:00:00.000Z');
      const second = await book('anna', serviceIds[0]!, '2030-01-09T09:00:00.000Z', { email: 'dora@example.test' });
      const cookie = await signInCookie(server, specialistId);
      const { text } = await page('/dashboard', cookie);
      expect(text).toContain(`action="/dashboard/bookings/${first}/cancel"`);
      expect(text).not.toContain('pending-zoom-changes');
      expect(text).toContain(`action="/dashboard/bookings/${second}/offer-reschedule"`);
      const csrf = csrfOf(text);

      const cancelled = await postForm(`/dashboard/bookings/${first}/cancel`, cookie, { _csrf: csrf, message: 'I am ill, sorry.' });
      expect(cancelled.status).toBe(303);
      expect(cancelled.headers.get('location')).toBe('/dashboard?flash=cancelled#upcoming');
      expect(await bookingState(first)).toMatchObject({ status: 'cancelled', cancelled_by: 'specialist', cancel_reason: 'I am ill, sorry.' });

      const offered = await postForm(`/dashboard/bookings/${second}/offer-reschedule`, cookie, { _csrf: csrf, message: '' });
      expect(offered.headers.get('location')).toBe('/dashboard?flash=offered#upcoming');
      expect(await bookingState(second)).toMatchObject({ status: 'confirmed', reschedule_offered_at: NOW.toISOString() });
      const after = await page('/dashboard?flash=offered', cookie);
      // The cancel's meeting deletion is queued; no worker runs in this test.
      expect(after.text).toContain('<p class="hint" id="pending-zoom-changes">1 meeting change waits to be made in Zoom (cancelled or moved bookings).');
      expect(after.text).toContain('Offer sent: the customer got an email with a link to pick a new time.');
      expect(after.text).toContain('<span class="badge none">New time offered</span>');
      expect(after.text).not.toContain(`action="/dashboard/bookings/${second}/offer-reschedule"`);
    });

    it('refuses booking actions without the session’s CSRF token, signed out, or on another specialist’s booking', async () => {
      await connectZoom(server, specialistId);
      const other = await seedSpecialist(db(), { slug: 'bob', name: 'Bob Other', email: 'bob@example.test' });
      await connectZoom(server, other.specialistId);
      const mine = await book('anna', serviceIds[0]!, '2030-01-08T09:00:00.000Z');
      const bobs = await book('bob', other.serviceIds[0]!, '2030-01-08T09:00:00.000Z');
      const cookie = await signInCookie(server, specialistId);
      const csrf = csrfOf((await page('/dashboard', cookie)).text);
      expect((await postForm(`/dashboard/bookings/${mine}/cancel`, cookie, { _csrf: 'forged' })).status).toBe(403);
      expect((await postForm(`/dashboard/bookings/${mine}/cancel`, '', { _csrf: csrf })).headers.get('location')).toBe('/sign-in?next=%2Fdashboard');
      const notMine = await postForm(`/dashboard/bookings/${bobs}/cancel`, cookie, { _csrf: csrf });
      expect(notMine.status).toBe(404);
      expect(await notMine.text()).toContain('<p class="flash error" role="alert">That booking does not exist.</p>');
      const badMessage = await postForm(`/dashboard/bookings/${mine}/cancel`, cookie, { _csrf: csrf, message: 'Sorry\u0000' });
      expect(badMessage.status).toBe(400);
      expect(await badMessage.text()).toMatch(/<p class="flash error" role="alert">A reason [^<]+<\/p>/);
      expect((await postForm(`/dashboard/bookings/${bobs}/offer-reschedule`, cookie, { _csrf: csrf })).status).toBe(404);
      expect(await bookingState(mine)).toMatchObject({ status: 'confirmed', cancelled_by: null, reschedule_offered_at: null });
      expect(await bookingState(bobs)).toMatchObject({ status: 'confirmed', cancelled_by: null, reschedule_offered_at: null });
    });

    it('sends signed-out visitors to sign in, then back', async () => {
      expect((await page('/dashboard', '')).res.headers.get('location')).toBe('/sign-in?next=%2Fdashboard');
      expect((await page('/settings', '')).res.headers.get('location')).toBe('/sign-in?next=%2Fsettings');
    });
  });

  describe('settings', () => {
    let cookie: string;
    let csrf: string;
    beforeEach(async () => {
      cookie = await signInCookie(server, specialistId);
      csrf = csrfOf((await page('/settings', cookie)).text);
    });

    it('shows every section and the exact embed snippet', async () => {
      const { text } = await page('/settings', cookie);
      expect(text).toContain('<h2 id="zoom-status-title">Zoom Integration <span class="badge none">Not connected</span></h2>');
      for (const heading of ['Profile', 'Services', 'Weekly availability', 'Cancellations and reminders', 'Embed on your site']) expect(text).toContain(`>${heading}</h2>`);
      expect(text).toContain(
        `&lt;script type=&quot;module&quot; src=&quot;${server.url}/widget/specialist-booking.js&quot;&gt;&lt;/script&gt;\n` +
          `&lt;link rel=&quot;preload&quot; href=&quot;${server.url}/api/v1/specialists/anna&quot; as=&quot;fetch&quot; crossorigin&gt;\n` +
          `&lt;specialist-booking specialist=&quot;anna&quot; api-base=&quot;${server.url}&quot;&gt;&lt;/specialist-booking&gt;</pre>`,
      );
      expect(text).toContain('value="09:00-12:00, 13:00-17:00"');
      expect(text).toContain('>https://anna-coaching.example</textarea>');
    });

    it('saves the profile, and refuses an unknown time zone with a message', async () => {
      const ok = await postForm('/settings/profile', cookie, { _csrf: csrf, name: 'Anna B.', timeZone: 'America/Chicago' });
      expect(ok.headers.get('location')).toBe('/settings?flash=saved#profile');
      expect(await db().selectFrom('specialists').select(['name', 'time_zone']).where('id', '=', specialistId).executeTakeFirst()).toEqual({ name: 'Anna B.', time_zone: 'America/Chicago' });
      const bad = await postForm('/settings/profile', cookie, { _csrf: csrf, name: 'Anna', timeZone: 'Mars/Base' });
      expect(bad.status).toBe(400);
      expect(await bad.text()).toContain('Use an IANA time zone such as Europe/Berlin');
      expect((await postForm('/settings/profile', cookie, { _csrf: 'nope', name: 'X', timeZone: 'UTC' })).status).toBe(403);
    });

    it('adds, edits and hides services; the public profile follows', async () => {
      expect((await postForm('/settings/services', cookie, { _csrf: csrf, title: 'Follow-up', description: 'Short check-in', durationMinutes: '20', price: '35.50', currency: 'eur' })).status).toBe(303);
      await postForm(`/settings/services/${serviceIds[0]}`, cookie, { _csrf: csrf, title: 'Intro call (free)', description: '', durationMinutes: '15', price: '', currency: 'EUR' });
      await postForm(`/settings/services/${serviceIds[1]}/hide`, cookie, { _csrf: csrf });
      const profile = await (await fetch(`${server.url}/api/v1/specialists/anna`)).json();
      expect(profile.services.map((s: { title: string; durationMinutes: number; price: unknown }) => [s.title, s.durationMinutes, s.price])).toEqual([
        ['Intro call (free)', 15, null],
        ['Follow-up', 20, { amountCents: 3550, currency: 'EUR' }],
      ]);
      // Each service offered has its own snippet, which names it and preloads its times; a hidden one has none.
      const { text } = await page('/settings', cookie);
      const serviceSnippet = (id: string) =>
        `&lt;link rel=&quot;preload&quot; href=&quot;${server.url}/api/v1/specialists/anna/services/${id}/slots&quot; as=&quot;fetch&quot; crossorigin&gt;\n` +
        `&lt;specialist-booking specialist=&quot;anna&quot; api-base=&quot;${server.url}&quot; service=&quot;${id}&quot;&gt;&lt;/specialist-booking&gt;</pre>`;
      expect(text).toContain(`<pre class="snippet" tabindex="0" aria-label="Embed snippet for Intro call (free)">`);
      expect(text).toContain(serviceSnippet(serviceIds[0]!));
      expect(text).not.toContain(serviceSnippet(serviceIds[1]!));
      const bad = await postForm('/settings/services', cookie, { _csrf: csrf, title: '', durationMinutes: '7', price: 'free', currency: 'EUR' });
      expect(bad.status).toBe(400);
      expect(await bad.text()).toContain('Give the service a title. Pick a duration from the list. Enter a price like 90 or 90.50, or leave it empty.');
    });

    it('replaces weekly hours, and explains a wrong line', async () => {
      const days = { day1: '08:00-10:00', day2: '', day3: '', day4: '', day5: '', day6: '10:00-11:00, 12:00-13:30', day7: '' };
      expect((await postForm('/settings/availability', cookie, { _csrf: csrf, ...days })).status).toBe(303);
      const rules = await db().selectFrom('availability_rules').select(['weekday', 'start_minute', 'end_minute']).orderBy('weekday').orderBy('start_minute').execute();
      expect(rules).toEqual([
        { weekday: 1, start_minute: 480, end_minute: 600 },
        { weekday: 6, start_minute: 600, end_minute: 660 },
        { weekday: 6, start_minute: 720, end_minute: 810 },
      ]);
      const bad = await postForm('/settings/availability', cookie, { _csrf: csrf, ...days, day2: '9 to 5', day3: '09:00-12:00, 11:00-13:00' });
      expect(bad.status).toBe(400);
      expect(await bad.text()).toContain('Tuesday: write hours like 09:00-12:00, 13:00-17:30. Wednesday: the ranges overlap.');
      expect((await db().selectFrom('availability_rules').select('id').execute()).length).toBe(3);
    });

    it('saves the cancellation window and reminder times, and explains wrong ones', async () => {
      const shown = (await page('/settings', cookie)).text;
      expect(shown).toContain('name="cancellationWindowHours" type="text" inputmode="numeric" aria-describedby="cancellation-window-hint" value="24"');
      expect(shown).toContain('name="reminderHours" type="text" aria-describedby="reminder-hours-hint" value="24, 1"');
      const ok = await postForm('/settings/booking-rules', cookie, { _csrf: csrf, cancellationWindowHours: ' 48 ', reminderHours: '2, 0.5, 48' });
      expect(ok.headers.get('location')).toBe('/settings?flash=saved#changes');
      const rules = () => db().selectFrom('specialists').select(['cancellation_window_minutes', 'reminder_offsets_minutes']).where('id', '=', specialistId).executeTakeFirstOrThrow();
      expect(await rules()).toEqual({ cancellation_window_minutes: 2880, reminder_offsets_minutes: '[2880,120,30]' });
      expect((await page('/settings', cookie)).text).toContain('value="48, 2, 0.5"');
      const bad = await postForm('/settings/booking-rules', cookie, { _csrf: csrf, cancellationWindowHours: 'a day', reminderHours: '24, 1, 2, 3' });
      expect(bad.status).toBe(400);
      expect(await bad.text()).toContain('Cancellation window: enter whole hours, like 24. Reminders: at most 3.');
      const tooFar = await postForm('/settings/booking-rules', cookie, { _csrf: csrf, cancellationWindowHours: '721', reminderHours: 'soon' });
      expect(tooFar.status).toBe(400);
      expect(await tooFar.text()).toContain('Cancellation window: at most 720 hours. Reminders: write hours before the start, like 24, 1.');
      const tooSoon = await postForm('/settings/booking-rules', cookie, { _csrf: csrf, cancellationWindowHours: '24', reminderHours: '0.1, 721' });
      expect(tooSoon.status).toBe(400);
      expect(await tooSoon.text()).toContain('Reminders: each from 0.25 to 720 hours before the start.');
      expect(await rules()).toEqual({ cancellation_window_minutes: 2880, reminder_offsets_minutes: '[2880,120,30]' });
      const none = await postForm('/settings/booking-rules', cookie, { _csrf: csrf, cancellationWindowHours: '0', reminderHours: '' });
      expect(none.status).toBe(303);
      expect(await rules()).toEqual({ cancellation_window_minutes: 0, reminder_offsets_minutes: '[]' });
      expect((await postForm('/settings/booking-rules', cookie, { _csrf: 'nope', cancellationWindowHours: '1', reminderHours: '' })).status).toBe(403);
    });

    it('saves allowed embed origins as origins, and CORS follows', async () => {
      await postForm('/settings/origins', cookie, { _csrf: csrf, origins: 'https://new-site.example/\nhttps://new-site.example\nhttp://localhost:8080' });
      const row = await db().selectFrom('specialists').select('allowed_origins').where('id', '=', specialistId).executeTakeFirstOrThrow();
      expect(JSON.parse(row.allowed_origins)).toEqual(['https://new-site.example', 'http://localhost:8080']);
      expect((await fetch(`${server.url}/api/v1/specialists/anna`, { headers: { origin: 'https://new-site.example' } })).status).toBe(200);
      expect((await fetch(`${server.url}/api/v1/specialists/anna`, { headers: { origin: 'https://anna-coaching.example' } })).status).toBe(403);
      const bad = await postForm('/settings/origins', cookie, { _csrf: csrf, origins: 'not a url\nhttps://x.example/path' });
      expect(bad.status).toBe(400);
      expect(await bad.text()).toContain('&quot;not a url&quot; is not a website address like https://www.example.com');
    });
  });

  describe('npm run specialist -- add', () => {
    const run = (...args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'server/cli/specialist.ts', ...args], {
        cwd: PROJECT_ROOT,
        env: { PATH: process.env.PATH, DATABASE_URL: database.url },
        encoding: 'utf8',
      });

    it('creates a specialist who can then sign in, and refuses duplicates and bad input', () => {
      const ok = run('add', '--name', 'Ada Lovelace', '--email', 'Ada@Example.test', '--slug', 'ada', '--time-zone', 'Europe/London', '--origin', 'https://ada.example/');
      expect(ok.stderr).toBe('');
      expect(ok.status).toBe(0);
      expect(ok.stdout).toContain('Created Ada Lovelace (ada@example.test) at /ada.');
      const again = run('add', '--name', 'Ada', '--email', 'ada@example.test', '--slug', 'ada2');
      expect(again.status).toBe(1);
      expect(again.stderr).toBe('A specialist with that email or slug already exists.\n');
      const bad = run('add', '--name', 'X', '--email', 'x@example.test', '--slug', 'Not Valid');
      expect(bad.status).toBe(2);
      expect(bad.stderr).toBe('--slug: A slug is 1 to 64 lowercase letters, digits and dashes\n');
      for (const hostile of ['\u0007', '\u202e']) {
        const refused = run('add', '--name', `Eve${hostile}Mallory`, '--email', 'eve@example.test', '--slug', 'eve');
        expect(refused.stderr).toBe('--name cannot contain control characters or text-direction overrides\n');
        expect(refused.status).toBe(2);
      }
    });

    it('defaults to UTC, which the settings page then preselects', async () => {
      const ok = run('add', '--name', 'Grace Hopper', '--email', 'grace@example.test', '--slug', 'grace');
      expect(ok.status).toBe(0);
      const row = await db().selectFrom('specialists').select(['id', 'time_zone']).where('slug', '=', 'grace').executeTakeFirstOrThrow();
      expect(row.time_zone).toBe('UTC');
      const { text } = await page('/settings', await signInCookie(server, row.id));
      expect(text).toContain('<option selected>UTC</option>');
    });
  });
});

describe.each(DATABASE_KINDS)('settings refuse hostile characters on %s', (kind) => {
  const database = useTestDatabase(kind);
  const db = () => database().handle.db;
  let server: TestServer;
  let specialistId: string;
  let serviceIds: string[];
  let cookie: string;
  let csrf: string;

  beforeEach(async () => {
    await db().deleteFrom('specialists').execute();
    ({ specialistId, serviceIds } = await seedSpecialist(db()));
    await server?.close();
    server = await startTestServer({ db: db(), clock: createTestClock(NOW).clock });
    cookie = await signInCookie(server, specialistId);
    const settings = await (await fetch(`${server.url}/settings`, { headers: { cookie } })).text();
    csrf = /name="_csrf" value="([^"]+)"/.exec(settings)![1]!;
  });
  afterAll(async () => {
    await server?.close();
  });

  const postForm = (path: string, form: Record<string, string>) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: csrf, ...form }),
      redirect: 'manual',
    });
  const service = { title: 'Intro call', description: 'First line\n\tsecond line', durationMinutes: '30', price: '', currency: 'EUR' };
  const rows = async () => ({
    specialist: await db().selectFrom('specialists').select(['name', 'time_zone']).where('id', '=', specialistId).executeTakeFirstOrThrow(),
    services: await db().selectFrom('services').select(['id', 'title', 'description']).orderBy('position').execute(),
  });
  const LINE = 'cannot contain control characters or text-direction overrides.';
  const TEXT = 'cannot contain control characters (other than line breaks and tabs) or text-direction overrides.';

  it.each([
    ['NUL', '\u0000'],
    ['a control character', '\u0007'],
    ['a bidi override', '\u202e'],
  ])('the profile name, service titles and descriptions refuse %s with a 400 naming the field; nothing is written', async (_label, hostile) => {
    const before = await rows();
    const cases: [string, Record<string, string>, string][] = [
      ['/settings/profile', { name: `Anna${hostile}`, timeZone: 'UTC' }, `Your name ${LINE}`],
      ['/settings/services', { ...service, title: `Intro${hostile}call` }, `A service title ${LINE}`],
      ['/settings/services', { ...service, description: `Hello${hostile}` }, `A service description ${TEXT}`],
      [`/settings/services/${serviceIds[0]}`, { ...service, title: `${hostile}Intro` }, `A service title ${LINE}`],
      [`/settings/services/${serviceIds[0]}`, { ...service, description: `Bye${hostile}` }, `A service description ${TEXT}`],
    ];
    for (const [path, form, message] of cases) {
      const res = await postForm(path, form);
      expect(res.status, path).toBe(400);
      const page = await res.text();
      expect(page).toContain('<title>Settings');
      expect(page).toContain(message);
    }
    expect(await rows()).toEqual(before);
  });

  it('a service description keeps its line breaks and tabs', async () => {
    expect((await postForm('/settings/services', service)).status).toBe(303);
    expect((await rows()).services.at(-1)).toMatchObject({ title: 'Intro call', description: 'First line\n\tsecond line' });
  });
});

describe.each(DATABASE_KINDS)('the settings time zone on %s', (kind) => {
  const database = useTestDatabase(kind);
  const db = () => database().handle.db;
  let server: TestServer;
  afterAll(async () => {
    await server?.close();
  });

  /** What a browser submits for the profile form's select: the selected option, else the first. */
  const submittedZone = (settings: string) => {
    const select = /<select id="profile-tz" name="timeZone">([\s\S]*?)<\/select>/.exec(settings)![1]!;
    const options = [...select.matchAll(/<option( selected)?>([^<]+)<\/option>/g)];
    return (options.find((o) => o[1]) ?? options[0]!)[2]!;
  };

  it.each(['Asia/Kolkata', 'UTC', 'Europe/Kyiv'])('a specialist in %s sees it preselected, and saving only the name keeps it', async (zone) => {
    await db().deleteFrom('specialists').execute();
    const { specialistId } = await seedSpecialist(db(), { timeZone: zone });
    await server?.close();
    server = await startTestServer({ db: db(), clock: createTestClock(NOW).clock });
    const cookie = await signInCookie(server, specialistId);
    const settings = await (await fetch(`${server.url}/settings`, { headers: { cookie } })).text();
    expect(settings).toContain(`<option selected>${zone}</option>`);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(settings)![1]!;
    const post = (form: Record<string, string>) =>
      fetch(`${server.url}/settings/profile`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: csrf, ...form }),
        redirect: 'manual',
      });
    const zoneOf = async () => (await db().selectFrom('specialists').select(['name', 'time_zone']).where('id', '=', specialistId).executeTakeFirstOrThrow());
    expect((await post({ name: 'Anna B.', timeZone: submittedZone(settings) })).status).toBe(303);
    expect(await zoneOf()).toEqual({ name: 'Anna B.', time_zone: zone });
    expect((await post({ name: 'Anna C.' })).status).toBe(303);
    expect(await zoneOf()).toEqual({ name: 'Anna C.', time_zone: zone });
    const bad = await post({ name: 'Anna D.', timeZone: 'Mars/Base' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('Use an IANA time zone such as Europe/Berlin');
    expect(await zoneOf()).toEqual({ name: 'Anna C.', time_zone: zone });
  });
});
