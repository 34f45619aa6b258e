// Time from navigation to the widget's content on screen, in headless Chromium
// on localhost, each over a floor measured in the same run (issue #18): the
// plain example page (examples/plain-site) with a static element in place of
// the widget. Prints one JSON line.
//
// Each round opens every page once, in a fresh browser context (cold cache),
// in turn, so a page and its floor see the same machine; the first round
// warms the server and is dropped. A page is "ready" in the first animation
// frame in which its element is in the DOM (the floor's static element, the
// widget's first time or first service), timed by the page's own clock from
// the navigation's start.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { loadConfig } from '../server/config.js';
import { startServer } from '../server/start.js';
import { launchChromium } from '../test/browser/helpers/browser.js';
import { round } from './lib.js';

const ROUNDS = Number(process.env.PAGE_LOAD_ROUNDS ?? 9);
const THROTTLE = 4;

const dir = mkdtempSync(join(tmpdir(), 'sb-pageload-'));
const server = await startServer(loadConfig({ PORT: '0', DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`, DATA_DIR: dir, LOG_LEVEL: 'silent' }));
const base = server.publicUrl;
const profile = (await (await fetch(`${base}/api/v1/specialists/demo`)).json()) as { services: { id: string }[] };

// The example page as a specialist's site has it; the snippet is the part Settings gives them.
const example = readFileSync('examples/plain-site/index.html', 'utf8');
const snippet = /<script type="module" src="\/widget\/specialist-booking\.js"><\/script>\s*<specialist-booking specialist="demo"><\/specialist-booking>/;
if (!snippet.test(example)) throw new Error('examples/plain-site/index.html: the embed snippet is not where the bench expects it');
const withSnippet = (replacement: string) => example.replace(snippet, replacement);

const WIDGET = 'specialist-booking';
const pages = {
  floor: {
    html: withSnippet('<div id="floor" style="display:block;max-width:480px;margin:24px auto;padding:16px;border:1px solid #ddd">Pick a time</div>'),
    ready: () => document.getElementById('floor'),
  },
  preselected: {
    html: withSnippet(`<script type="module" src="/widget/specialist-booking.js"></script>\n<${WIDGET} specialist="demo" service="${profile.services[0]!.id}"></${WIDGET}>`),
    ready: () => document.querySelector('specialist-booking')?.shadowRoot?.querySelector('[part~="slot"]'),
  },
  services: {
    html: example,
    ready: () => document.querySelector('specialist-booking')?.shadowRoot?.querySelector('[part~="service"]'),
  },
};
type PageName = keyof typeof pages;

/** Milliseconds from the navigation's start to the first frame with the page's element, and the bytes transferred by then. */
async function load(browser: Browser, name: PageName, throttle: number): Promise<{ ms: number; bytes: number }> {
  const context = await browser.newContext();
  const tab = await context.newPage();
  if (throttle > 1) await (await context.newCDPSession(tab)).send('Emulation.setCPUThrottlingRate', { rate: throttle });
  const url = `${base}/bench/${name}`;
  await tab.route(url, (route) => route.fulfill({ contentType: 'text/html', body: pages[name].html }));
  await tab.goto(url, { waitUntil: 'commit' });
  // The predicate runs in each animation frame and returns the page's clock when the element is there.
  const ready = pages[name].ready;
  const handle = await tab.waitForFunction(`(${ready.toString()})() ? performance.now() : 0`, undefined, { polling: 'raf', timeout: 30_000 });
  const at = (await handle.jsonValue()) as number;
  const measured = await tab.evaluate((readyAt) => {
    const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
    const resources = performance.getEntriesByType('resource') as PerformanceResourceTiming[];
    return { ms: readyAt - nav.startTime, bytes: nav.transferSize + resources.reduce((sum, r) => sum + r.transferSize, 0) };
  }, at);
  await context.close();
  return measured;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const plan: { key: string; page: PageName; throttle: number }[] = [
  { key: 'floor', page: 'floor', throttle: 1 },
  { key: 'preselected', page: 'preselected', throttle: 1 },
  { key: 'services', page: 'services', throttle: 1 },
  { key: 'floorThrottled', page: 'floor', throttle: THROTTLE },
  { key: 'preselectedThrottled', page: 'preselected', throttle: THROTTLE },
];
const samples: Record<string, number[]> = Object.fromEntries(plan.map((p) => [p.key, []]));
const added: Record<string, number[]> = { preselected: [], services: [], preselectedThrottled: [] };
let bytes = 0;

const browser = await launchChromium();
for (let round_ = 0; round_ < ROUNDS; round_++) {
  const times: Record<string, number> = {};
  for (const p of round_ % 2 ? [...plan].reverse() : plan) {
    const m = await load(browser, p.page, p.throttle);
    times[p.key] = m.ms;
    if (p.key === 'preselected') bytes = m.bytes;
  }
  if (round_ === 0) continue;
  for (const key of Object.keys(samples)) samples[key]!.push(times[key]!);
  added.preselected!.push(times.preselected! - times.floor!);
  added.services!.push(times.services! - times.floor!);
  added.preselectedThrottled!.push(times.preselectedThrottled! - times.floorThrottled!);
}
await browser.close();
await server.close();

const medians = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, round(median(v), 1)]));
console.log(
  JSON.stringify({
    runs: ROUNDS - 1,
    throttle: THROTTLE,
    medianMs: medians,
    // The median of each round's difference: the page and its floor loaded moments apart.
    addedMs: Object.fromEntries(Object.entries(added).map(([k, v]) => [k, round(median(v), 1)])),
    bytesTransferred: bytes,
  }),
);
