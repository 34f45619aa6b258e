/**
 * Held requests (issue #17) as the customer and the specialist meet them,
 * over real HTTP on SQLite and PostgreSQL, with Zoom's tokens revoked in the
 * emulator: the withdraw API, the manage page's held state and withdraw
 * form, the dashboard's waiting customers, and the hold window setting.
 */
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { ErrorResponse, ManagedBooking } from '../../sdk/contract.js';
import { createHeldRequestJobHandler } from '../../server/bookings/held-requests.js';
import { createJobWorker } from '../../server/jobs/index.js';
import { createLogger } from '../../server/logger.js';
import { DATABASE_KINDS, useTestDatabase } from './helpers/databases.js';
import { bookingBody, createTestClock, NOW, seedSpecialist } from './helpers/fixtures.js';
import { connectZoom, signInCookie, startTestServer, type TestServer } from './helpers/server.js';

/** Wednesday 2030-01-09 10:00 Berlin: held until Tuesday 07:00 Berlin (24 hours after NOW). */
const WEDNESDAY_10 = '2030-01-09T09:00:00.000Z';
/** Monday 2030-01-07 11:00 Berlin, four hours after NOW: held until the minimum notice, an hour before. */
const MONDAY_11 = '2030-01-07T10:00:00.000Z';
/** Tuesday 2030-01-08 10:00 Berlin: booked while Zoom still works. */
const TUESDAY_10 = '2030-01-08T09:00:00.000Z';

