/**
 * An open-loop load generator: requests start at a steady rate, evenly
 * spaced, over a set of open keep-alive connections, whatever the answers
 * take. Latency is counted from when a request was due, not from when a free
 * connection sent it, so a slow server cannot hide its queue (no coordinated
 * omission). autocannon's own rate limit sends each connection's share of a
 * second in one burst at the start of the second, which measures bursts.
 */
import { Agent, request } from 'node:http';
import { summarize } from './lib.js';

export interface PacedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

export interface PacedOptions {
  /** Origin of the server, e.g. http://127.0.0.1:3000. */
  url: string;
  connections: number;
  perSecond: number;
  seconds: number;
  /** The n-th request (from 0). */
  makeRequest(n: number): PacedRequest;
}

export interface PacedResult {
  offeredPerSecond: number;
  completedPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
}

export async function pacedRun(options: PacedOptions): Promise<PacedResult> {
  // FIFO hands requests to the connection idle longest, so all of them carry load.
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections, scheduling: 'fifo' });
  const send = (req: PacedRequest) =>
    new Promise<number>((resolve, reject) => {
      const r = request(options.url + req.path, { method: req.method, headers: req.headers, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      });
      r.on('error', reject);
      r.end(req.body);
    });

  // Open every connection before the clock starts.
  await Promise.all(Array.from({ length: options.connections }, () => send({ method: 'GET', path: '/healthz', headers: {} })));

  const total = Math.round(options.perSecond * options.seconds);
  const interval = 1000 / options.perSecond;
  const latencies: number[] = [];
  let non2xx = 0;
  let errors = 0;
  const inFlight: Promise<void>[] = [];
  const began = performance.now();
  for (let n = 0; n < total; n++) {
    const due = began + n * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    inFlight.push(
      send(options.makeRequest(n)).then(
        (status) => {
          latencies.push(performance.now() - due);
          if (status < 200 || status > 299) non2xx++;
        },
        () => {
          errors++;
        },
      ),
    );
  }
  await Promise.all(inFlight);
  const elapsed = (performance.now() - began) / 1000;
  agent.destroy();
  const { p50, p99 } = summarize(latencies);
  return { offeredPerSecond: options.perSecond, completedPerSecond: Math.round(latencies.length / elapsed), p50Ms: p50, p99Ms: p99, non2xx, errors };
}
