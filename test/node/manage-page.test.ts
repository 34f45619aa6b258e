/**
 * The customer's manage page (issue #16) over real HTTP, on SQLite and
 * PostgreSQL, with Zoom connected through the emulator.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createManageTokens } from '../../server/bookings/manage-tokens.js';
import { DATABASE_KINDS, useTestDatabase } from './helpers/databases.js';
import { bookingBody, createTestClock, NOW, seedSpecialist } from './helpers/fixtures.js';
import { connectZoom, startTestServer, type TestServer } from './helpers/server.js';

/** Wednesday 2030-01-09 10:00 Berlin: two days after NOW, outside the default 24-hour window. */
const WEDNESDAY_10 = '2030-01-09T09:00:00.000Z';
/** Thursday 2030-01-10 14:00 Berlin: another day's free slot. */
const THURSDAY_14 = '2030-01-10T13:00:00.000Z';
const HOUR = 3_600_000;

describe.each(DATABASE_KINDS)('the manage page on %s', (kind) => {
  const database = useTestDatabase(kind);
  const db = () => database().handle.db;
  let server: TestServer;
  let time: ReturnType<typeof createTestClock>;
  let serviceIds: string[];
  let bookingId: string;
  let token: string;

  beforeAll(async () => {
    time = createTestClock(NOW);
    server = await startTestServer({ db: db(), clock: time.clock });
  });
  afterAll(async () => {
    await server?.close();
  });
  beforeEach(async () => {
    time = createTestClock(NOW);
    await server?.close();
    for (const table of ['jobs', 'email_outbox', 'rate_limits', 'specialists'] as const) await db().deleteFrom(table).execute();
    ({ serviceIds } = await seedSpecialist(db()));
    server = await startTestServer({ db: db(), clock: time.clock });
    await connectZoom(server, (await db().selectFrom('specialists').select('id').executeTakeFirstOrThrow()).id);
    const booked = await fetch(`${server.url}/api/v1/specialists/anna/bookings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(bookingBody(serviceIds[0]!, WEDNESDAY_10, { name: 'Carla <i>C</i>', timeZone: 'America/New_York' })),
    });
    expect(booked.status).toBe(201);
    bookingId = (await booked.json()).booking.id;
    token = createManageTokens(server.core.signingKey).issue(bookingId);
  });

  const manageUrl = (t = token, id = bookingId) => `${server.url}/bookings/${id}/manage?token=${encodeURIComponent(t)}`;
  /** Opens the page as a browser: its CSRF cookie and the form's token. */
  async function openPage(url = manageUrl(), cookie = '') {
    const res = await fetch(url, { headers: cookie ? { cookie } : {}, redirect: 'manual' });
    const text = await res.text();
    const setCookie = res.headers.get('set-cookie')?.split(';')[0];
    return { res, text, cookie: setCookie ?? cookie, csrf: /name="_csrf" value="([^"]+)"/.exec(text)?.[1] ?? '' };
  }
  const post = (path: string, cookie: string, form: Record<string, string>) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form),
      redirect: 'manual',
    });
  const bookingRow = () =>
    db().selectFrom('bookings').select(['status', 'start_at', 'cancelled_by', 'cancel_reason', 'calendar_sequence']).where('id', '=', bookingId).executeTakeFirstOrThrow();
  /** Everything a change would touch: the booking, its claims, queued jobs and emails. */
  async function stateSnapshot() {
    return {
      bookings: await db().selectFrom('bookings').selectAll().orderBy('id').execute(),
      claims: await db().selectFrom('booking_slot_claims').selectAll().orderBy('block_start').execute(),
      jobs: await db().selectFrom('jobs').select(['kind', 'dedupe_key', 'status']).orderBy('id').execute(),
      emails: await db().selectFrom('email_outbox').select(['kind', 'to_address', 'subject']).orderBy('id').execute(),
    };
  }

  it('shows the booking in the customer’s zone, with the join link and both forms, and a GET changes nothing', async () => {
    const before = await stateSnapshot();
    const first = await openPage();
    await openPage();
    expect(first.res.status).toBe(200);
    expect(first.res.headers.get('cache-control')).toBe('no-store');
    expect(first.text).toContain('<h1>Your booking with Anna Berg</h1>');
    expect(first.text).toContain('Wednesday, 9 January 2030 at 04:00 (America/New_York)');
    const { zoom_join_url } = await db().selectFrom('bookings').select('zoom_join_url').where('id', '=', bookingId).executeTakeFirstOrThrow();
    expect(first.text).toContain(`<dt>Join</dt><dd><a href="${zoom_join_url}">Zoom link</a></dd>`);
    expect(first.text).toContain(`action="/bookings/${bookingId}/manage/cancel"`);
    expect(first.text).toContain(`action="/bookings/${bookingId}/manage/reschedule"`);
    // Free times by day in the customer's zone; the booking's own time is not offered.
    expect(first.text).toContain('<optgroup label="Thursday 10 January">');
    expect(first.text).toContain(`<option value="${THURSDAY_14}">Thursday 10 January, 08:00</option>`);
    expect(first.text).not.toContain(`value="${WEDNESDAY_10}"`);
    expect(await stateSnapshot()).toEqual(before);
  });

  it('answers a forged or other booking’s token with a 403 page, and its forms change nothing', async () => {
    const before = await stateSnapshot();
    const forged = await openPage(manageUrl('A'.repeat(43)));
    expect(forged.res.status).toBe(403);
    expect(forged.text).toContain('<h1>This link is not valid</h1>');
    expect(forged.text).not.toContain('Anna Berg');
    expect((await openPage(manageUrl(''))).res.status).toBe(403);
    // Another booking's token: the token is bound to its booking id.
    expect((await openPage(manageUrl(token, 'no-such-booking'))).res.status).toBe(403);
    const unknown = createManageTokens(server.core.signingKey).issue('no-such-booking');
    expect((await openPage(manageUrl(unknown, 'no-such-booking'))).res.status).toBe(404);
    const { cookie, csrf } = await openPage();
    const refused = await post(`/bookings/${bookingId}/manage/cancel`, cookie, { _csrf: csrf, token: 'A'.repeat(43) });
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain('<h1>This link is not valid</h1>');
    expect(await stateSnapshot()).toEqual(before);
  });

  it('refuses a form without the browser’s CSRF cookie or with another token', async () => {
    const before = await stateSnapshot();
    const { cookie, csrf } = await openPage();
    expect(csrf).not.toBe('');
    expect((await post(`/bookings/${bookingId}/manage/cancel`, '', { _csrf: csrf, token })).status).toBe(403);
    expect((await post(`/bookings/${bookingId}/manage/cancel`, cookie, { _csrf: 'forged', token })).status).toBe(403);
    const noCsrf = await post(`/bookings/${bookingId}/manage/reschedule`, cookie, { token, start: THURSDAY_14 });
    expect(noCsrf.status).toBe(403);
    expect(await noCsrf.text()).toContain('<h1>This form has expired</h1>');
    expect(await stateSnapshot()).toEqual(before);
  });

  it('cancels through the form with a reason, shown back escaped', async () => {
    const { cookie, csrf } = await openPage();
    const res = await post(`/bookings/${bookingId}/manage/cancel`, cookie, { _csrf: csrf, token, reason: 'Sick <b>today</b>' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/bookings/${bookingId}/manage?token=${encodeURIComponent(token)}&done=cancelled`);
    expect(await bookingRow()).toMatchObject({ status: 'cancelled', cancelled_by: 'customer', cancel_reason: 'Sick <b>today</b>' });
    expect(await db().selectFrom('booking_slot_claims').select('block_start').where('booking_id', '=', bookingId).execute()).toEqual([]);
    const after = await openPage(`${server.url}${res.headers.get('location')}`, cookie);
    expect(after.text).toContain('Your booking is cancelled. We emailed you a confirmation.');
    expect(after.text).toContain('<h2 id="cancelled-title">This booking is cancelled</h2>');
    expect(after.text).toContain('Reason: “Sick &lt;b&gt;today&lt;/b&gt;”');
    expect(after.text).not.toContain('manage/cancel"');
    expect(after.text).not.toContain('manage/reschedule"');
  });

  it('shows the page again with the problem for a reason the API would refuse, and changes nothing', async () => {
    const before = await stateSnapshot();
    const { cookie, csrf } = await openPage();
    const res = await post(`/bookings/${bookingId}/manage/cancel`, cookie, { _csrf: csrf, token, reason: 'Ill\u202e today' });
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(text).toMatch(/<p class="flash error" role="alert">A reason [^<]+<\/p>/);
    expect(text).toContain(`action="/bookings/${bookingId}/manage/cancel"`);
    expect((await post(`/bookings/${bookingId}/manage/cancel`, cookie, { _csrf: csrf, token, reason: 'x'.repeat(1001) })).status).toBe(400);
    expect(await stateSnapshot()).toEqual(before);
  });

  it('reschedules to a listed time on another day through the form', async () => {
    const { cookie, csrf } = await openPage();
    const res = await post(`/bookings/${bookingId}/manage/reschedule`, cookie, { _csrf: csrf, token, start: THURSDAY_14 });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/bookings/${bookingId}/manage?token=${encodeURIComponent(token)}&done=rescheduled`);
    expect(await bookingRow()).toMatchObject({ status: 'confirmed', start_at: THURSDAY_14, calendar_sequence: 1 });
    const after = await openPage(`${server.url}${res.headers.get('location')}`, cookie);
    expect(after.text).toContain('Your booking has moved. We emailed you the new time.');
    expect(after.text).toContain('Thursday, 10 January 2030 at 08:00 (America/New_York)');
    // The old time is free again and offered.
    expect(after.text).toContain(`<option value="${WEDNESDAY_10}">Wednesday 9 January, 04:00</option>`);
  });

  it('answers a time someone else took with a message, and leaves the booking where it was', async () => {
    const other = await fetch(`${server.url}/api/v1/specialists/anna/bookings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(bookingBody(serviceIds[0]!, THURSDAY_14, { email: 'dora@example.test' })),
    });
    expect(other.status).toBe(201);
    const { cookie, csrf } = await openPage();
    const res = await post(`/bookings/${bookingId}/manage/reschedule`, cookie, { _csrf: csrf, token, start: THURSDAY_14 });
    expect(res.headers.get('location')).toMatch(/&done=slot_taken$/);
    expect(await bookingRow()).toMatchObject({ status: 'confirmed', start_at: WEDNESDAY_10 });
  });

  it('limits form changes with the API’s budget: a 429 page that says how long to wait, and nothing changes', async () => {
    const { cookie, csrf } = await openPage();
    const times = [THURSDAY_14, WEDNESDAY_10];
    for (let i = 0; i < 5; i++) {
      const moved = await fetch(`${server.url}/api/v1/bookings/${bookingId}/reschedule`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token, start: times[i % 2] }),
      });
      expect(moved.status).toBe(200);
    }
    for (let i = 5; i < 10; i++) {
      const moved = await post(`/bookings/${bookingId}/manage/reschedule`, cookie, { _csrf: csrf, token, start: times[i % 2]! });
      expect(moved.headers.get('location')).toMatch(/&done=rescheduled$/);
    }
    expect(await bookingRow()).toMatchObject({ start_at: WEDNESDAY_10, calendar_sequence: 10 });
    const before = await stateSnapshot();
    for (const [action, form] of [['reschedule', { start: THURSDAY_14 }], ['cancel', {}]] as const) {
      const refused = await post(`/bookings/${bookingId}/manage/${action}`, cookie, { _csrf: csrf, token, ...form });
      expect(refused.status).toBe(429);
      // NOW is 06:00 UTC: the day's budget frees at midnight UTC.
      expect(refused.headers.get('retry-after')).toBe(String(18 * 3600));
      const text = await refused.text();
      expect(text).toContain('<p class="flash error" role="alert">Too many changes to bookings. Please try again in 18 hours.</p>');
      expect(text).toContain(`action="/bookings/${bookingId}/manage/cancel"`);
    }
    expect(await stateSnapshot()).toEqual(before);
  });

  it('inside the cancellation window says so, with the specialist’s email, and offers no buttons', async () => {
    const { cookie, csrf } = await openPage();
    time.advance(36 * HOUR); // Tuesday 19:00 Berlin: 14 hours before the start.
    const { res, text } = await openPage(manageUrl(), cookie);
    expect(res.status).toBe(200);
    expect(text).toContain('<h2 id="window-title">Changes are closed online</h2>');
    expect(text).toContain('until 24 hours before the start');
    expect(text).toContain('<a href="mailto:anna@example.test">Anna Berg</a>');
    expect(text).not.toContain('manage/cancel"');
    expect(text).not.toContain('manage/reschedule"');
    // A form kept open from before the window is refused the same way.
    const late = await post(`/bookings/${bookingId}/manage/cancel`, cookie, { _csrf: csrf, token });
    expect(late.headers.get('location')).toMatch(/&done=window_closed$/);
    expect(await bookingRow()).toMatchObject({ status: 'confirmed', start_at: WEDNESDAY_10 });
  });

  it('offers no times, and the specialist’s email, once the service is no longer offered', async () => {
    await db().updateTable('services').set({ is_active: 0 }).where('id', '=', serviceIds[0]!).execute();
    const { res, text } = await openPage();
    expect(res.status).toBe(200);
    expect(text).toContain('No other free times in the next 14 days. Write to <a href="mailto:anna@example.test">Anna Berg</a>.');
    expect(text).toContain(`action="/bookings/${bookingId}/manage/cancel"`);
  });

  it('says the link has ended once the session started', async () => {
    time.advance(51 * HOUR + 1); // Wednesday 10:00:00.001 Berlin.
    const { res, text } = await openPage();
    expect(res.status).toBe(410);
    expect(text).toContain('<h1>This link has ended</h1>');
  });
});
