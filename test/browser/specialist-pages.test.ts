/**
 * The specialist's hosted pages in real Chromium, against the whole stack as
 * `npm start` runs it: SQLite, the Zoom emulator, the local SMTP inbox.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSession, SESSION_COOKIE } from '../../server/auth/sessions.js';
import { systemClock } from '../../server/clock.js';
import { loadConfig } from '../../server/config.js';
import { insertSpecialist } from '../../server/demo/seed.js';
import { startServer, type RunningServer } from '../../server/start.js';
import { clickInEmail as clickInInbox, countEmails as countInbox, launchChromium, screenshotPath, seriousAxeViolations } from './helpers/browser.js';

describe('specialist pages in Chromium', () => {
  let dir: string;
  let server: RunningServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let base: string;
  let noorId: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sb-browser-'));
    server = await startServer(
      loadConfig({ PORT: '0', DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`, DATA_DIR: dir, LOG_LEVEL: 'silent' }),
      { outboxPollMs: 20 },
    );
    // Links in emails use the public URL: browse there, so cookies and URLs agree.
    base = server.publicUrl;
    ({ specialistId: noorId } = await insertSpecialist(server.database.db, {
      slug: 'noor',
      name: 'Noor Haddad',
      email: 'noor@example.test',
      timeZone: 'Europe/Amsterdam',
      services: [{ title: 'Strategy session', durationMinutes: 60 }],
      weeklyHours: [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '00:00', end: '24:00' })),
      minNoticeMinutes: 0,
    }));
    browser = await launchChromium();
    // axe goes in as an inline script (seriousAxeViolations), which the pages' CSP refuses; the
    // CSP itself is checked in a context of its own (the last test).
    context = await browser.newContext({ viewport: { width: 1100, height: 900 }, bypassCSP: true });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const countEmails = (subject: string) => countInbox(page, base, subject);
  const clickInEmail = (subject: string, button: string, seenBefore = 0) => clickInInbox(page, base, subject, button, seenBefore);

  async function bookAsCustomer(slug: string): Promise<Response> {
    const profile = await (await fetch(`${base}/api/v1/specialists/${slug}`)).json();
    const slots = await (await fetch(`${base}/api/v1/specialists/${slug}/services/${profile.services[0].id}/slots`)).json();
    return fetch(`${base}/api/v1/specialists/${slug}/bookings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ serviceId: profile.services[0].id, start: slots.slots[0].start, customer: { name: 'Paula Customer', email: 'paula@example.test' } }),
    });
  }

  it('signs in with the link from the inbox', async () => {
    await page.goto(`${base}/sign-in`);
    expect(await seriousAxeViolations(page)).toEqual([]);
    await page.getByLabel('Email address').fill('noor@example.test');
    await page.getByRole('button', { name: 'Email me a sign-in link' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Check your email' }).count()).toBe(1);
    await clickInEmail('Your sign-in link for specialist-booking', 'Sign in');
    // Opening the link asks first; only the button uses it (a mail scanner's visit would not).
    await page.waitForURL(/\/auth\/link\?token=/);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Sign in as n…@example.test?');
    expect(await seriousAxeViolations(page)).toEqual([]);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${base}/dashboard`);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Hello, Noor Haddad');
    expect(await page.locator('#zoom-status-title').textContent()).toContain('Not connected');
  });

  it('connects Zoom on the emulator consent page', async () => {
    const zoomUser = server.zoomEmulator!.controls.addUser({ display_name: 'Noor on Zoom', email: 'noor@zoom.test' });
    await page.goto(`${base}/settings`);
    expect(await seriousAxeViolations(page)).toEqual([]);
    await page.getByRole('button', { name: 'Connect Zoom' }).click();
    await page.waitForURL(/\/oauth\/authorize/);
    await page.getByLabel('Zoom account').selectOption(zoomUser.id);
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(`${base}/dashboard?zoom=connected`);
    expect(await page.getByRole('status').textContent()).toBe('Zoom connected — customers can book you.');
    expect(await page.locator('#zoom-status-title').textContent()).toContain('Healthy');
    expect(await page.getByText('Connected as Noor on Zoom (noor@zoom.test)').count()).toBe(1);
    expect((await bookAsCustomer('noor')).status).toBe(201);
    await page.reload();
    expect(await page.getByRole('cell', { name: /Paula Customer/ }).count()).toBe(1);
    expect(await seriousAxeViolations(page)).toEqual([]);
    await page.screenshot({ path: screenshotPath('dashboard.png'), fullPage: true });
  });

  it('turns the card to "needs re-authorization" when Zoom revoked the tokens and a booking failed, and the email re-authorizes in two clicks, without signing in', async () => {
    const zoomUser = server.zoomEmulator!.controls.users().find((u) => u.email === 'noor@zoom.test')!;
    server.zoomEmulator!.controls.revokeAllTokens(zoomUser.id);
    const failed = await bookAsCustomer('noor');
    expect(failed.status).toBe(409);
    expect(await failed.json()).toMatchObject({ requiresReAuth: true, specialistNotified: true });
    await page.goto(`${base}/dashboard`);
    expect(await page.locator('#zoom-status-title').textContent()).toContain('Needs re-authorization');
    expect(await page.getByText('1 booking attempt failed').count()).toBe(1);
    await page.screenshot({ path: screenshotPath('dashboard-needs-reauth.png'), fullPage: true });

    // The specialist opens the email: click 1 on its button, click 2 on "Allow".
    await context.clearCookies();
    await clickInEmail('⚠️ Action Required: Re-authorize Your Zoom Account - Strategy session', 'Re-authorize Zoom');
    await page.waitForURL(/\/oauth\/authorize/);
    await page.getByLabel('Zoom account').selectOption(zoomUser.id);
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(/\/oauth\/zoom\/callback\?/);
    expect(await page.getByRole('status').textContent()).toBe('Zoom re-authorized — customers can book again.');
    expect(await seriousAxeViolations(page)).toEqual([]);
    expect((await bookAsCustomer('noor')).status).toBe(201);
    await page.getByRole('link', { name: 'Sign in to your dashboard' }).click();
    await page.waitForURL(`${base}/sign-in?next=%2Fdashboard`);
  });

  it('lands on sign-in with a clear message when the emailed link was already used', async () => {
    await context.clearCookies();
    await clickInEmail('⚠️ Action Required: Re-authorize Your Zoom Account - Strategy session', 'Re-authorize Zoom');
    await page.waitForURL(/\/sign-in\?reason=used/);
    expect(await page.getByRole('alert').textContent()).toBe('That link was already used. Sign in again to continue.');
  });

  it('disconnects Zoom from settings', async () => {
    const seen = await countEmails('Your sign-in link for specialist-booking');
    await page.goto(`${base}/sign-in`);
    await page.getByLabel('Email address').fill('noor@example.test');
    await page.getByRole('button', { name: 'Email me a sign-in link' }).click();
    await clickInEmail('Your sign-in link for specialist-booking', 'Sign in', seen);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${base}/dashboard`);
    await page.goto(`${base}/settings`);
    await page.setViewportSize({ width: 1100, height: 900 });
    await page.screenshot({ path: screenshotPath('settings.png'), fullPage: true });
    await page.getByRole('button', { name: 'Disconnect' }).first().click();
    await page.waitForURL(`${base}/settings?zoom=disconnected#zoom`);
    expect(await page.getByRole('status').first().textContent()).toBe('Zoom disconnected. Customers cannot book you until you connect it again.');
    expect(await page.locator('#zoom-status-title').textContent()).toContain('Not connected');
  });

  it('connects another Zoom account after the disconnect, then switches again: the specialist gets an email each time', async () => {
    const other = server.zoomEmulator!.controls.addUser({ display_name: 'Noor Second', email: 'noor2@zoom.test' });
    const first = server.zoomEmulator!.controls.addUser({ display_name: 'Noor First', email: 'noor1@zoom.test' });
    const seen = await countEmails('Your connected Zoom account has changed');
    for (const user of [first, other]) {
      await page.goto(`${base}/settings`);
      await page.getByRole('button', { name: /^(Connect Zoom|Switch Zoom account)$/ }).first().click();
      await page.waitForURL(/\/oauth\/authorize/);
      await page.getByLabel('Zoom account').selectOption(user.id);
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.waitForURL(/\/dashboard\?zoom=/);
    }
    expect(await page.getByText('Connected as Noor Second (noor2@zoom.test)').count()).toBe(1);
    // Noor First differs from the account disconnected in the test before, and Noor Second from Noor First.
    await expect.poll(() => countEmails('Your connected Zoom account has changed'), { timeout: 10_000 }).toBe(seen + 2);
  });

  it('works on a phone-sized screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${base}/settings`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    expect(await seriousAxeViolations(page)).toEqual([]);
  });
  it('signs out everywhere from settings', async () => {
    await page.goto(`${base}/settings`);
    await page.getByRole('button', { name: 'Sign out everywhere' }).click();
    await page.waitForURL(`${base}/sign-in?reason=signed_out_everywhere`);
    expect(await page.getByRole('status').textContent()).toBe('You are signed out on every device.');
    await page.goto(`${base}/settings`);
    await page.waitForURL(`${base}/sign-in?next=%2Fsettings`);
  });

  it('runs the settings page’s script under the pages’ CSP, which refuses inline script', async () => {
    const strict = await browser.newContext();
    const { token } = await createSession(server.database.db, systemClock, noorId);
    await strict.addCookies([{ name: SESSION_COOKIE, value: token, url: base }]);
    const settings = await strict.newPage();
    const violations: string[] = [];
    settings.on('console', (message) => {
      if (message.text().includes('Content Security Policy')) violations.push(message.text());
    });
    await settings.goto(`${base}/settings`);
    await settings.getByRole('button', { name: 'Copy snippet' }).click();
    await expect.poll(() => settings.locator('#copy-status').textContent()).toMatch(/^(Copied\.|Select the snippet and copy it\.)$/);
    // An inline script, as an injected one would be, does not run.
    await settings.evaluate(() => {
      const script = document.createElement('script');
      script.textContent = 'document.body.dataset.inline = "ran"';
      document.body.append(script);
    });
    expect(await settings.evaluate(() => document.body.dataset.inline)).toBeUndefined();
    await expect.poll(() => violations.length).toBe(1);
    await strict.close();
  });
});