describe.each(DATABASE_KINDS)('held requests in the pages and the API on %s', (kind) => {
  const database = useTestDatabase(kind);
  const db = () => database().handle.db;
  let server: TestServer;
  let time: ReturnType<typeof createTestClock>;
  let specialistId: string;
  let serviceIds: string[];
  let zoomUserId: string;

  afterAll(async () => {
    await server?.close();
  });
  beforeEach(async () => {
    time = createTestClock(NOW);
    await server?.close();
    for (const table of ['jobs', 'email_outbox', 'rate_limits', 'specialists'] as const) await db().deleteFrom(table).execute();
    ({ specialistId, serviceIds } = await seedSpecialist(db()));
    server = await startTestServer({ db: db(), clock: time.clock });
    zoomUserId = await connectZoom(server, specialistId);
  });

  const book = (start: string, customer: Record<string, unknown> = {}) =>
    fetch(`${server.url}/api/v1/specialists/anna/bookings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(bookingBody(serviceIds[0]!, start, customer)),
    });
  /** Books against revoked tokens: the answer is 409 requires_reauth with the hold. */
  async function holdRequest(start = WEDNESDAY_10, customer: Record<string, unknown> = {}): Promise<{ id: string; token: string; expiresAt: string }> {
    server.emulator.controls.revokeAllTokens(zoomUserId);
    const res = await book(start, customer);
    expect(res.status).toBe(409);
    const body = (await res.json()) as ErrorResponse;
    expect(body).toMatchObject({ success: false, code: 'requires_reauth', requiresReAuth: true, specialistNotified: true, hold: { id: expect.any(String) } });
    const { id, expiresAt } = body.hold!;
    return { id, token: server.services.manageTokens.issue(id), expiresAt };
  }
  const withdraw = (id: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.url}/api/v1/bookings/${id}/withdraw`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const bookingRow = (id: string) => db().selectFrom('bookings').select(['status', 'start_at', 'hold_expires_at']).where('id', '=', id).executeTakeFirstOrThrow();
  /** The customer-change limit buckets and their hits (bookings count in buckets of their own). */
  const changeHits = async () =>
    (await db().selectFrom('rate_limits').select(['bucket', 'hits']).where('bucket', 'like', 'booking-change:%').orderBy('bucket').execute()).map((h) => [h.bucket, Number(h.hits)]);
  const claimsOf = (id: string) => db().selectFrom('booking_slot_claims').select('block_start').where('booking_id', '=', id).execute();
  async function offeredStarts(): Promise<string[]> {
    const res = await fetch(`${server.url}/api/v1/specialists/anna/services/${serviceIds[0]}/slots?from=2030-01-07T00:00:00Z&to=2030-01-10T00:00:00Z`);
    expect(res.status).toBe(200);
    return ((await res.json()) as { slots: { start: string }[] }).slots.map((slot) => slot.start);
  }
  /** Everything a withdrawal would touch: bookings, claims, queued jobs and emails. */
  async function stateSnapshot() {
    return {
      bookings: await db().selectFrom('bookings').selectAll().orderBy('id').execute(),
      claims: await db().selectFrom('booking_slot_claims').selectAll().orderBy('block_start').execute(),
      jobs: await db().selectFrom('jobs').select(['kind', 'dedupe_key', 'status', 'run_after']).orderBy('id').execute(),
      emails: await db().selectFrom('email_outbox').select(['kind', 'to_address', 'subject']).orderBy('id').execute(),
    };
  }

  describe('POST /api/v1/bookings/{id}/withdraw', () => {
    it('withdraws a held request: 200 withdrawn, the claims gone and the time offered again; a repeat answers the same', async () => {
      const { id, token, expiresAt } = await holdRequest();
      expect(expiresAt).toBe('2030-01-08T06:00:00.000Z');
      expect(await bookingRow(id)).toEqual({ status: 'held', start_at: WEDNESDAY_10, hold_expires_at: expiresAt });
      expect((await claimsOf(id)).length).toBeGreaterThan(0);
      expect(await offeredStarts()).not.toContain(WEDNESDAY_10);
      const held = await fetch(`${server.url}/api/v1/bookings/${id}?token=${token}`);
      expect(await held.json()).toMatchObject({ booking: { status: 'held', hold: { expiresAt }, canWithdraw: true, canCancel: false, zoomJoinUrl: null } });

      const res = await withdraw(id, { token });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { success: true; booking: ManagedBooking };
      expect(body).toMatchObject({ success: true, booking: { id, status: 'withdrawn', start: WEDNESDAY_10, hold: null, canWithdraw: false, canCancel: false } });
      expect(await bookingRow(id)).toMatchObject({ status: 'withdrawn' });
      expect(await claimsOf(id)).toEqual([]);
      expect(await offeredStarts()).toContain(WEDNESDAY_10);
      // Counted once against the limits of a change, as a cancel is.
      expect(await changeHits()).toEqual([
        ['booking-change:address:127.0.0.1', 1],
        [`booking-change:booking:${id}`, 1],
      ]);

      const again = await withdraw(id, { token });
      expect(again.status).toBe(200);
      expect(await again.json()).toEqual(body);
      expect(await changeHits()).toEqual([
        ['booking-change:address:127.0.0.1', 1],
        [`booking-change:booking:${id}`, 1],
      ]);
    });

    it('refuses a forged token with 403 invalid_manage_token, and changes nothing', async () => {
      const { id } = await holdRequest();
      const before = await stateSnapshot();
      for (const token of ['forged', 'A'.repeat(43), server.services.manageTokens.issue('another-booking')]) {
        const res = await withdraw(id, { token });
        expect(res.status).toBe(403);
        expect(await res.json()).toMatchObject({ success: false, code: 'invalid_manage_token' });
      }
      expect(await stateSnapshot()).toEqual(before);
      expect(await changeHits()).toEqual([]);
    });

    it('answers 409 booking_not_changeable for a confirmed booking, which stays confirmed', async () => {
      const booked = await book(TUESDAY_10);
      expect(booked.status).toBe(201);
      const { id } = (await booked.json()).booking;
      const res = await withdraw(id, { token: server.services.manageTokens.issue(id) });
      expect(res.status).toBe(409);
      expect(await res.json()).toMatchObject({ success: false, code: 'booking_not_changeable', message: 'This request was already confirmed: cancel the booking instead if you cannot come.' });
      expect(await bookingRow(id)).toMatchObject({ status: 'confirmed' });
      expect((await claimsOf(id)).length).toBeGreaterThan(0);
    });

    it('refuses bad bodies with stable codes, grants CORS as cancel does, and 404s an unknown id', async () => {
      const { id, token } = await holdRequest();
      const cases: [unknown, number, string][] = [
        ['{not json', 400, 'invalid_json'],
        [{}, 400, 'validation_failed'],
        [{ token, reason: 'extra' }, 400, 'validation_failed'],
        [{ token: 7 }, 400, 'validation_failed'],
        [{ token, padding: 'x'.repeat(20_000) }, 413, 'payload_too_large'],
      ];
      for (const [body, status, code] of cases) {
        const res = await withdraw(id, body);
        expect(res.status, JSON.stringify(body).slice(0, 40)).toBe(status);
        expect(await res.json()).toMatchObject({ success: false, code });
      }
      const foreign = await withdraw(id, { token }, { origin: 'https://evil.example' });
      expect(foreign.status).toBe(403);
      expect(await foreign.json()).toMatchObject({ code: 'origin_not_allowed' });
      expect(await bookingRow(id)).toMatchObject({ status: 'held' });
      const allowed = await withdraw(id, { token }, { origin: 'https://anna-coaching.example' });
      expect(allowed.status).toBe(200);
      expect(allowed.headers.get('access-control-allow-origin')).toBe('https://anna-coaching.example');
      const ghost = 'no-such-booking';
      expect((await withdraw(ghost, { token: server.services.manageTokens.issue(ghost) })).status).toBe(404);
    });
  });

  describe('the manage page of a held request', () => {
    const manageUrl = (id: string, token: string) => `${server.url}/bookings/${id}/manage?token=${encodeURIComponent(token)}`;
    async function openPage(url: string, cookie = '') {
      const res = await fetch(url, { headers: cookie ? { cookie } : {}, redirect: 'manual' });
      const text = await res.text();
      return { res, text, cookie: res.headers.get('set-cookie')?.split(';')[0] ?? cookie, csrf: /name="_csrf" value="([^"]+)"/.exec(text)?.[1] ?? '' };
    }
    const postForm = (path: string, cookie: string, form: Record<string, string>) =>
      fetch(`${server.url}${path}`, { method: 'POST', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form), redirect: 'manual' });

    it("is the held email's link: it says what is held until when, and a GET changes nothing", async () => {
      const { id } = await holdRequest(WEDNESDAY_10, { timeZone: 'America/New_York' });
      const email = await db().selectFrom('email_outbox').select(['id', 'content_enc']).where('kind', '=', 'booking_held_customer').executeTakeFirstOrThrow();
      const content = JSON.parse(server.cipher.decrypt(email.content_enc, `outbox:${email.id}`)) as { text: string };
      const link = /Withdraw the request: (\S+)/.exec(content.text)![1]!;
      expect(link).toMatch(new RegExp(`^${server.url}/bookings/${id}/manage\\?token=`));
      const before = await stateSnapshot();
      const first = await openPage(link);
      await openPage(link);
      expect(first.res.status).toBe(200);
      expect(first.text).toContain(
        "Waiting for confirmation: we're holding Wednesday 9 January at 04:00 for you until Tuesday 8 January at 01:00 (America/New_York). You'll get an email as soon as it's confirmed.",
      );
      expect(first.text).toContain(`action="/bookings/${id}/manage/withdraw"`);
      expect(first.text).toContain('>Withdraw request</button>');
      expect(first.text).not.toContain('manage/cancel"');
      expect(first.text).not.toContain('manage/reschedule"');
      expect(first.text).not.toContain('Zoom link');
      expect(await stateSnapshot()).toEqual(before);
    });

    it('withdraws through the form: the time is released, and the page says so with a link to book again', async () => {
      const { id, token } = await holdRequest();
      const { cookie, csrf } = await openPage(manageUrl(id, token));
      const res = await postForm(`/bookings/${id}/manage/withdraw`, cookie, { _csrf: csrf, token });
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe(`/bookings/${id}/manage?token=${encodeURIComponent(token)}&done=withdrawn`);
      expect(await bookingRow(id)).toMatchObject({ status: 'withdrawn' });
      expect(await claimsOf(id)).toEqual([]);
      expect(await offeredStarts()).toContain(WEDNESDAY_10);
      const after = await openPage(`${server.url}${res.headers.get('location')}`, cookie);
      expect(after.text).toContain('Request withdrawn: the time is released.');
      expect(after.text).toContain('<h2 id="request-ended-title">You withdrew this request</h2>');
      expect(after.text).toContain('<a href="/book/anna">Pick another time with Anna Berg</a>');
      expect(after.text).not.toContain('manage/withdraw"');
      expect((await fetch(`${server.url}/book/anna`)).status).toBe(200);
    });

    it('refuses a forged token (403 page) or a missing CSRF token, and changes nothing', async () => {
      const { id, token } = await holdRequest();
      const before = await stateSnapshot();
      const forged = await openPage(manageUrl(id, 'A'.repeat(43)));
      expect(forged.res.status).toBe(403);
      expect(forged.text).toContain('<h1>This link is not valid</h1>');
      const { cookie, csrf } = await openPage(manageUrl(id, token));
      const refused = await postForm(`/bookings/${id}/manage/withdraw`, cookie, { _csrf: csrf, token: 'A'.repeat(43) });
      expect(refused.status).toBe(403);
      expect(await refused.text()).toContain('<h1>This link is not valid</h1>');
      expect((await postForm(`/bookings/${id}/manage/withdraw`, cookie, { _csrf: 'forged', token })).status).toBe(403);
      expect((await postForm(`/bookings/${id}/manage/withdraw`, '', { _csrf: csrf, token })).status).toBe(403);
      expect(await stateSnapshot()).toEqual(before);
    });

    /** The held-request job, as the server's worker runs it: it expires or confirms the request. */
    const heldRequestWorker = () =>
      createJobWorker({ db: db(), databaseKind: kind, clock: time.clock, logger: createLogger('silent'), handlers: [createHeldRequestJobHandler(server.services.bookings)] });

    it('says a request expired at its hold’s end, with a link to book again; a late withdraw form gets a message', async () => {
      const { id, token, expiresAt } = await holdRequest();
      const { cookie, csrf } = await openPage(manageUrl(id, token));
      time.advance(Date.parse(expiresAt) - time.clock().getTime());
      expect(await heldRequestWorker().runDue()).toBe(1);
      expect(await bookingRow(id)).toMatchObject({ status: 'expired' });
      const expired = await openPage(manageUrl(id, token), cookie);
      expect(expired.res.status).toBe(200);
      expect(expired.text).toContain('<h2 id="request-ended-title">This request expired before it could be confirmed</h2>');
      expect(expired.text).toContain('<a href="/book/anna">Pick another time with Anna Berg</a>');
      expect(expired.text).not.toContain('manage/withdraw"');
      // The withdraw form of the page opened before the expiry: a message, not an error page.
      const late = await postForm(`/bookings/${id}/manage/withdraw`, cookie, { _csrf: csrf, token });
      expect(late.headers.get('location')).toBe(`/bookings/${id}/manage?token=${encodeURIComponent(token)}&done=not_changeable`);
      expect(await bookingRow(id)).toMatchObject({ status: 'expired' });
    });

    it('shows a request confirmed after the re-authorization as any confirmed booking', async () => {
      const { id, token } = await holdRequest();
      await connectZoom(server, specialistId, server.emulator.controls.users().find((user) => user.id === zoomUserId));
      expect(await heldRequestWorker().runDue()).toBe(1);
      expect(await bookingRow(id)).toMatchObject({ status: 'confirmed' });
      const confirmed = await openPage(manageUrl(id, token));
      expect(confirmed.text).toContain(`action="/bookings/${id}/manage/cancel"`);
      expect(confirmed.text).toContain(`action="/bookings/${id}/manage/reschedule"`);
      expect(confirmed.text).toContain('>Zoom link</a>');
      expect(confirmed.text).not.toContain('Waiting for confirmation');
      expect(confirmed.text).not.toContain('manage/withdraw"');
    });
  });

  describe('the dashboard', () => {
    it('lists the waiting customers on the Zoom card, soonest deadline first, escaped', async () => {
      await holdRequest(WEDNESDAY_10, { name: '<script>alert(1)</script> Ada' });
      await holdRequest(MONDAY_11, { name: 'Bob', email: 'bob@example.test' });
      const cookie = await signInCookie(server, specialistId);
      const res = await fetch(`${server.url}/dashboard`, { headers: { cookie } });
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).toContain('Needs re-authorization');
      expect(text).toContain('Customers who book now have their time held until you re-authorize, within your hold time, and are confirmed the moment you do.');
      expect(text).toContain('2 customers are waiting for you to re-authorize</h3>');
      expect(text).not.toContain('<script>alert(1)</script>');
      const rows = [...text.matchAll(/<tr id="waiting-[^"]+">(.*?)<\/tr>/g)].map((m) => m[1]);
      expect(rows).toEqual([
        '<td>Bob</td><td>Intro call</td><td>Monday 7 January at 11:00</td><td>held until Monday 7 January at 10:00</td>',
        '<td>&lt;script&gt;alert(1)&lt;/script&gt; Ada</td><td>Intro call</td><td>Wednesday 9 January at 10:00</td><td>held until Tuesday 8 January at 07:00</td>',
      ]);
      // The settings page's Zoom card (where the re-auth email's link lands) lists them too.
      expect(await (await fetch(`${server.url}/settings`, { headers: { cookie } })).text()).toContain('2 customers are waiting for you to re-authorize');
    });

    it('shows no waiting list when nobody waits', async () => {
      const cookie = await signInCookie(server, specialistId);
      const text = await (await fetch(`${server.url}/dashboard`, { headers: { cookie } })).text();
      expect(text).toContain('Healthy');
      expect(text).not.toContain('waiting-requests');
    });
  });

  describe('the hold window setting', () => {
    it('shows the current value, saves whole hours from 0 to 168, and refuses others with the field’s error', async () => {
      const cookie = await signInCookie(server, specialistId);
      const settings = await (await fetch(`${server.url}/settings`, { headers: { cookie } })).text();
      expect(settings).toContain('<label for="hold-window">Hold requests while Zoom needs re-authorizing (hours)</label>');
      expect(settings).toContain('name="holdWindowHours" type="text" inputmode="numeric" required aria-describedby="hold-window-hint" value="24"');
      expect(settings).toContain('A request is never held past the start minus your minimum notice, and holds under 30 minutes are not made.');
      const csrf = /name="_csrf" value="([^"]+)"/.exec(settings)![1]!;
      const save = (form: Record<string, string>) =>
        fetch(`${server.url}/settings/hold-window`, {
          method: 'POST',
          headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ _csrf: csrf, ...form }),
          redirect: 'manual',
        });
      const stored = async () => (await db().selectFrom('specialists').select('hold_window_minutes').where('id', '=', specialistId).executeTakeFirstOrThrow()).hold_window_minutes;

      const ok = await save({ holdWindowHours: ' 48 ' });
      expect(ok.status).toBe(303);
      expect(ok.headers.get('location')).toBe('/settings?flash=saved#held-requests');
      expect(await stored()).toBe(2880);
      expect(await (await fetch(`${server.url}/settings`, { headers: { cookie } })).text()).toContain('aria-describedby="hold-window-hint" value="48"');
      for (const bad of ['999', '-1', '169', '1.5', 'a day', '']) {
        const res = await save({ holdWindowHours: bad });
        expect(res.status, bad).toBe(400);
        expect(await res.text()).toContain('Hold requests: enter whole hours from 0 to 168, like 24.');
      }
      expect((await save({})).status).toBe(400);
      expect(await stored()).toBe(2880);
      expect((await save({ holdWindowHours: '168' })).status).toBe(303);
      expect(await stored()).toBe(10_080);
      expect((await save({ holdWindowHours: '0' })).status).toBe(303);
      expect(await stored()).toBe(0);
      const forged = await fetch(`${server.url}/settings/hold-window`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: 'forged', holdWindowHours: '5' }),
        redirect: 'manual',
      });
      expect(forged.status).toBe(403);
      expect(await stored()).toBe(0);
    });

    it('holds nothing at 0: the booking answers requires_reauth without a hold, and the time stays free', async () => {
      await db().updateTable('specialists').set({ hold_window_minutes: 0 }).where('id', '=', specialistId).execute();
      server.emulator.controls.revokeAllTokens(zoomUserId);
      const res = await book(WEDNESDAY_10);
      expect(res.status).toBe(409);
      const body = (await res.json()) as ErrorResponse;
      expect(body).toMatchObject({ code: 'requires_reauth', requiresReAuth: true });
      expect(body.hold).toBeUndefined();
      expect(await offeredStarts()).toContain(WEDNESDAY_10);
      const dashboard = await (await fetch(`${server.url}/dashboard`, { headers: { cookie: await signInCookie(server, specialistId) } })).text();
      expect(dashboard).toContain('Customers cannot book you until you re-authorize. It takes under a minute.');
      expect(dashboard).not.toContain('waiting-requests');
    });
  });
});
