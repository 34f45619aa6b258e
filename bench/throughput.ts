// Server throughput over loopback: a bare Hono route as the ceiling, then the
// slots endpoint and the booking endpoint (Zoom emulator in another process),
// as a fraction of the ceiling with p50/p99 latency. Prints one JSON line.
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { BENCH_SITE_ORIGIN, startBenchStack } from './stack.js';
import { spawnTs } from './lib.js';
import { pacedRun, type PacedRequest, type PacedResult } from './paced.js';

const DURATION = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = 50;
/**
 * Steady booking rates as fractions of the capacity the saturated run just
 * measured: a latency goal means something below saturation, and on this
 * machine capacity itself drifts by half between runs, so a fixed rate can be
 * half of capacity in one run and nearly all of it in the next.
 */
const STEADY_FRACTIONS = [0.25, 0.5, 0.75];
/** Sets of alternating ceiling and slots slices, and each slice's length. */
const SLICES = Number(process.env.BENCH_SLICES ?? 12);
const SLICE_SECONDS = Number(process.env.BENCH_SLICE_SECONDS ?? 2);
/** CPU time a process has used (all threads), in ms. */
function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * (1000 / 100);
}
// What Chromium sends on a fetch: the widget's requests ask for compressed answers.
const BROWSER_HEADERS = { 'accept-encoding': 'gzip, deflate, br, zstd' };

function run(opts: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => autocannon(opts, (err, result) => (err ? reject(err) : resolve(result))));
}
const shape = (r: autocannon.Result) => ({
  requestsPerSecond: Math.round(r.requests.average),
  p50Ms: r.latency.p50,
  p99Ms: r.latency.p99,
  non2xx: r.non2xx,
  errors: r.errors,
});

/** Time the machine's CPUs spent so far, in /proc/stat ticks: all of it, and what the hypervisor took (steal). */
function cpuTicks(): { total: number; steal: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  return { total: fields.reduce((a, b) => a + b, 0), steal: fields[7]! };
}
const ticksBefore = cpuTicks();

// Each in a process of its own: in this one, they would delay the load generator's timers.
const smtp = await spawnTs('bench/smtp-process.ts');
const hello = await spawnTs('bench/hello-process.ts');
const stack = await startBenchStack({ smtpUrl: smtp.info.url! });
const tomorrow = new Date(Date.now() + 86_400_000);
tomorrow.setUTCHours(0, 0, 0, 0);
const slotsUrl = `${stack.url}/api/v1/specialists/bench/services/${stack.serviceId}/slots?from=${tomorrow.toISOString()}&to=${new Date(tomorrow.getTime() + 86_400_000).toISOString()}`;

