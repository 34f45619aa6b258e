/**
 * Issue #17's story in a real browser, on the stack `npm start` runs
 * (SQLite, Zoom emulator, local SMTP and inbox, the job worker): a customer
 * books while the specialist's Zoom tokens are dead and is told the time is
 * held; the specialist re-authorizes from the email; the held request is
 * confirmed by itself, with the normal invitation, and exactly one meeting.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.js';
import { startServer, type RunningServer } from '../../server/start.js';
import { clickInEmail, countEmails, launchChromium, pickTimeOnSecondDay, screenshotPath } from './helpers/browser.js';

const REAUTH_SUBJECT_START = '⚠️ Action Required: Re-authorize Your Zoom Account';
const REAUTH_SUBJECT = `${REAUTH_SUBJECT_START} - Intro call`;
const SPECIALIST_EMAIL = 'maya@demo.specialist-booking.test';
const CUSTOMER_EMAIL = 'hugo@example.test';
/** The customer's browser: its locale and zone are the widget's defaults. */
const CUSTOMER_LOCALE = 'en-GB';
const CUSTOMER_ZONE = 'Europe/Lisbon';

/** An instant as the widget says it to this customer: "Thursday 3 December at 8:00". */
function asTheWidgetSaysIt(iso: string): string {
  return new Intl.DateTimeFormat(CUSTOMER_LOCALE, { timeZone: CUSTOMER_ZONE, weekday: 'long', day: 'numeric', month: 'long', hour: 'numeric', minute: '2-digit' }).format(new Date(iso));
}

