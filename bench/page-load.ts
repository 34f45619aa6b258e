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
//
// Nothing of the driver runs in the page while it loads: the pages are served
// over HTTP by bench/page-site-process.ts (no request interception), and the
// page watches for its element from a script added at document creation,
// read over CDP once it is ready.
//
// For reference, one more floor and a trace: the floor page paying Chromium's
// first `Intl` call (one time formatted), and, in separate traced loads, the
// CPU time and the wall time of the page's main-thread tasks until ready, which
// tell the widget's own work from waiting for one of this machine's cores.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../test/browser/helpers/browser.js';
import { embedSnippet } from '../server/http/pages/embed-snippet.js';
import { round, spawnTs } from './lib.js';

/** 20 measured: on this 2-core machine the median of 8 rounds moved by ±50 ms from one run to the next. */
const ROUNDS = Number(process.env.PAGE_LOAD_ROUNDS ?? 21);
const THROTTLE = 4;
/** A phone's round trip to the booking server, added by Chromium to every request (CDP `Network.emulateNetworkConditions`), for the rows that say so. */
const LATENCY_MS = 150;
/** A new context's window loads its own UI (the omnibox's pages) for about half a second: navigate after it. */
const SETTLE_MS = Number(process.env.PAGE_LOAD_SETTLE_MS ?? 1000);
/** `PAGE_LOAD_DEBUG=1`: each page's resource timings, on stderr. */
const DEBUG = process.env.PAGE_LOAD_DEBUG === '1';
/** `PAGE_LOAD_TRACE=<file>`: a Chromium trace of the last round's load of `PAGE_LOAD_TRACE_PAGE` (a plan key, default `services`), for DevTools' Performance panel. */
const TRACE = process.env.PAGE_LOAD_TRACE;

const dir = mkdtempSync(join(tmpdir(), 'sb-pageload-'));
/** `PAGE_LOAD_OTHER_WIDGET=<file>`: also loads the pages with another build of the widget, in the same rounds. */
const OTHER = process.env.PAGE_LOAD_OTHER_WIDGET;
const site = await spawnTs('bench/page-site-process.ts', { BENCH_PAGES_DIR: dir, ...(OTHER ? { BENCH_OTHER_WIDGET: OTHER } : {}) });
const base = site.info.url!;
const profile = (await (await fetch(`${base}/api/v1/specialists/demo`)).json()) as { services: { id: string }[] };

