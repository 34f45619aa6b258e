import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { brotliDecompressSync } from 'node:zlib';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { specialistCors } from '../../server/http/cors.js';
import { requestHeader } from '../../server/http/node-headers.js';
import { requestId } from '../../server/http/request-id.js';
import { sendSharedJson } from '../../server/http/shared-json.js';
import { rawGet } from './helpers/raw-http.js';

// Large enough to be compressed.
const LIST = { slots: Array.from({ length: 100 }, (_, i) => ({ start: new Date(Date.UTC(2030, 0, 7, 0, i * 5)).toISOString() })) };

/** The app's header middleware and senders, mounted alone. */
function headerApp(): Hono {
  const app = new Hono();
  app.use(requestId());
  app.use('/s/:slug/*', specialistCors({ ownOrigin: 'https://own.example', allowedOriginsFor: async () => ['https://site.example'] }));
  app.get('/s/:slug/list', (c) => sendSharedJson(c, LIST, (list) => ({ success: true, ...list })));
  app.get('/echo', (c) => c.json({ tag: requestHeader(c, 'x-tag') ?? null }));
  return app;
}

interface Seen {
  status: number;
  header(name: string): string | undefined;
  body: Buffer;
}

/**
 * On Node the headers skip fetch `Headers` objects (node-headers.ts); under
 * `app.request` they take Hono's own path. Both must send the same.
 */
describe('response headers on Node and under app.request', () => {
  const app = headerApp();
  let server: ServerType;
  let url: string;
  beforeAll(async () => {
    server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const paths: Record<string, (path: string, headers: Record<string, string | string[]>) => Promise<Seen>> = {
    node: async (path, headers) => {
      const res = await rawGet(url + path, headers);
      return { status: res.status, header: (name) => res.headers[name] as string | undefined, body: res.body };
    },
    'app.request': async (path, headers) => {
      const res = await app.request(path, { headers: Object.entries(headers).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((one) => [k, one] as [string, string])) });
      return { status: res.status, header: (name) => res.headers.get(name) ?? undefined, body: Buffer.from(await res.arrayBuffer()) };
    },
  };

  describe.each(Object.keys(paths))('%s', (way) => {
    const get = paths[way]!;

    it('sends a shared JSON body with the CORS headers, both Vary values and a request id', async () => {
      const res = await get('/s/anna/list', { origin: 'https://site.example', 'accept-encoding': 'br' });
      expect(res.status).toBe(200);
      expect(res.header('access-control-allow-origin')).toBe('https://site.example');
      expect(res.header('access-control-expose-headers')).toBe('Idempotent-Replayed, Retry-After, X-Request-Id');
      expect(res.header('vary')).toBe('Origin, Accept-Encoding');
      expect(res.header('content-encoding')).toBe('br');
      expect(res.header('content-type')).toBe('application/json');
      expect(res.header('content-length')).toBe(String(res.body.length));
      expect(res.header('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      expect(JSON.parse(brotliDecompressSync(res.body).toString('utf8'))).toEqual({ success: true, ...LIST });
    });

    it('answers a refused origin with 403 and no CORS grant, still with a request id', async () => {
      const res = await get('/s/anna/list', { origin: 'https://evil.example', 'x-request-id': 'given-1' });
      expect(res.status).toBe(403);
      expect(res.header('access-control-allow-origin')).toBeUndefined();
      expect(res.header('vary')).toBe('Origin');
      expect(res.header('x-request-id')).toBe('given-1');
      expect(JSON.parse(res.body.toString('utf8'))).toMatchObject({ success: false, code: 'origin_not_allowed' });
    });

    it('reads a repeated request header joined with ", "', async () => {
      const res = await get('/echo', { 'x-tag': ['a', 'b'] });
      expect(JSON.parse(res.body.toString('utf8'))).toEqual({ tag: 'a, b' });
      expect(JSON.parse((await get('/echo', {})).body.toString('utf8'))).toEqual({ tag: null });
    });
  });
});
