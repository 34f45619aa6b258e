// Time from page load to slots visible in headless Chromium on localhost, and
// the bytes transferred until then. Prints one JSON line.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../server/config.js';
import { startServer } from '../server/start.js';
import { launchChromium } from '../test/browser/helpers/browser.js';
import { summarize } from './lib.js';

const RUNS = 7;
const dir = mkdtempSync(join(tmpdir(), 'sb-pageload-'));
const server = await startServer(loadConfig({ PORT: '0', DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`, DATA_DIR: dir, LOG_LEVEL: 'silent' }));
const base = server.publicUrl;
const profile = await (await fetch(`${base}/api/v1/specialists/demo`)).json();
const page = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Bench</title></head><body>
<script type="module" src="/widget/specialist-booking.js"></script>
<specialist-booking specialist="demo" service="${profile.services[0].id}"></specialist-booking></body></html>`;

const browser = await launchChromium();
const times: number[] = [];
const bytes: number[] = [];
for (let i = 0; i < RUNS; i++) {
  const context = await browser.newContext();
  const tab = await context.newPage();
  await tab.route(`${base}/bench-page`, (route) => route.fulfill({ contentType: 'text/html', body: page }));
  await tab.goto(`${base}/bench-page`);
  await tab.waitForFunction(() => document.querySelector('specialist-booking')?.shadowRoot?.querySelector('[part~="slot"]'), undefined, { polling: 'raf' });
  const measured = await tab.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
    const resources = performance.getEntriesByType('resource') as PerformanceResourceTiming[];
    return { ms: performance.now() - nav.startTime, bytes: nav.transferSize + resources.reduce((sum, r) => sum + r.transferSize, 0) };
  });
  if (i > 0) {
    times.push(measured.ms);
    bytes.push(measured.bytes);
  }
  await context.close();
}
await browser.close();
await server.close();
console.log(JSON.stringify({ runs: RUNS - 1, slotsVisible: summarize(times), bytesTransferred: summarize(bytes).p50 }));
