// Server throughput over loopback: a bare Hono route as the ceiling, then the
// slots endpoint and the booking endpoint (Zoom emulator in another process),
// as a fraction of the ceiling with p50/p99 latency. Prints one JSON line.
import autocannon from 'autocannon';
import { startBenchStack } from './stack.js';
import { spawnTs } from './lib.js';
import { startTestSmtp } from '../test/node/helpers/smtp.js';

const DURATION = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = 50;
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

const smtp = await startTestSmtp();
const hello = await spawnTs('bench/hello-process.ts');
const ceiling = shape(await run({ url: hello.info.url!, connections: CONNECTIONS, duration: DURATION, headers: BROWSER_HEADERS }));
hello.child.kill('SIGKILL');

const stack = await startBenchStack({ smtpUrl: smtp.url });
const tomorrow = new Date(Date.now() + 86_400_000);
tomorrow.setUTCHours(0, 0, 0, 0);
const slotsUrl = `${stack.url}/api/v1/specialists/bench/services/${stack.serviceId}/slots?from=${tomorrow.toISOString()}&to=${new Date(tomorrow.getTime() + 86_400_000).toISOString()}`;
const slots = shape(await run({ url: slotsUrl, connections: CONNECTIONS, duration: DURATION, headers: BROWSER_HEADERS }));

let i = 0;
const start = tomorrow.getTime() + 2 * 86_400_000;
/** Bookings, each of a distinct 5-minute slot; as fast as they are answered, or at `overallRate` per second. */
const bookingRun = (overallRate?: number) =>
  run({
    url: `${stack.url}/api/v1/specialists/bench/bookings`,
    connections: CONNECTIONS,
    duration: DURATION,
    method: 'POST',
    ...(overallRate === undefined ? {} : { overallRate }),
    requests: [
      {
        setupRequest: (req) => {
          const n = i++;
          return {
            ...req,
            headers: { 'content-type': 'application/json', 'idempotency-key': `bench-${n}` },
            body: JSON.stringify({
              serviceId: stack.serviceId,
              start: new Date(start + n * 5 * 60_000).toISOString(),
              customer: { name: `Bench ${n}`, email: `bench${n}@example.test` },
            }),
          };
        },
      },
    ],
  });
const bookings = shape(await bookingRun());
// Saturated, latency is mostly queueing (50 connections / throughput); at a set
// rate below saturation it is what one booking costs while others are under way.
const STEADY_RATE = 100;
const steadyBookings = shape(await bookingRun(STEADY_RATE));
await stack.close();
await smtp.close();
console.log(
  JSON.stringify({
    connections: CONNECTIONS,
    seconds: DURATION,
    ceiling,
    slots: { ...slots, fractionOfCeiling: Math.round((100 * slots.requestsPerSecond) / ceiling.requestsPerSecond) / 100 },
    bookings: { ...bookings, fractionOfCeiling: Math.round((100 * bookings.requestsPerSecond) / ceiling.requestsPerSecond) / 100 },
    steadyBookings: { ...steadyBookings, offeredPerSecond: STEADY_RATE },
  }),
);
process.exit(0);
