// Booking latency with the mail server stalled (it accepts connections and
// never answers) against a healthy one. Prints one JSON line.
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { round, spawnTs, summarize } from './lib.js';
import { startBenchStack } from './stack.js';

const BOOKINGS = Number(process.env.BENCH_STALL_BOOKINGS ?? 150);

async function bookingLatencies(smtpUrl: string): Promise<{ p50: number; p99: number; n: number }> {
  const stack = await startBenchStack({ smtpUrl });
  const start = Date.now() + 2 * 86_400_000 - (Date.now() % 300_000);
  const times: number[] = [];
  for (let i = 0; i < BOOKINGS; i++) {
    const t = performance.now();
    const res = await fetch(`${stack.url}/api/v1/specialists/bench/bookings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ serviceId: stack.serviceId, start: new Date(start + i * 300_000).toISOString(), customer: { name: `S ${i}`, email: `s${i}@example.test` } }),
    });
    if (res.status !== 201) throw new Error(`booking answered ${res.status}: ${await res.text()}`);
    if (i >= 10) times.push(performance.now() - t);
  }
  await stack.close();
  return summarize(times);
}

// The healthy mail server in a process of its own, as in the throughput runs.
const healthy = await spawnTs('bench/smtp-process.ts');
const sockets: Socket[] = [];
const stalled = createServer((socket) => sockets.push(socket)).listen(0, '127.0.0.1');
await once(stalled, 'listening');
const stalledPort = (stalled.address() as { port: number }).port;

const withHealthy = await bookingLatencies(healthy.info.url!);
const withStalled = await bookingLatencies(`smtp://127.0.0.1:${stalledPort}`);
for (const s of sockets) s.destroy();
stalled.close();
healthy.child.kill('SIGKILL');
console.log(JSON.stringify({ bookings: BOOKINGS - 10, healthy: withHealthy, stalled: withStalled, p50Ratio: round(withStalled.p50 / withHealthy.p50) }));
process.exit(0);