// The example page as a specialist's site has it, with the snippet Settings gives them (on the server's own origin: no api-base).
const example = readFileSync('examples/plain-site/index.html', 'utf8');
/** embedSnippet('demo'), line by line, however the page indents it. */
const snippet = new RegExp(embedSnippet('demo').toString().split('\n').map((line) => line.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('\\s*'));
if (!snippet.test(example)) throw new Error(`examples/plain-site/index.html: the embed snippet is not embedSnippet('demo'), ${snippet}`);
const withSnippet = (replacement: string) => example.replace(snippet, replacement);

const serviceId = profile.services[0]!.id;
/** The snippet as Settings gives it for one service, with the widget from `src`, and with its preload hints or `withoutHints`. */
const embedService = (src: string, withoutHints = false) => {
  const html = embedSnippet('demo', { serviceId }).toString().replace('src="/widget/specialist-booking.js"', `src="${src}"`);
  return withoutHints ? html.replace(/\n<link rel="preload"[^>]*>/g, '') : html;
};
const slotVisible = `document.querySelector('specialist-booking')?.shadowRoot?.querySelector('[part~="slot"]')`;
const serviceVisible = `document.querySelector('specialist-booking')?.shadowRoot?.querySelector('[part~="service"]')`;
/** What stands in the widget's place on the floor pages. */
const floorElement = '<div id="floor" style="display:block;max-width:480px;margin:24px auto;padding:16px;border:1px solid #ddd">Pick a time</div>';
const pages: Record<string, { html: string; ready: string }> = {
  floor: { html: withSnippet(floorElement), ready: `document.getElementById('floor')` },
  // The floor with Chromium's one-time cost of a page's first `Intl` call, which loads ICU's locale data: one time formatted.
  floorIntl: {
    html: withSnippet(
      `${floorElement}\n<script>document.getElementById('floor').title = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' }).format(new Date());</script>`,
    ),
    ready: `document.getElementById('floor')?.title`,
  },
  preselected: { html: withSnippet(embedService('/widget/specialist-booking.js')), ready: slotVisible },
  preselectedWithoutHints: { html: withSnippet(embedService('/widget/specialist-booking.js', true)), ready: slotVisible },
  services: { html: example, ready: serviceVisible },
  ...(OTHER && {
    preselectedOther: { html: withSnippet(embedService('/bench-other/specialist-booking.js')), ready: slotVisible },
    servicesOther: {
      html: example.replace('src="/widget/specialist-booking.js"', 'src="/bench-other/specialist-booking.js"'),
      ready: serviceVisible,
    },
  }),
};
for (const [name, page] of Object.entries(pages)) writeFileSync(join(dir, `${name}.html`), page.html);

/**
 * Watches, in each animation frame from the document's creation, for the
 * page's element, and keeps the page's clock of the first frame that has it.
 */
const watchFor = (predicate: string) => `(() => {
  let resolve;
  window.__benchReady = new Promise((r) => (resolve = r));
  const check = () => ((${predicate}) ? resolve(performance.now()) : requestAnimationFrame(check));
  requestAnimationFrame(check);
})();`;

/** The trace `PAGE_LOAD_TRACE` asks for, for DevTools' Performance panel. */
const DEVTOOLS_CATEGORIES = ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8.execute', 'blink.user_timing', 'loading', 'netlog', 'disabled-by-default-v8.compile'];

/** Milliseconds from the navigation's start to the first frame with the page's element, and the bytes transferred by then. */
async function load(browser: Browser, name: string, throttle: number, latencyMs: number, trace?: string, categories = DEVTOOLS_CATEGORIES): Promise<{ ms: number; bytes: number }> {
  const context = await browser.newContext();
  await context.addInitScript(watchFor(pages[name]!.ready));
  const tab = await context.newPage();
  if (DEBUG) tab.on('console', (m) => console.error(name, throttle, m.text()));
  const cdp = await context.newCDPSession(tab);
  if (throttle > 1) await cdp.send('Emulation.setCPUThrottlingRate', { rate: throttle });
  if (latencyMs > 0) {
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: latencyMs, downloadThroughput: -1, uploadThroughput: -1 });
  }
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  if (trace) await browser.startTracing(tab, { path: trace, screenshots: false, categories });
  await tab.goto(`${base}/bench/${name}`, { waitUntil: 'commit' });
  const { result, exceptionDetails } = await cdp.send('Runtime.evaluate', {
    // A page that never shows its element fails the run instead of hanging it (CDP's own timeout ends at the first await).
    expression: `Promise.race([window.__benchReady, new Promise((_, reject) => setTimeout(() => reject(new Error('not ready within 30 s')), 30_000))]).then((readyAt) => {
      const nav = performance.getEntriesByType('navigation')[0];
      const resources = performance.getEntriesByType('resource');
      if (${Boolean(DEBUG)}) console.log(JSON.stringify({ readyAt, resources: resources.map((r) => [r.name.slice(-40), ...['startTime', 'requestStart', 'responseStart', 'responseEnd'].map((k) => Math.round(r[k]))]) }));
      return { ms: readyAt - nav.startTime, bytes: nav.transferSize + resources.reduce((sum, r) => sum + r.transferSize, 0) };
    })`,
    awaitPromise: true,
    returnByValue: true,
  });
  if (trace) await browser.stopTracing();
  if (exceptionDetails) throw new Error(`${name}: ${exceptionDetails.exception?.description ?? exceptionDetails.text}`);
  await context.close();
  return result.value as { ms: number; bytes: number };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
/** Each series' median, to a tenth of a millisecond. */
const mediansOf = (series: Record<string, number[]>) => Object.fromEntries(Object.entries(series).map(([k, v]) => [k, round(median(v), 1)]));

/**
 * Each measurement: a page at a CPU throttle and a network round trip (0: as
 * localhost has it), and the floor it is measured over (none for a floor).
 */
const plan: { key: string; page: string; throttle: number; latencyMs?: number; over?: string }[] = [
  { key: 'floor', page: 'floor', throttle: 1 },
  { key: 'preselected', page: 'preselected', throttle: 1, over: 'floor' },
  { key: 'services', page: 'services', throttle: 1, over: 'floor' },
  { key: 'floorIntl', page: 'floorIntl', throttle: 1, over: 'floor' },
  { key: 'floorThrottled', page: 'floor', throttle: THROTTLE },
  { key: 'floorIntlThrottled', page: 'floorIntl', throttle: THROTTLE, over: 'floorThrottled' },
  { key: 'preselectedThrottled', page: 'preselected', throttle: THROTTLE, over: 'floorThrottled' },
  // What the snippet's preload hints are for: a phone's network, where each round trip is felt.
  { key: 'floorSlowNetwork', page: 'floor', throttle: 1, latencyMs: LATENCY_MS },
  { key: 'preselectedSlowNetwork', page: 'preselected', throttle: 1, latencyMs: LATENCY_MS, over: 'floorSlowNetwork' },
  { key: 'preselectedWithoutHintsSlowNetwork', page: 'preselectedWithoutHints', throttle: 1, latencyMs: LATENCY_MS, over: 'floorSlowNetwork' },
  ...(OTHER
    ? [
        { key: 'preselectedOther', page: 'preselectedOther', throttle: 1, over: 'floor' },
        { key: 'servicesOther', page: 'servicesOther', throttle: 1, over: 'floor' },
        { key: 'preselectedOtherThrottled', page: 'preselectedOther', throttle: THROTTLE, over: 'floorThrottled' },
      ]
    : []),
];
/** The widget over the floor that pays the first `Intl` call too: what the widget adds beyond what any page that formats a time pays. */
const overIntl: Record<string, string> = { preselected: 'floorIntl', services: 'floorIntl', preselectedThrottled: 'floorIntlThrottled' };
const addedOverIntl: Record<string, number[]> = Object.fromEntries(Object.keys(overIntl).map((key) => [key, []]));
const samples: Record<string, number[]> = Object.fromEntries(plan.map((p) => [p.key, []]));
const added: Record<string, number[]> = Object.fromEntries(plan.filter((p) => p.over).map((p) => [p.key, []]));
let bytes = 0;

