/**
 * The whole story in a real browser, on the stack `npm start` runs (SQLite,
 * Zoom emulator, local SMTP and inbox): customers book on the plain site,
 * the specialist fixes Zoom from the email. Each scenario checks what the
 * person sees and what is stored.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.js';
import { startServer, type RunningServer } from '../../server/start.js';
import { clickInEmail, countEmails, launchChromium, pickTimeOnSecondDay, screenshotPath } from './helpers/browser.js';

const REAUTH_SUBJECT = '⚠️ Action Required: Re-authorize Your Zoom Account - Intro call';

describe('the whole story in Chromium', () => {
  let dir: string;
  let server: RunningServer;
  let browser: Browser;
  let customer: Page;
  let specialist: Page;
  let base: string;
  const db = () => server.database.db;
  const maya = () => server.zoomEmulator!.controls.users().find((u) => u.display_name === 'Maya Lindqvist')!;
  const inboxFor = (address: string) => server.inbox!.messages().filter((m) => m.to.includes(address));
  const SPECIALIST_EMAIL = 'maya@demo.specialist-booking.test';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sb-story-'));
    server = await startServer(loadConfig({ PORT: '0', DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`, DATA_DIR: dir, LOG_LEVEL: 'silent' }), { outboxPollMs: 20 });
    base = server.publicUrl;
    // The seed's story, as the seed told it: a specialist who holds nothing (hold window 0), so a time that
    // needs re-authorizing is released. The default, with held requests, is held-story.test.ts.
    await server.database.db.updateTable('specialists').set({ hold_window_minutes: 0 }).execute();
    browser = await launchChromium();
    customer = await browser.newPage({ viewport: { width: 900, height: 900 } });
    specialist = await (await browser.newContext({ viewport: { width: 1000, height: 800 } })).newPage();
    for (const page of [customer, specialist]) page.setDefaultTimeout(10_000);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A customer books a free Intro call on the plain site (see pickTimeOnSecondDay) and presses Confirm. */
  async function bookOnPlainSite(name: string, email: string): Promise<void> {
    await customer.goto(`${base}/examples/plain-site/`);
    const widget = customer.locator('specialist-booking');
    await widget.getByRole('button', { name: /Intro call/ }).click();
    await pickTimeOnSecondDay(widget);
    await widget.getByLabel('Name').fill(name);
    await widget.getByLabel('Email').fill(email);
    await widget.getByRole('button', { name: 'Confirm booking' }).click();
  }

  const widgetHeading = () => customer.locator('specialist-booking').getByRole('heading', { level: 2 }).first().textContent();

  it('1. valid token: booked, both inboxes hold an invite with the same Zoom link and an .ics, one meeting', async () => {
    await bookOnPlainSite('Vera Valid', 'vera@example.test');
    await expect.poll(widgetHeading).toBe('You’re booked ✓');
    const booking = await db().selectFrom('bookings').selectAll().where('customer_email', '=', 'vera@example.test').executeTakeFirstOrThrow();
    expect(booking.status).toBe('confirmed');
    await expect.poll(() => inboxFor('vera@example.test').length, { timeout: 10_000 }).toBe(1);
    await expect.poll(() => inboxFor(SPECIALIST_EMAIL).filter((m) => m.subject === 'New booking: Intro call with Vera Valid').length).toBe(1);
    const toCustomer = inboxFor('vera@example.test')[0]!;
    const toSpecialist = inboxFor(SPECIALIST_EMAIL).find((m) => m.subject === 'New booking: Intro call with Vera Valid')!;
    for (const mail of [toCustomer, toSpecialist]) {
      expect(mail.text).toContain(booking.zoom_join_url!);
      expect(mail.attachments.map((a) => a.filename)).toEqual(['invite.ics']);
      expect(mail.attachments[0]!.content).toContain(`LOCATION:${booking.zoom_join_url}`);
    }
    expect(server.zoomEmulator!.controls.meetings(maya().id).filter((m) => m.agenda.includes(booking.id))).toHaveLength(1);
  });

  it('3. expired access token, good refresh token: booked, and no Zoom email to the specialist', async () => {
    await db().updateTable('zoom_connections').set({ access_token_expires_at: new Date(Date.now() - 1000).toISOString() }).execute();
    server.zoomEmulator!.controls.expireAccessTokens(maya().id);
    const refreshesBefore = server.zoomEmulator!.controls.tokenRequests().filter((r) => r.grantType === 'refresh_token').length;
    await bookOnPlainSite('Eli Expired', 'eli@example.test');
    await expect.poll(widgetHeading).toBe('You’re booked ✓');
    expect(server.zoomEmulator!.controls.tokenRequests().filter((r) => r.grantType === 'refresh_token').length).toBe(refreshesBefore + 1);
    expect((await db().selectFrom('zoom_connections').select('status').executeTakeFirstOrThrow()).status).toBe('active');
    await expect.poll(() => inboxFor('eli@example.test').length, { timeout: 10_000 }).toBe(1);
    expect(inboxFor(SPECIALIST_EMAIL).filter((m) => m.subject.startsWith('⚠️'))).toHaveLength(0);
  });

  it('4. refresh fails: modal and email; the specialist re-authorizes from the email; the customer books', async () => {
    server.zoomEmulator!.controls.revokeAllTokens(maya().id);
    const seenReauth = await countEmails(specialist, base, REAUTH_SUBJECT);
    await bookOnPlainSite('Rita Revoked', 'rita@example.test');
    const dialog = customer.locator('specialist-booking').locator('dialog');
    await expect.poll(() => dialog.isVisible()).toBe(true);
    expect(await dialog.getByRole('heading').textContent()).toBe('🔄 Zoom Authorization Required');
    expect(await dialog.locator('.notified').textContent()).toBe('✓ Dr. Maya Lindqvist was notified by email');
    expect(await customer.evaluate(() => document.querySelector('specialist-booking')!.shadowRoot!.activeElement?.textContent)).toBe('Got it, thanks');
    await customer.screenshot({ path: screenshotPath('reauth-modal.png') });
    expect(await db().selectFrom('bookings').select('id').where('customer_email', '=', 'rita@example.test').execute()).toEqual([]);
    expect((await db().selectFrom('zoom_connections').select(['status', 'invalid_reason']).executeTakeFirstOrThrow())).toEqual({ status: 'invalid', invalid_reason: 'refresh_token_rejected' });

    // The specialist opens the email in the inbox: it names the customer and the service.
    await expect.poll(() => countEmails(specialist, base, REAUTH_SUBJECT), { timeout: 10_000 }).toBe(seenReauth + 1);
    const email = inboxFor(SPECIALIST_EMAIL).find((m) => m.subject === REAUTH_SUBJECT)!;
    expect(email.text).toContain('Rita Revoked tried to book "Intro call"');
    await specialist.getByRole('link', { name: REAUTH_SUBJECT }).first().click();
    await specialist.screenshot({ path: screenshotPath('reauth-email.png'), fullPage: true });
    await clickInEmail(specialist, base, REAUTH_SUBJECT, 'Re-authorize Zoom', seenReauth);
    await specialist.waitForURL(/\/oauth\/authorize/);
    await specialist.getByRole('button', { name: 'Allow' }).click();
    // The page after "Allow" says it is done; it signs nobody in (the dashboard needs a normal sign-in).
    await specialist.waitForURL(new RegExp(`^${base}/oauth/zoom/callback\\?`));
    expect(await specialist.getByRole('status').textContent()).toBe('Zoom re-authorized — customers can book again.');
    expect(await specialist.getByRole('heading', { level: 1 }).textContent()).toBe('Zoom is re-authorized');
    await specialist.screenshot({ path: screenshotPath('reauthorized.png'), fullPage: true });
    expect((await db().selectFrom('zoom_connections').select(['status', 'zoom_user_id']).executeTakeFirstOrThrow())).toEqual({ status: 'active', zoom_user_id: maya().id });
    expect((await specialist.context().cookies()).map((c) => c.name)).not.toContain('sb_session');
    await specialist.goto(`${base}/dashboard`);
    await specialist.waitForURL(`${base}/sign-in?next=%2Fdashboard`);

    // The customer closes the modal, focus returns to Confirm, and booking again works.
    await customer.keyboard.press('Escape');
    expect(await customer.evaluate(() => document.querySelector('specialist-booking')!.shadowRoot!.activeElement?.textContent?.trim())).toBe('Confirm booking');
    await customer.locator('specialist-booking').getByRole('button', { name: 'Confirm booking' }).click();
    await expect.poll(widgetHeading).toBe('You’re booked ✓');
    expect((await db().selectFrom('bookings').select('status').where('customer_email', '=', 'rita@example.test').executeTakeFirstOrThrow()).status).toBe('confirmed');
  });

  it('2. no token: the customer sees the modal with "notified"; the specialist’s inbox names the customer and service', async () => {
    // The state of a specialist who never connected Zoom: no connection at all.
    await db().deleteFrom('zoom_connections').execute();
    await db().deleteFrom('reauth_notices').execute();
    const seenReauth = inboxFor(SPECIALIST_EMAIL).filter((m) => m.subject === REAUTH_SUBJECT).length;
    await bookOnPlainSite('Nadia NoToken', 'nadia@example.test');
    const dialog = customer.locator('specialist-booking').locator('dialog');
    await expect.poll(() => dialog.isVisible()).toBe(true);
    expect(await dialog.locator('.notified').textContent()).toBe('✓ Dr. Maya Lindqvist was notified by email');
    await expect.poll(() => inboxFor(SPECIALIST_EMAIL).filter((m) => m.subject === REAUTH_SUBJECT).length, { timeout: 10_000 }).toBe(seenReauth + 1);
    const newest = inboxFor(SPECIALIST_EMAIL).filter((m) => m.subject === REAUTH_SUBJECT).at(-1)!;
    expect(newest.text).toContain('Nadia NoToken tried to book "Intro call"');
    expect(await db().selectFrom('bookings').select('id').where('customer_email', '=', 'nadia@example.test').execute()).toEqual([]);
  });
});
