/**
 * The customer's hosted manage page and the dashboard's booking actions
 * (issue #16) in real Chromium, against the whole stack as `npm start` runs
 * it (SQLite, the Zoom emulator, the local inbox), on a clock the test moves.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSession, SESSION_COOKIE } from '../../server/auth/sessions.js';
import { createManageTokens, type ManageTokens } from '../../server/bookings/manage-tokens.js';
import { loadConfig } from '../../server/config.js';
import { insertSpecialist } from '../../server/demo/seed.js';
import { deriveSigningKey } from '../../server/services.js';
import { startServer, type RunningServer } from '../../server/start.js';
import { createTestClock } from '../node/helpers/fixtures.js';
import { allowOnConsentPage, startConnectingZoom } from '../node/helpers/server.js';
import { launchChromium, screenshotPath, seriousAxeViolations } from './helpers/browser.js';

/** Monday 2030-01-07 07:00 in Amsterdam. */
const START = new Date('2030-01-07T06:00:00.000Z');

describe('the manage page and the dashboard’s bookings in Chromium', () => {
  const time = createTestClock(START);
  const encryptionKey = randomBytes(32).toString('base64');
  let dir: string;
  let server: RunningServer;
  let browser: Browser;
  let phone: BrowserContext;
  let page: Page;
  let base: string;
  let noorId: string;
  let serviceId: string;
  let manageTokens: ManageTokens;
  let zoomUserId: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sb-manage-'));
    server = await startServer(
      loadConfig({ PORT: '0', DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`, DATA_DIR: dir, LOG_LEVEL: 'silent', TOKEN_ENCRYPTION_KEY: encryptionKey }),
      { clock: time.clock, outboxPollMs: 20 },
    );
    base = server.publicUrl;
    manageTokens = createManageTokens(deriveSigningKey(Buffer.from(encryptionKey, 'base64')));
    ({
      specialistId: noorId,
      serviceIds: [serviceId],
    } = (await insertSpecialist(
      server.database.db,
      {
        slug: 'noor',
        name: 'Noor Haddad',
        email: 'noor@example.test',
        timeZone: 'Europe/Amsterdam',
        services: [{ title: 'Strategy session', durationMinutes: 60 }],
        weeklyHours: [1, 2, 3, 4, 5].map((weekday) => ({ weekday, start: '09:00', end: '17:00' })),
        minNoticeMinutes: 60,
      },
      START,
    )) as { specialistId: string; serviceIds: [string] });
    const cookie = `${SESSION_COOKIE}=${(await createSession(server.database.db, time.clock, noorId)).token}`;
    const zoomUser = server.zoomEmulator!.controls.addUser({ display_name: 'Noor on Zoom', email: 'noor@zoom.test' });
    zoomUserId = zoomUser.id;
    const callback = await allowOnConsentPage(await startConnectingZoom(base, cookie), zoomUser.id);
    expect((await fetch(callback, { headers: { cookie }, redirect: 'manual' })).headers.get('location')).toBe('/dashboard?zoom=connected');
    browser = await launchChromium();
    // axe goes in as an inline script, which the pages' CSP refuses.
    phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, bypassCSP: true });
    page = await phone.newPage();
    page.setDefaultTimeout(10_000);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function book(start: string, customer: { name: string; email: string }): Promise<string> {
    const res = await fetch(`${base}/api/v1/specialists/noor/bookings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ serviceId, start, customer: { ...customer, timeZone: 'Europe/London' } }),
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { booking: { id: string } }).booking.id;
  }
  const manageUrl = (id: string) => `${base}/bookings/${id}/manage?token=${manageTokens.issue(id)}`;
  const startOf = async (id: string) =>
    (await server.database.db.selectFrom('bookings').select(['status', 'start_at']).where('id', '=', id).executeTakeFirstOrThrow());
  const hasNoHorizontalScroll = () => page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth);

  it('cancels from the manage page on a phone', async () => {
    // Wednesday 10:00 in Amsterdam, 09:00 in London.
    const id = await book('2030-01-09T09:00:00.000Z', { name: 'Paula Customer', email: 'paula@example.test' });
    await page.goto(manageUrl(id));
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Your booking with Noor Haddad');
    expect(await page.getByText('Wednesday, 9 January 2030 at 09:00 (Europe/London)').count()).toBe(1);
    expect(await hasNoHorizontalScroll()).toBe(true);
    expect(await seriousAxeViolations(page)).toEqual([]);
    await page.screenshot({ path: screenshotPath('manage-page.png'), fullPage: true });
    await page.getByLabel('Reason (optional, sent to Noor Haddad)').fill('Something came up.');
    await page.getByRole('button', { name: 'Cancel booking' }).click();
    await page.waitForURL(/&done=cancelled$/);
    expect(await page.getByRole('status').textContent()).toBe('Your booking is cancelled. We emailed you a confirmation.');
    expect(await page.getByRole('heading', { name: 'This booking is cancelled' }).count()).toBe(1);
    expect(await page.getByRole('button').count()).toBe(0);
    expect(await startOf(id)).toEqual({ status: 'cancelled', start_at: '2030-01-09T09:00:00.000Z' });
  });

  it('reschedules to another day from the listed free times', async () => {
    // Wednesday 11:00 in Amsterdam; Thursday's 14:00 (13:00 in London) is free.
    const id = await book('2030-01-09T10:00:00.000Z', { name: 'Rita Customer', email: 'rita@example.test' });
    await page.goto(manageUrl(id));
    await page.getByLabel('New time').selectOption({ label: 'Thursday 10 January, 13:00' });
    await page.getByRole('button', { name: 'Move my booking' }).click();
    await page.waitForURL(/&done=rescheduled$/);
    expect(await page.getByRole('status').textContent()).toBe('Your booking has moved. We emailed you the new time.');
    expect(await page.getByText('Thursday, 10 January 2030 at 13:00 (Europe/London)').count()).toBe(1);
    expect(await startOf(id)).toEqual({ status: 'confirmed', start_at: '2030-01-10T13:00:00.000Z' });
  });

  it('inside the cancellation window says so, with the specialist’s email, and shows no buttons', async () => {
    // Monday 15:00 in Amsterdam: eight hours away, inside the default 24-hour window.
    const id = await book('2030-01-07T14:00:00.000Z', { name: 'Late Customer', email: 'late@example.test' });
    await page.goto(manageUrl(id));
    expect(await page.getByRole('heading', { name: 'Changes are closed online' }).count()).toBe(1);
    expect(await page.getByRole('link', { name: 'Noor Haddad' }).getAttribute('href')).toBe('mailto:noor@example.test');
    expect(await page.getByRole('button', { name: 'Cancel booking' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Move my booking' }).count()).toBe(0);
    expect(await seriousAxeViolations(page)).toEqual([]);
    expect(await startOf(id)).toEqual({ status: 'confirmed', start_at: '2030-01-07T14:00:00.000Z' });
  });

  it('lets the specialist offer a reschedule from the dashboard, which opens the customer’s window', async () => {
    const id = await book('2030-01-07T15:00:00.000Z', { name: 'Offer Customer', email: 'offer@example.test' });
    const desk = await browser.newContext({ viewport: { width: 1100, height: 900 }, bypassCSP: true });
    const { token } = await createSession(server.database.db, time.clock, noorId);
    await desk.addCookies([{ name: SESSION_COOKIE, value: token, url: base }]);
    const dashboard = await desk.newPage();
    await dashboard.goto(`${base}/dashboard`);
    const row = dashboard.locator(`#booking-${id}`);
    await row.getByText('Change…').click();
    await row.getByLabel('Message with the offer (optional)').fill('Sorry, could we move this?');
    await dashboard.screenshot({ path: screenshotPath('dashboard-bookings.png'), fullPage: true });
    await row.getByRole('button', { name: 'Offer a new time' }).click();
    await dashboard.waitForURL(`${base}/dashboard?flash=offered#upcoming`);
    expect(await dashboard.getByRole('status').first().textContent()).toBe('Offer sent: the customer got an email with a link to pick a new time.');
    expect(await seriousAxeViolations(dashboard)).toEqual([]);
    await desk.close();
    // Inside the window, yet the customer may now move it.
    await page.goto(manageUrl(id));
    expect(await page.getByRole('button', { name: 'Move my booking' }).count()).toBe(1);
    expect(await page.getByRole('button', { name: 'Cancel booking' }).count()).toBe(1);
  });

  // Last: it revokes Noor's Zoom tokens.
  it('shows a held request to the specialist and the customer, who withdraws it (issue #17)', async () => {
    server.zoomEmulator!.controls.revokeAllTokens(zoomUserId);
    // Thursday 10:00 in Amsterdam, 09:00 in London.
    const res = await fetch(`${base}/api/v1/specialists/noor/bookings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ serviceId, start: '2030-01-10T09:00:00.000Z', customer: { name: 'Held <b>Customer</b>', email: 'held@example.test', timeZone: 'Europe/London' } }),
    });
    expect(res.status).toBe(409);
    const { hold } = (await res.json()) as { hold: { id: string; expiresAt: string } };
    expect(hold.expiresAt).toBe('2030-01-08T06:00:00.000Z');

    const desk = await browser.newContext({ viewport: { width: 1100, height: 900 }, bypassCSP: true });
    const { token } = await createSession(server.database.db, time.clock, noorId);
    await desk.addCookies([{ name: SESSION_COOKIE, value: token, url: base }]);
    const dashboard = await desk.newPage();
    await dashboard.goto(`${base}/dashboard`);
    const waiting = dashboard.locator('#waiting-requests');
    expect(await waiting.getByRole('heading').textContent()).toBe('1 customer is waiting for you to re-authorize');
    expect(await waiting.locator(`#waiting-${hold.id}`).innerText()).toBe('Held <b>Customer</b>\tStrategy session\tThursday 10 January at 10:00\theld until Tuesday 8 January at 07:00');
    expect(await seriousAxeViolations(dashboard)).toEqual([]);
    await dashboard.screenshot({ path: screenshotPath('dashboard-waiting-customers.png'), fullPage: true });
    await desk.close();

    await page.goto(manageUrl(hold.id));
    expect(await page.locator('#held p').first().textContent()).toBe(
      "Waiting for confirmation: we're holding Thursday 10 January at 09:00 for you until Tuesday 8 January at 06:00 (Europe/London). You'll get an email as soon as it's confirmed.",
    );
    expect(await hasNoHorizontalScroll()).toBe(true);
    expect(await seriousAxeViolations(page)).toEqual([]);
    await page.screenshot({ path: screenshotPath('manage-page-held.png'), fullPage: true });
    await page.getByRole('button', { name: 'Withdraw request' }).click();
    await page.waitForURL(/&done=withdrawn$/);
    expect(await page.getByRole('status').textContent()).toBe('Request withdrawn: the time is released.');
    expect(await page.getByRole('heading', { name: 'You withdrew this request' }).count()).toBe(1);
    expect(await page.getByRole('button').count()).toBe(0);
    await page.getByRole('link', { name: 'Pick another time with Noor Haddad' }).click();
    await page.waitForURL(`${base}/book/noor`);
    expect(await startOf(hold.id)).toEqual({ status: 'withdrawn', start_at: '2030-01-10T09:00:00.000Z' });
  });
});