const browser = await launchChromium();
for (let round_ = 0; round_ < ROUNDS; round_++) {
  const times: Record<string, number> = {};
  for (const p of round_ % 2 ? [...plan].reverse() : plan) {
    const trace = TRACE && round_ === ROUNDS - 1 && p.key === (process.env.PAGE_LOAD_TRACE_PAGE ?? 'services') ? TRACE : undefined;
    const m = await load(browser, p.page, p.throttle, p.latencyMs ?? 0, trace);
    times[p.key] = m.ms;
    if (p.key === 'preselected') bytes = m.bytes;
  }
  if (round_ === 0) continue;
  for (const p of plan) {
    samples[p.key]!.push(times[p.key]!);
    if (p.over) added[p.key]!.push(times[p.key]! - times[p.over]!);
  }
  for (const [key, floor] of Object.entries(overIntl)) addedOverIntl[key]!.push(times[key]! - times[floor]!);
}
/**
 * The main thread's own work, apart from waiting for a core: on this 2-core
 * machine the page's renderer shares the cores with the booking server,
 * Chromium's other processes and this driver. A trace of a load, at 1x,
 * gives the CPU time of every task the page's main thread ran from the
 * navigation's start to the ready frame (a task's thread time, `tdur`),
 * beside the same tasks' wall time.
 */
async function mainThreadWork(name: string): Promise<{ cpuMs: number; wallMs: number }> {
  const file = join(dir, `trace-${name}.json`);
  // Only the main thread's tasks (and the navigation's start): the fewest events, the least the tracing itself costs.
  const { ms } = await load(browser, name, 1, 0, file, ['disabled-by-default-devtools.timeline', 'blink.user_timing']);
  type TraceEvent = { name: string; ph: string; pid: number; tid: number; ts: number; dur?: number; tdur?: number; args?: { data?: { documentLoaderURL?: string } } };
  const { traceEvents } = JSON.parse(readFileSync(file, 'utf8')) as { traceEvents: TraceEvent[] };
  const start = traceEvents.find((e) => e.name === 'navigationStart' && e.args?.data?.documentLoaderURL?.includes(`/bench/${name}`));
  if (!start) throw new Error(`${name}: no navigationStart in the trace`);
  const end = start.ts + ms * 1000;
  let cpu = 0;
  let wall = 0;
  let busyUntil = -1;
  const tasks = traceEvents.filter((e) => e.ph === 'X' && e.pid === start.pid && e.tid === start.tid && e.ts >= start.ts && e.ts < end).sort((a, b) => a.ts - b.ts);
  for (const task of tasks) {
    if (task.ts < busyUntil) continue; // nested in a task already counted
    busyUntil = task.ts + (task.dur ?? 0);
    cpu += task.tdur ?? 0;
    wall += task.dur ?? 0;
  }
  return { cpuMs: cpu / 1000, wallMs: wall / 1000 };
}
/** Traced loads are slower and are not among the rounds above. */
const TRACED_ROUNDS = Number(process.env.PAGE_LOAD_TRACED_ROUNDS ?? 7);
const work: Record<string, { cpuMs: number[]; wallMs: number[] }> = Object.fromEntries(['floor', 'preselected', 'services'].map((name) => [name, { cpuMs: [], wallMs: [] }]));
for (let round_ = 0; round_ < TRACED_ROUNDS; round_++) {
  for (const name of Object.keys(work)) {
    const w = await mainThreadWork(name);
    work[name]!.cpuMs.push(w.cpuMs);
    work[name]!.wallMs.push(w.wallMs);
  }
}
await browser.close();
site.child.kill();
const workMedians = Object.fromEntries(Object.entries(work).map(([k, v]) => [k, mediansOf(v)]));
console.log(
  JSON.stringify({
    runs: ROUNDS - 1,
    throttle: THROTTLE,
    latencyMs: LATENCY_MS,
    medianMs: mediansOf(samples),
    // The median of each round's difference: the page and its floor loaded moments apart.
    addedMs: mediansOf(added),
    addedOverIntlMs: mediansOf(addedOverIntl),
    bytesTransferred: bytes,
    // The page's main thread, traced loads at 1x: CPU time and wall time of its tasks until the ready frame (medians).
    mainThread: workMedians,
    tracedRuns: TRACED_ROUNDS,
  }),
);
