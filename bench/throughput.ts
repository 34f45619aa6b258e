// Server throughput over loopback: a bare Hono route as the ceiling, then the
// slots endpoint and the booking endpoint (Zoom emulator in another process),
// as a fraction of the ceiling with p50/p99 latency. Prints one JSON line.
import { readFileSync } from 'node:fs';
import type autocannon from 'autocannon';
import { BROWSER_HEADERS, ratioFigures, runAutocannon, runInterleaved, sideFigures } from './interleaved.js';
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

// Ceiling and slots interleaved (see interleaved.ts). Slots are asked for
// twice: as a same-origin page (or a script) asks, and as the widget embedded
// on the specialist's own website asks, with its Origin, which the CORS check answers.
const sets = await runInterleaved(
  {
    ceiling: { url: () => hello.info.url!, headers: BROWSER_HEADERS },
    slots: { url: () => slotsUrl, headers: BROWSER_HEADERS },
    slotsFromSite: { url: () => slotsUrl, headers: { ...BROWSER_HEADERS, origin: BENCH_SITE_ORIGIN } },
  },
  { connections: CONNECTIONS, sets: SLICES, sliceSeconds: SLICE_SECONDS },
);
hello.child.kill('SIGKILL');
function figures(side: 'slots' | 'slotsFromSite') {
  const { ratio, ...rest } = ratioFigures(sets, side, 'ceiling', SLICE_SECONDS);
  return { ...rest, fractionOfCeiling: ratio };
}
const ceiling = sideFigures(sets, 'ceiling', SLICE_SECONDS);
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
const saturated = await runAutocannon({
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
