/**
 * The widget in a React 19 app through `specialist-booking/react`, in
 * Chromium: the app is bundled with esbuild and served from its own origin,
 * the booking server is the real one `npm start` runs.
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../server/clock.js';
import { loadConfig } from '../../server/config.js';
import { DEMO_SLUG } from '../../server/demo/seed.js';
import { setAllowedOrigins } from '../../server/specialists/settings.js';
import { startServer, type RunningServer } from '../../server/start.js';
import { launchChromium, pickTimeOnSecondDay } from './helpers/browser.js';

const PAGE = '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>A React app</title></head><body><div id="root"></div><script type="module" src="/app.js"></script></body></html>';

/** Serves the React app: the page at `/`, its bundle at `/app.js`. */
async function startAppServer(bundle: string): Promise<{ origin: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const isBundle = req.url === '/app.js';
    res.writeHead(200, { 'content-type': isBundle ? 'text/javascript' : 'text/html; charset=utf-8' });
    res.end(isBundle ? bundle : PAGE);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe('the widget in a React 19 app, through @lit/react', () => {
  let dir: string;
  let server: RunningServer;
  let app: Awaited<ReturnType<typeof startAppServer>>;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sb-react-'));
    server = await startServer(loadConfig({ PORT: '0', DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`, DATA_DIR: dir, LOG_LEVEL: 'silent' }));
    const bundled = await build({
      entryPoints: [fileURLToPath(new URL('./helpers/react-page.ts', import.meta.url))],
      bundle: true,
      write: false,
      format: 'esm',
      target: 'es2022',
      conditions: ['production'],
      define: { 'process.env.NODE_ENV': '"production"' },
      logLevel: 'silent',
    });
    app = await startAppServer(bundled.outputFiles[0]!.text);
    const demo = await server.database.db.selectFrom('specialists').select('id').where('slug', '=', DEMO_SLUG).executeTakeFirstOrThrow();
    await setAllowedOrigins(server.database.db, systemClock, demo.id, `${server.publicUrl}\n${app.origin}`);
    browser = await launchChromium();
    page = await browser.newPage();
    page.setDefaultTimeout(10_000);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loads the specialist React sets after attaching, and books a slot', async () => {
    await page.goto(`${app.origin}/?specialist=${DEMO_SLUG}&api-base=${encodeURIComponent(server.publicUrl)}`);
    const widget = page.locator('specialist-booking');
    const heading = () => widget.getByRole('heading', { level: 2 }).textContent();
    await expect.poll(heading).toBe('Choose a session');
    await widget.getByRole('button', { name: /Intro call/ }).click();
    await pickTimeOnSecondDay(widget);
    await widget.getByLabel('Name').fill('Rena React');
    await widget.getByLabel('Email').fill('rena@example.test');
    await widget.getByRole('button', { name: 'Confirm booking' }).click();
    await expect.poll(heading).toBe('You’re booked ✓');
    // onBookingConfirmed, a React prop, received the booking's id.
    await expect.poll(() => page.locator('#confirmed-id').textContent()).toMatch(/^[0-9a-f-]{36}$/);
    const bookingId = (await page.locator('#confirmed-id').textContent())!;
    const booking = await server.database.db.selectFrom('bookings').select(['status', 'customer_name', 'customer_email']).where('id', '=', bookingId).executeTakeFirstOrThrow();
    expect(booking).toEqual({ status: 'confirmed', customer_name: 'Rena React', customer_email: 'rena@example.test' });
  });
});
