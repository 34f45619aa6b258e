/**
 * The examples, as `npm start` serves them, used in Chromium: the plain site
 * that embeds the widget, and the custom frontend built on the SDK alone.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.js';
import { startServer, type RunningServer } from '../../server/start.js';
import { launchChromium, pickTimeOnSecondDay } from './helpers/browser.js';

describe('examples in Chromium', () => {
  let dir: string;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sb-examples-'));
    server = await startServer(loadConfig({ PORT: '0', DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`, DATA_DIR: dir, LOG_LEVEL: 'silent' }));
    browser = await launchChromium();
    page = await browser.newPage();
    page.setDefaultTimeout(10_000);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the widget bundle to any site', async () => {
    const res = await fetch(`${server.publicUrl}/widget/specialist-booking.js`, { headers: { origin: 'https://any-site.example' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/javascript/);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
  });

  it.each([
    ['plain-site', '/examples/plain-site/'],
    ['the hosted booking page', '/book/demo'],
  ])('%s: the widget takes the profile from the page’s preload hint, not a second request', async (_, path) => {
    const profileRequests: string[] = [];
    const listen = (request: { url(): string; resourceType(): string }) => {
      if (request.url() === `${server.publicUrl}/api/v1/specialists/demo`) profileRequests.push(request.resourceType());
    };
    page.on('request', listen);
    try {
      await page.goto(`${server.publicUrl}${path}`);
      await expect.poll(() => page.locator('specialist-booking').getByRole('button', { name: /Intro call/ }).count()).toBe(1);
    } finally {
      page.off('request', listen);
    }
    expect(profileRequests).toHaveLength(1);
    expect(await page.evaluate(() => performance.getEntriesByType('resource').filter((e) => e.name.endsWith('/api/v1/specialists/demo')).map((e) => (e as PerformanceResourceTiming).initiatorType))).toEqual(['link']);
  });

  it('plain-site: a customer books through the embedded widget', async () => {
    await page.goto(`${server.publicUrl}/examples/plain-site/`);
    const widget = page.locator('specialist-booking');
    await widget.getByRole('button', { name: /Intro call/ }).click();
    await pickTimeOnSecondDay(widget);
    await widget.getByLabel('Name').fill('Pat Plainsite');
    await widget.getByLabel('Email').fill('pat@example.test');
    await widget.getByRole('button', { name: 'Confirm booking' }).click();
    await expect.poll(() => widget.getByRole('heading', { level: 2 }).textContent()).toBe('You’re booked ✓');
    expect(await widget.locator('[part~="success"]').textContent()).toContain('The Zoom link is in your email (pat@example.test).');
  });

  it('custom-frontend: a customer books through a page that uses only the SDK', async () => {
    await page.goto(`${server.publicUrl}/examples/custom-frontend/`);
    await expect.poll(() => page.locator('#name').textContent()).toBe('Dr. Maya Lindqvist');
    // Not the first of the next twelve times: on the real clock it may pass the notice while the customer types.
    await page.locator('#slots button').nth(4).click();
    await page.getByLabel('Name').fill('Cy Custom');
    await page.getByLabel('Email').fill('cy@example.test');
    await page.getByRole('button', { name: 'Book' }).click();
    await expect.poll(() => page.locator('#message').textContent()).toMatch(/^Booked! Your Zoom link: http:\/\/127\.0\.0\.1:\d+\/j\/\d+\?pwd=\w+ \(also in your email\)\.$/);
  });

  it('custom-frontend: handles requires_reauth in its own words', async () => {
    const maya = server.zoomEmulator!.controls.users().find((u) => u.display_name === 'Maya Lindqvist')!;
    server.zoomEmulator!.controls.revokeAllTokens(maya.id);
    await page.goto(`${server.publicUrl}/examples/custom-frontend/`);
    await page.locator('#slots button').nth(8).click();
    await page.getByLabel('Name').fill('Rae Reauth');
    await page.getByLabel('Email').fill('rae@example.test');
    await page.getByRole('button', { name: 'Book' }).click();
    await expect
      .poll(() => page.locator('#message').textContent())
      .toBe('Dr. Maya Lindqvist needs to reconnect their video account before new bookings can be made. Dr. Maya Lindqvist has been notified by email. Please try again later.');
  });
});