// Ceiling and slots in short alternating slices, each set close in time: on
// a shared machine the speed drifts from second to second, and summing many
// interleaved slices lets every side see the same machine. A figure is the
// ratio of total requests; the spread of single sets' ratios is reported with
// it. Slots are asked for twice: as a same-origin page (or a script) asks,
// and as the widget embedded on the specialist's own website asks, with its
// Origin, which the CORS check answers.
const sides = {
  ceiling: { url: hello.info.url!, headers: BROWSER_HEADERS },
  slots: { url: slotsUrl, headers: BROWSER_HEADERS },
  slotsFromSite: { url: slotsUrl, headers: { ...BROWSER_HEADERS, origin: BENCH_SITE_ORIGIN } },
};
type Side = keyof typeof sides;
const slice = (side: Side, seconds: number) => run({ ...sides[side], connections: CONNECTIONS, duration: seconds });
const order: Side[] = ['ceiling', 'slots', 'slotsFromSite'];
for (const side of order) await slice(side, 2); // warm-up, not counted
const sets: Record<Side, autocannon.Result>[] = [];
for (let p = 0; p < SLICES; p++) {
  // Alternate the order, so no side always follows another.
  const set: Partial<Record<Side, autocannon.Result>> = {};
  for (const side of p % 2 === 0 ? order : [...order].reverse()) set[side] = await slice(side, SLICE_SECONDS);
  sets.push(set as Record<Side, autocannon.Result>);
}
hello.child.kill('SIGKILL');
const total = (side: Side) => sets.reduce((n, set) => n + set[side].requests.total, 0);
const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const medianOf = (values: number[]) => quantile([...values].sort((a, b) => a - b), 0.5);
const round2 = (x: number) => Math.round(100 * x) / 100;
const sliceTotalSeconds = SLICES * SLICE_SECONDS;
function figures(side: Side) {
  const setRatios = sets.map((set) => set[side].requests.total / set.ceiling.requests.total).sort((a, b) => a - b);
  return {
    requestsPerSecond: Math.round(total(side) / sliceTotalSeconds),
    p50Ms: medianOf(sets.map((set) => set[side].latency.p50)),
    p99Ms: medianOf(sets.map((set) => set[side].latency.p99)),
    non2xx: sets.reduce((n, set) => n + set[side].non2xx, 0),
    // Three decimals: the verdict must not round a 0.496 up to the goal.
    fractionOfCeiling: Math.round((1000 * total(side)) / total('ceiling')) / 1000,
    setRatioQuartiles: [0.25, 0.5, 0.75].map((q) => round2(quantile(setRatios, q))),
  };
}
const ceiling = { requestsPerSecond: Math.round(total('ceiling') / sliceTotalSeconds), p50Ms: medianOf(sets.map((set) => set.ceiling.latency.p50)), p99Ms: medianOf(sets.map((set) => set.ceiling.latency.p99)) };
const slots = { ...figures('slots'), sets: SLICES, sliceSeconds: SLICE_SECONDS };
const slotsFromSite = figures('slotsFromSite');

let i = 0;
const start = tomorrow.getTime() + 2 * 86_400_000;
/** The next booking: each of a distinct 5-minute slot. */
function nextBooking(): PacedRequest {
  const n = i++;
  return {
    method: 'POST',
    path: '/api/v1/specialists/bench/bookings',
    headers: { 'content-type': 'application/json', 'idempotency-key': `bench-${n}` },
    body: JSON.stringify({
      serviceId: stack.serviceId,
      start: new Date(start + n * 5 * 60_000).toISOString(),
      customer: { name: `Bench ${n}`, email: `bench${n}@example.test` },
    }),
  };
}
// As fast as they are answered: latency is then mostly queueing (connections / throughput).
const cpuBefore = cpuMsOf(stack.serverPid);
const saturated = await run({
  url: `${stack.url}/api/v1/specialists/bench/bookings`,
  connections: CONNECTIONS,
  duration: DURATION,
  method: 'POST',
  requests: [{ setupRequest: (req) => ({ ...req, ...nextBooking() }) as autocannon.Request }],
});
const serverCpuMsPerBooking = Math.round(((cpuMsOf(stack.serverPid) - cpuBefore) / saturated.requests.total) * 100) / 100;
const bookings = shape(saturated);
// At a steady rate below saturation, over the same 50 open connections:
// latency is what one booking costs while others are under way.
const steadyBookings: (PacedResult & { fractionOfCapacity: number })[] = [];
for (const fractionOfCapacity of STEADY_FRACTIONS) {
  const perSecond = Math.max(10, Math.round((fractionOfCapacity * bookings.requestsPerSecond) / 10) * 10);
  const result = await pacedRun({ url: stack.url, connections: CONNECTIONS, perSecond, seconds: DURATION, makeRequest: nextBooking });
  steadyBookings.push({ ...result, fractionOfCapacity });
}
await stack.close();
smtp.child.kill('SIGKILL');
const ticksAfter = cpuTicks();
console.log(
  JSON.stringify({
    connections: CONNECTIONS,
    seconds: DURATION,
    ceiling,
    slots,
    slotsFromSite,
    bookings: { ...bookings, fractionOfCeiling: Math.round((100 * bookings.requestsPerSecond) / ceiling.requestsPerSecond) / 100, serverCpuMsPerBooking },
    steadyBookings,
    stealPercent: Math.round((1000 * (ticksAfter.steal - ticksBefore.steal)) / (ticksAfter.total - ticksBefore.total)) / 10,
  }),
);
process.exit(0);