describe('a held request in Chromium', () => {
  let dir: string;
  let server: RunningServer;
  let browser: Browser;
  let customer: Page;
  let specialist: Page;
  let base: string;
  const db = () => server.database.db;
  const maya = () => server.zoomEmulator!.controls.users().find((u) => u.display_name === 'Maya Lindqvist')!;
  const inboxFor = (address: string) => server.inbox!.messages().filter((m) => m.to.includes(address));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sb-held-story-'));
    server = await startServer(loadConfig({ PORT: '0', DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`, DATA_DIR: dir, LOG_LEVEL: 'silent' }), { outboxPollMs: 20 });
    base = server.publicUrl;
    browser = await launchChromium();
    customer = await (await browser.newContext({ viewport: { width: 900, height: 900 }, locale: CUSTOMER_LOCALE, timezoneId: CUSTOMER_ZONE })).newPage();
    specialist = await (await browser.newContext({ viewport: { width: 1000, height: 800 } })).newPage();
    for (const page of [customer, specialist]) page.setDefaultTimeout(10_000);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the customer is told the time is held; the specialist re-authorizes from the email; it is confirmed with the invite and one meeting', async () => {
    // (a) Maya's tokens die; a customer books a free Intro call on the plain site.
    server.zoomEmulator!.controls.revokeAllTokens(maya().id);
    const seenReauth = await countEmails(specialist, base, REAUTH_SUBJECT);
    await customer.goto(`${base}/examples/plain-site/`);
    const widget = customer.locator('specialist-booking');
    await widget.getByRole('button', { name: /Intro call/ }).click();
    await pickTimeOnSecondDay(widget);
    await widget.getByLabel('Name').fill('Hugo Held');
    await widget.getByLabel('Email').fill(CUSTOMER_EMAIL);
    await widget.getByRole('button', { name: 'Confirm booking' }).click();

    const dialog = widget.locator('dialog');
    await expect.poll(() => dialog.isVisible()).toBe(true);
    const held = await db().selectFrom('bookings').selectAll().where('customer_email', '=', CUSTOMER_EMAIL).executeTakeFirstOrThrow();
    expect(held.status).toBe('held');
    expect(held.customer_time_zone).toBe(CUSTOMER_ZONE);
    expect(Date.parse(held.hold_expires_at!)).toBeGreaterThan(Date.now() + 30 * 60_000);
    expect(await dialog.getByRole('heading').textContent()).toBe('🔄 Zoom Authorization Required');
    expect(await dialog.locator('#reauth-body').textContent()).toBe('Dr. Maya Lindqvist’s video link needs to be reconnected before this time can be confirmed.');
    expect(await dialog.locator('.notified').textContent()).toBe('✓ Dr. Maya Lindqvist was notified by email');
    expect(await dialog.locator('.held').textContent()).toBe(
      `We’re holding ${asTheWidgetSaysIt(held.start_at)} for you until ${asTheWidgetSaysIt(held.hold_expires_at!)}. You’ll get an email as soon as it’s confirmed; there is nothing else to do.`,
    );
    await customer.screenshot({ path: screenshotPath('hold-modal.png') });

    // The customer's "We're holding" email arrives at once, before anyone re-authorizes.
    await expect.poll(() => inboxFor(CUSTOMER_EMAIL).map((m) => m.subject), { timeout: 10_000 }).toEqual(["We're holding Intro call with Dr. Maya Lindqvist for you"]);
    expect(inboxFor(CUSTOMER_EMAIL)[0]!.text).toContain("You'll get an email as soon as it's confirmed; there is nothing else to do.");

    // The customer closes the modal: a calm notice, and the held time is not offered again.
    await customer.keyboard.press('Escape');
    await expect.poll(() => widget.locator('.notice').textContent()).toBe(`We’re holding ${asTheWidgetSaysIt(held.start_at)} for you. You’ll get an email as soon as it’s confirmed.`);
    expect(await widget.getByText('could not be booked').count()).toBe(0);

    // (b) The specialist opens the re-auth email: it says by when, and for how many, then clicks its link and "Allow".
    await expect.poll(() => countEmails(specialist, base, REAUTH_SUBJECT), { timeout: 10_000 }).toBe(seenReauth + 1);
    const reauthEmails = inboxFor(SPECIALIST_EMAIL).filter((m) => m.subject.startsWith(REAUTH_SUBJECT_START));
    expect(reauthEmails.map((m) => m.subject)).toEqual([REAUTH_SUBJECT]);
    expect(reauthEmails[0]!.text).toContain('Re-authorize by');
    expect(reauthEmails[0]!.text).toContain('to confirm 1 waiting customer');
    expect(reauthEmails[0]!.text).toContain('Hugo Held tried to book "Intro call"');
    expect(server.zoomEmulator!.controls.meetings(maya().id)).toHaveLength(0);
    await clickInEmail(specialist, base, REAUTH_SUBJECT, 'Re-authorize Zoom', seenReauth);
    await specialist.waitForURL(/\/oauth\/authorize/);
    await specialist.getByRole('button', { name: 'Allow' }).click();
    await specialist.waitForURL(new RegExp(`^${base}/oauth/zoom/callback\\?`));
    expect(await specialist.getByRole('heading', { level: 1 }).textContent()).toBe('Zoom is re-authorized');

    // (c) The job worker confirms the held request: the row, the normal invitation with its .ics, one meeting.
    await expect
      .poll(async () => (await db().selectFrom('bookings').select('status').where('id', '=', held.id).executeTakeFirstOrThrow()).status, { timeout: 15_000 })
      .toBe('confirmed');
    const confirmed = await db().selectFrom('bookings').selectAll().where('id', '=', held.id).executeTakeFirstOrThrow();
    expect(confirmed.zoom_join_url).toMatch(/^https?:\/\//);
    await expect.poll(() => inboxFor(CUSTOMER_EMAIL).length, { timeout: 10_000 }).toBe(2);
    const invite = inboxFor(CUSTOMER_EMAIL)[1]!;
    expect(invite.subject).toBe('Confirmed: Intro call with Dr. Maya Lindqvist');
    expect(invite.text).toContain(confirmed.zoom_join_url!);
    expect(invite.attachments.map((a) => a.filename)).toEqual(['invite.ics']);
    expect(invite.attachments[0]!.content).toContain(`LOCATION:${confirmed.zoom_join_url}`);
    await expect.poll(() => inboxFor(SPECIALIST_EMAIL).filter((m) => m.subject === 'New booking: Intro call with Hugo Held').length, { timeout: 10_000 }).toBe(1);
    const meetings = server.zoomEmulator!.controls.meetings(maya().id);
    expect(meetings).toHaveLength(1);
    expect(meetings[0]!.agenda).toContain(held.id);
    expect((await db().selectFrom('zoom_connections').select('status').executeTakeFirstOrThrow()).status).toBe('active');
  });
});
