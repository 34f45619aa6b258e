// `npm run bench`: builds, runs every benchmark, prints the figures and
// writes BENCHMARKS.md. Each figure is a ratio or a size from one run, so it
// holds on a noisy machine; absolute numbers are there for reference.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { measureBundle } from './bundle-size.mjs';

const runTs = (file) => {
  const out = execFileSync(process.execPath, ['--import', 'tsx', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: process.env });
  return JSON.parse(out.trim().split('\n').filter((l) => l.startsWith('{')).at(-1));
};
const kb = (b) => (b / 1024).toFixed(1);
const verdict = (ok) => (ok ? 'met' : '**not met**');

execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
const bundle = measureBundle();
console.log('bundle', JSON.stringify(bundle));
const pageLoad = runTs('bench/page-load.ts');
console.log('page load', JSON.stringify(pageLoad));
const interaction = runTs('bench/interaction.ts');
console.log('interaction', JSON.stringify(interaction));
const throughput = runTs('bench/throughput.ts');
console.log('throughput', JSON.stringify(throughput));
const growth = runTs('bench/growth.ts');
console.log('growth', JSON.stringify(growth));
const stall = runTs('bench/smtp-stall.ts');
console.log('smtp stall', JSON.stringify(stall));

const slotQuestions = runTs('bench/slot-questions.ts');
console.log('slot questions', JSON.stringify(slotQuestions));
const growthRows = Object.entries(growth).flatMap(([kind, g]) =>
  g.rows.map((r) => `| ${kind} | ${r.size.toLocaleString('en')} | ${r.p50Ms} | ${r.p99Ms} | ${r.insertSeconds} |`),
);
const md = `# Benchmarks

Measured by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores, Node ${process.version}.
Ratios and sizes are the figures to compare; absolute numbers are for reference.

| What | Figure | Goal | |
| --- | --- | --- | --- |
| Widget bundle, whole (Lit, SDK, component) | ${kb(bundle.gzipBytes)} KB gzip, ${kb(bundle.brotliBytes)} KB brotli (${Math.round((100 * bundle.gzipBytes) / bundle.targetGzipBytes)} % of the goal) | ≤ 15 KB gzip | ${verdict(bundle.gzipBytes <= bundle.targetGzipBytes)} |
| Widget bundle, first chunk | ${kb(bundle.gzipBytes)} KB gzip: one chunk, nothing loaded lazily | ≤ 12 KB gzip if a lazy chunk is split off | ${bundle.gzipBytes <= bundle.targetGzipBytes ? 'met (no split needed)' : verdict(false)} |
| Slots visible, service preselected, over the floor page (headless Chromium, localhost, cold cache) | +${pageLoad.addedMs.preselected} ms (${pageLoad.medianMs.preselected} vs ${pageLoad.medianMs.floor} ms); ${kb(pageLoad.bytesTransferred)} KB transferred | ≤ +100 ms | ${verdict(pageLoad.addedMs.preselected <= 100)} |
| Services visible, no service preselected, over the floor page | +${pageLoad.addedMs.services} ms (${pageLoad.medianMs.services} vs ${pageLoad.medianMs.floor} ms) | ≤ +50 ms | ${verdict(pageLoad.addedMs.services <= 50)} |
| Slots visible, service preselected, CPU throttled ${pageLoad.throttle}×, over the floor page throttled the same | +${pageLoad.addedMs.preselectedThrottled} ms (${pageLoad.medianMs.preselectedThrottled} vs ${pageLoad.medianMs.floorThrottled} ms) | ≤ +400 ms | ${verdict(pageLoad.addedMs.preselectedThrottled <= 400)} |
| Chromium's first \`Intl\` call, on the floor page (one time formatted, as any page that shows a time in the visitor's locale does) | +${pageLoad.addedMs.floorIntl} ms (${pageLoad.medianMs.floorIntl} vs ${pageLoad.medianMs.floor} ms); +${pageLoad.addedMs.floorIntlThrottled} ms at ${pageLoad.throttle}× | (reference: paid once per page, by the widget too) | |
| The widget over that floor (the floor page with the one \`Intl\` call) | slots, preselected: +${pageLoad.addedOverIntlMs.preselected} ms; services: +${pageLoad.addedOverIntlMs.services} ms; slots at ${pageLoad.throttle}×: +${pageLoad.addedOverIntlMs.preselectedThrottled} ms | (reference) | |
| The page's main thread until ready, ${pageLoad.tracedRuns} traced loads at 1×: floor / slots preselected / services | CPU ${pageLoad.mainThread.floor.cpuMs} / ${pageLoad.mainThread.preselected.cpuMs} / ${pageLoad.mainThread.services.cpuMs} ms; the same tasks' wall time ${pageLoad.mainThread.floor.wallMs} / ${pageLoad.mainThread.preselected.wallMs} / ${pageLoad.mainThread.services.wallMs} ms | (reference: the difference is the main thread waiting for one of this machine's ${cpus().length} cores) | |
| Slots visible, service preselected, over a ${pageLoad.latencyMs} ms round trip (emulated), with the snippet's preload hints, and without them | +${pageLoad.addedMs.preselectedSlowNetwork} ms with, +${pageLoad.addedMs.preselectedWithoutHintsSlowNetwork} ms without (${pageLoad.medianMs.preselectedSlowNetwork} and ${pageLoad.medianMs.preselectedWithoutHintsSlowNetwork} vs ${pageLoad.medianMs.floorSlowNetwork} ms) | (what the hints are for: a round trip saved on a phone's network) | |
| Choosing another day, CPU throttled ${interaction.throttle}×, ${interaction.daysLoaded} days (${interaction.slotsLoaded.toLocaleString('en')} slots) loaded, against one frame | ${interaction.dayClickMs.p50} ms p50, ${interaction.dayClickMaxMs} ms max | ≤ ${interaction.frameMs} ms at p50 | ${verdict(interaction.dayClickMs.p50 <= interaction.frameMs)} |
| Choosing another service, same page | ${interaction.serviceClickMs.p50} ms p50, ${interaction.serviceClickMaxMs} ms max; when its times arrive: ${interaction.slotsArrivalMs.p50} ms p50 | ≤ ${interaction.frameMs} ms at p50 | ${verdict(interaction.serviceClickMs.p50 <= interaction.frameMs)} |
| Slots endpoint throughput vs bare Hono, same origin | ${throughput.slots.fractionOfCeiling} of ceiling (single sets: quartiles ${throughput.slots.setRatioQuartiles.join(' / ')}); ${throughput.slots.requestsPerSecond} vs ${throughput.ceiling.requestsPerSecond} req/s, p50 ${throughput.slots.p50Ms} ms, p99 ${throughput.slots.p99Ms} ms | ≥ 0.5 | ${verdict(throughput.slots.fractionOfCeiling >= 0.5)} |
| Slots, default range (SDK \`listSlots(slug, serviceId)\`, no from/to) vs the hour-aligned question (the same range named), same server | ${slotQuestions.defaultRange.fractionOfWidget} of the hour-aligned question's (single sets: quartiles ${slotQuestions.defaultRange.setRatioQuartiles.join(' / ')}); ${slotQuestions.defaultRange.requestsPerSecond} vs ${slotQuestions.widget.requestsPerSecond} req/s, p50 ${slotQuestions.defaultRange.p50Ms} ms, p99 ${slotQuestions.defaultRange.p99Ms} ms | ≥ 0.9 | ${verdict(slotQuestions.defaultRange.fractionOfWidget >= 0.9)} |
| Slots endpoint throughput vs bare Hono, from the specialist's website (Origin, CORS) | ${throughput.slotsFromSite.fractionOfCeiling} of ceiling (single sets: quartiles ${throughput.slotsFromSite.setRatioQuartiles.join(' / ')}); ${throughput.slotsFromSite.requestsPerSecond} req/s, p50 ${throughput.slotsFromSite.p50Ms} ms, p99 ${throughput.slotsFromSite.p99Ms} ms | (for reference: the goal's measurement, like the ceiling's, sends no Origin) | |
| Booking endpoint, saturated: ${throughput.connections} connections each booking again as soon as answered | ${throughput.bookings.requestsPerSecond} bookings/s, p50 ${throughput.bookings.p50Ms} ms, p99 ${throughput.bookings.p99Ms} ms; ${throughput.bookings.serverCpuMsPerBooking} ms of server CPU per booking | (capacity; p99 here is queueing, see below) | |
${throughput.steadyBookings.map((s) => `| Booking endpoint, ${s.offeredPerSecond} bookings/s offered (${s.fractionOfCapacity} of that capacity) over ${throughput.connections} open connections | p50 ${s.p50Ms} ms, p99 ${s.p99Ms} ms (${s.completedPerSecond}/s answered, ${s.non2xx + s.errors} failed) | ${s.fractionOfCapacity <= 0.5 ? `p99 < 50 ms | ${verdict(s.p99Ms < 50 && s.non2xx + s.errors === 0)}` : '(near capacity, where the queue starts) |'} |`).join('\n')}
${Object.entries(growth).map(([kind, g]) => `| Slots latency growth, ${kind}, ${g.rows[0].size.toLocaleString('en')} → ${g.rows.at(-1).size.toLocaleString('en')} bookings | ${g.growthRatio}× | ≤ 2× | ${verdict(g.growthRatio <= 2)} |`).join('\n')}
| Booking latency, SMTP stalled vs healthy | ${stall.p50Ratio}× at p50 (${stall.stalled.p50} vs ${stall.healthy.p50} ms) | same within noise | ${verdict(stall.p50Ratio < 1.5)} |

## Slots latency by table size

Seven days of slots for a 30-minute service, bookings one per hour spread over
the past and the future, each with its six 5-minute claims.

| Database | Bookings | p50 ms | p99 ms | Insert s |
| --- | --- | --- | --- | --- |
${growthRows.join('\n')}

## How

- Page load (\`bench/page-load.ts\`): the floor is \`examples/plain-site\` with a static element where the embed snippet is;
  the widget pages are the same page with the snippet as Settings gives it (\`server/http/pages/embed-snippet.ts\`: the script,
  a preload hint for the profile and, with \`service\`, one for its times), with and without \`service\`. Each of ${pageLoad.runs} rounds (after a
  dropped warm-up round) loads every page once, in turn, each in a fresh browser context (cold cache), the order reversed
  every other round; a page is ready in the first animation frame with its element in the DOM (the floor's element, the
  widget's first time or first service), timed by the page's clock from the navigation's start. A figure is the median of
  the rounds' differences. Throttled: \`Emulation.setCPUThrottlingRate\` ${pageLoad.throttle}× before the navigation, floor and widget alike.
  Nothing of the driver runs in the page while it loads: the pages and the server (as \`npm start\` runs it, SQLite) are
  served over HTTP by a process of their own, with no request interception; the page watches for its element from a
  script added at the document's creation, read over CDP once ready. Each new context opens a browser window, whose own UI
  (the omnibox's pages) loads for about half a second; the bench waits a second before navigating, as a visitor's browser
  is open before they visit. Over a round trip: CDP \`Network.emulateNetworkConditions\` adds ${pageLoad.latencyMs} ms to every
  request, the navigation's too, for the floor and the widget alike; the same page without its hints shows the round trip
  they save.
  The \`Intl\` floor is the floor page with an inline script that formats one time (\`Intl.DateTimeFormat\`), which loads
  ICU's locale data into the fresh renderer. Main thread: separate traced loads (Chromium's \`disabled-by-default-devtools.timeline\`),
  summing each top-level task of the page's main thread from the navigation's start to the ready frame: its thread time
  (\`tdur\`, CPU) and its duration (wall). On this machine the renderer shares ${cpus().length} cores with the booking server, the page
  site, Chromium's browser and GPU processes and the driver; a task's wall time over its CPU time is time spent waiting for a core.
- Interaction (\`bench/interaction.ts\`): a specialist open around the clock, a time every 15 minutes; the widget's
  two-week question is widened to ${interaction.daysLoaded} days on its way to the server. Timed in the page from just before a click's
  handlers run until the widget's update is committed and laid out (a forced layout): the main thread's work before the
  frame can be painted. Day clicks move over the whole list; service clicks alternate between two services (from the list
  of services), each over the other's ${interaction.daysLoaded} days.
- Throughput: autocannon, ${throughput.connections} connections, over loopback; the ceiling is a bare Hono route on
  @hono/node-server; the server runs as \`npm start\` does (SQLite) in its own process, the Zoom emulator in another.
  Ceiling, slots and slots from the specialist's website run in ${throughput.slots.sets} sets of ${throughput.slots.sliceSeconds} s slices, the order
  reversed every other set, after a warm-up; a figure is that side's total requests over the ceiling's. On this shared machine throughput drifts by tens of percent from
  one second to the next, so rounds of several seconds each, compared one against one, disagree; many short interleaved
  slices see the same machine. The quartiles show how far single sets spread. The hypervisor reported
  ${throughput.stealPercent} % of the CPU time as stolen during the throughput runs. Booking runs last ${throughput.seconds} s each.
- Bookings each take a distinct 5-minute slot and create a real meeting on the emulator; the server's outbox sends both invitations
  during the run, to an SMTP server in a process of its own (in the load generator's process, parsing that mail delayed the
  generator's timers, which the paced runs then counted as the server's latency).
- The saturated booking run is closed-loop: each of the 50 connections sends its next booking the moment the last is answered,
  so latency is queueing by Little's law (50 / throughput on average). A p99 under 50 ms there would take over 1,000
  bookings/s from two cores that also run the load generator, the Zoom emulator and the SMTP server; it measures capacity.
- Slot questions (issue #18): autocannon, ${slotQuestions.connections} connections, one server. The hour-aligned question (from the start of
  the current UTC hour, 14 days, named; the widget's until it came to name no range) and the question without a range
  (the SDK's default, now the widget's too) alternate in ${slotQuestions.sets} sets of
  ${slotQuestions.sliceSeconds} s slices, the order reversed every other set. The figure is the default question's requests over the
  hour-aligned one's. A range without a \`from\`, or with one that has passed, is answered from the start of the current UTC hour.
- The paced runs (\`bench/paced.ts\`) hold the same 50 connections open and start bookings evenly spaced at a set rate, counting
  each latency from when the booking was due, so a queue cannot hide. autocannon's own rate limit sends each second's share at
  once, which measures bursts. The rates are a quarter, a half and three quarters of the capacity the saturated run measured
  just before: capacity drifts by half between runs on this machine, so a fixed rate would be light load in one run and
  saturation in the next. The latency goal is judged at up to half of capacity; the last rate shows where the queue starts.
- Slots are asked for over the widget's range (14 days from the start of the hour, the range the widget gets by naming none), \`Accept-Encoding\` as Chromium
  sends it, served from the slot cache, which checks the database every 250 ms and at once after a local write. The growth
  runs below call the uncached computation, since they measure how it scales.
- The stalled mail server accepts connections and never answers.
`;
// `npm run simulate` owns its section: keep it as the last run of the simulation wrote it.
const SIMULATION_HEADING = '## Lost-bookings simulation';
const previous = existsSync('BENCHMARKS.md') ? readFileSync('BENCHMARKS.md', 'utf8') : '';
const at = previous.indexOf(SIMULATION_HEADING);
const simulation = at === -1 ? '' : previous.slice(at, previous.indexOf('\n## ', at + SIMULATION_HEADING.length) === -1 ? undefined : previous.indexOf('\n## ', at + SIMULATION_HEADING.length) + 1);
writeFileSync('BENCHMARKS.md', simulation ? `${md.trimEnd()}\n\n${simulation.trimEnd()}\n` : md);
console.log('\nWrote BENCHMARKS.md');
