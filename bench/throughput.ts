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
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
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

// Ceiling and slots in alternating rounds, each pair close in time: on a
// shared machine the speed drifts from minute to minute, and the median of
// the pairs' ratios holds where a single pair may not.
const rounds: { ceiling: ReturnType<typeof shape>; slots: ReturnType<typeof shape>; ratio: number }[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const ceiling = shape(await run({ url: hello.info.url!, connections: CONNECTIONS, duration: DURATION, headers: BROWSER_HEADERS }));
  const slots = shape(await run({ url: slotsUrl, connections: CONNECTIONS, duration: DURATION, headers: BROWSER_HEADERS }));
  rounds.push({ ceiling, slots, ratio: Math.round((100 * slots.requestsPerSecond) / ceiling.requestsPerSecond) / 100 });
}
hello.child.kill('SIGKILL');
const median = [...rounds].sort((a, b) => a.ratio - b.ratio)[Math.floor(rounds.length / 2)]!;
const { ceiling, slots } = median;

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
    slots: { ...slots, fractionOfCeiling: median.ratio, roundRatios: rounds.map((r) => r.ratio) },
    bookings: { ...bookings, fractionOfCeiling: Math.round((100 * bookings.requestsPerSecond) / ceiling.requestsPerSecond) / 100, serverCpuMsPerBooking },
    steadyBookings,
    stealPercent: Math.round((1000 * (ticksAfter.steal - ticksBefore.steal)) / (ticksAfter.total - ticksBefore.total)) / 10,
  }),
);
process.exit(0);
