/**
 * A real HTTP proxy in front of the real server, for testing how clients
 * behave when the network or the server misbehaves. Each incoming request is
 * recorded, then handled by the first matching fault in the queue, or passed
 * through.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault =
  /** Answer with this status, headers and body, without reaching the server. */
  | { kind: 'respond'; status: number; headers?: Record<string, string>; body?: string }
  /** Forward to the server, wait for its answer, then cut the connection. */
  | { kind: 'drop-response' }
  /** Forward to the server after `ms`: a slow upstream. */
  | { kind: 'delay'; ms: number }
  /** Forward to the server once `release` settles: a slow answer, held open exactly as long as the test needs. */
  | { kind: 'hold'; release: Promise<void> };

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  at: number;
  /** Settles when the exchange ends: true if the client got the whole answer, false if it closed the connection first. */
  answered: Promise<boolean>;
}

export interface FlakyProxy {
  url: string;
  requests: RecordedRequest[];
  faults: Fault[];
  close(): Promise<void>;
}

export async function startFlakyProxy(target: string): Promise<FlakyProxy> {
  const requests: RecordedRequest[] = [];
  const faults: Fault[] = [];
  const server = http.createServer((req, res) => {
    handle(req, res).catch(() => req.socket.destroy());
  });
  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const answered = new Promise<boolean>((resolve) => res.once('close', () => resolve(res.writableFinished)));
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    requests.push({ method: req.method!, path: req.url!, headers: req.headers, at: Date.now(), answered });
    const fault = faults.shift();
    if (fault?.kind === 'respond') {
      res.writeHead(fault.status, fault.headers ?? {});
      res.end(fault.body ?? '');
      return;
    }
    if (fault?.kind === 'delay') await new Promise((resolve) => setTimeout(resolve, fault.ms));
    if (fault?.kind === 'hold') await fault.release;
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k !== 'host' && k !== 'connection')) as Record<string, string>;
    const upstream = await fetch(`${target}${req.url}`, {
      method: req.method!,
      headers,
      body: chunks.length ? Buffer.concat(chunks) : undefined,
      // A redirect is the client's to follow (Zoom's consent page answers one), not the proxy's.
      redirect: 'manual',
    });
    const body = Buffer.from(await upstream.arrayBuffer());
    if (fault?.kind === 'drop-response') {
      req.socket.destroy();
      return;
    }
    // fetch already decoded the body: pass it on plain.
    const passed = Object.fromEntries([...upstream.headers].filter(([k]) => k !== 'content-encoding' && k !== 'content-length'));
    res.writeHead(upstream.status, passed);
    res.end(body);
  }
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    faults,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
