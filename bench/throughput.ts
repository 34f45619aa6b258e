// Server throughput over loopback: a bare Hono route as the ceiling, then the
// slots endpoint and the booking endpoint (Zoom emulator in another process),
// as a fraction of the ceiling with p50/p99 latency. Prints one JSON line.
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { startBenchStack } from './stack.js';
import { spawnTs } from './lib.js';
import { startTestSmtp } from '../test/node/helpers/smtp.js';
import { pacedRun, type PacedRequest, type PacedResult } from './paced.js';

const DURATION = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = 50;
const STEADY_RATES = [100, 200, 300];
/** Alternating ceiling/slots pairs, and each slice's length. */
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

const smtp = await startTestSmtp();
const hello = await spawnTs('bench/hello-process.ts');
const stack = await startBenchStack({ smtpUrl: smtp.url });
const tomorrow = new Date(Date.now() + 86_400_000);
tomorrow.setUTCHours(0, 0, 0, 0);
const slotsUrl = `${stack.url}/api/v1/specialists/bench/services/${stack.serviceId}/slots?from=${tomorrow.toISOString()}&to=${new Date(tomorrow.getTime() + 86_400_000).toISOString()}`;

// Ceiling and slots in short alternating slices, each pair close in time: on
// a shared machine the speed drifts from second to second, and summing many
// interleaved slices lets both sides see the same machine. The figure is the
// ratio of their total requests; the spread of the pairs' ratios is reported
// with it.
const pairs: { ceiling: autocannon.Result; slots: autocannon.Result }[] = [];
const slice = (url: string, seconds: number) => run({ url, connections: CONNECTIONS, duration: seconds, headers: BROWSER_HEADERS });
await slice(hello.info.url!, 2); // warm-up, not counted
await slice(slotsUrl, 2);
for (let p = 0; p < SLICES; p++) {
  // Alternate which goes first, so neither always follows the other.
  if (p % 2 === 0) {
    const ceiling = await slice(hello.info.url!, SLICE_SECONDS);
    pairs.push({ ceiling, slots: await slice(slotsUrl, SLICE_SECONDS) });
  } else {
    const slots = await slice(slotsUrl, SLICE_SECONDS);
    pairs.push({ ceiling: await slice(hello.info.url!, SLICE_SECONDS), slots });
  }
}
hello.child.kill('SIGKILL');
const sum = (side: 'ceiling' | 'slots') => pairs.reduce((n, pair) => n + pair[side].requests.total, 0);
const pairRatios = pairs.map((pair) => pair.slots.requests.total / pair.ceiling.requests.total).sort((a, b) => a - b);
const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const medianOf = (values: number[]) => quantile([...values].sort((a, b) => a - b), 0.5);
const round2 = (x: number) => Math.round(100 * x) / 100;
const sliceTotalSeconds = SLICES * SLICE_SECONDS;
const ceiling = { requestsPerSecond: Math.round(sum('ceiling') / sliceTotalSeconds), p50Ms: medianOf(pairs.map((p) => p.ceiling.latency.p50)), p99Ms: medianOf(pairs.map((p) => p.ceiling.latency.p99)) };
const slots = {
  requestsPerSecond: Math.round(sum('slots') / sliceTotalSeconds),
  p50Ms: medianOf(pairs.map((p) => p.slots.latency.p50)),
  p99Ms: medianOf(pairs.map((p) => p.slots.latency.p99)),
  non2xx: pairs.reduce((n, p) => n + p.slots.non2xx, 0),
  fractionOfCeiling: round2(sum('slots') / sum('ceiling')),
  pairs: SLICES,
  sliceSeconds: SLICE_SECONDS,
  pairRatioQuartiles: [0.25, 0.5, 0.75].map((q) => round2(quantile(pairRatios, q))),
};

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
const steadyBookings: PacedResult[] = [];
for (const perSecond of STEADY_RATES) {
  steadyBookings.push(await pacedRun({ url: stack.url, connections: CONNECTIONS, perSecond, seconds: DURATION, makeRequest: nextBooking }));
}
await stack.close();
await smtp.close();
const ticksAfter = cpuTicks();
console.log(
  JSON.stringify({
    connections: CONNECTIONS,
    seconds: DURATION,
    ceiling,
    slots,
    bookings: { ...bookings, fractionOfCeiling: Math.round((100 * bookings.requestsPerSecond) / ceiling.requestsPerSecond) / 100, serverCpuMsPerBooking },
    steadyBookings,
    stealPercent: Math.round((1000 * (ticksAfter.steal - ticksBefore.steal)) / (ticksAfter.total - ticksBefore.total)) / 10,
  }),
);
process.exit(0);
