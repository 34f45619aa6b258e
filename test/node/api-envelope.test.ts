import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { brotliDecompressSync } from 'node:zlib';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainError } from '../../server/errors.js';
import { createApiEnvelope } from '../../server/http/api-envelope.js';
import { createClientAddressResolver } from '../../server/http/client-address.js';
import { createErrorHandler } from '../../server/http/errors.js';
import { requestHeader } from '../../server/http/node-headers.js';
import { sendSharedJson } from '../../server/http/shared-json.js';
import { createLogger } from '../../server/logger.js';
import { rawGet } from './helpers/raw-http.js';

// Large enough to be compressed.
const LIST = { slots: Array.from({ length: 100 }, (_, i) => ({ start: new Date(Date.UTC(2030, 0, 7, 0, i * 5)).toISOString() })) };

/** The API envelope around a few routes, mounted alone; `lines` collects its request log. */
function envelopeApp(lines: Record<string, unknown>[]): Hono {
  const logger = createLogger('info', (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
  const onError = createErrorHandler(createLogger('silent'));
  const envelope = createApiEnvelope({
    ownOrigin: 'https://own.example',
    allowedOriginsFor: (slug) =>
      slug === 'down' ? Promise.reject(new DomainError('database_unavailable', 'The database is not answering.')) : Promise.resolve(slug === 'anna' ? ['https://site.example'] : undefined),
    onError,
    logger,
    clientAddressOf: createClientAddressResolver({ kind: 'none' }),
  });
  const app = new Hono();
  app.onError(onError);
  app.options('/s/:slug/*', envelope.preflight);
  app.get('/s/:slug/list', envelope.route((c) => sendSharedJson(c, LIST, (list) => ({ success: true, ...list }))));
  app.get('/s/:slug/later', envelope.route(async (c) => sendSharedJson(c, LIST, (list) => ({ success: true, ...list }))));
  app.get(
    '/s/:slug/json',
    envelope.route((c) => {
      c.header('Idempotent-Replayed', 'true');
      return c.json({ tag: requestHeader(c, 'x-tag') ?? null, requestId: c.get('requestId') });
    }),
  );
  app.get(
    '/s/:slug/throws',
    envelope.route(() => {
      throw new DomainError('slot_taken', 'Taken.');
    }),
  );
  app.get('/s/:slug/rejects', envelope.route(async () => Promise.reject(new DomainError('not_found', 'Gone.'))));
  return app;
}

interface Seen {
  status: number;
  header(name: string): string | undefined;
  body: Buffer;
}

/**
 * On Node a slot list's headers stay one plain object; under `app.request`
 * they go through fetch `Headers`. Both must send the same.
 */
describe('the API envelope on Node and under app.request', () => {
  const lines: Record<string, unknown>[] = [];
  const app = envelopeApp(lines);
  let server: ServerType;
  let url: string;
  beforeAll(async () => {
    server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  type Get = (path: string, headers: Record<string, string | string[]>, method?: string) => Promise<Seen>;
  const paths: Record<string, Get> = {
    node: async (path, headers, method) => {
      const res = await rawGet(url + path, headers, method);
      return { status: res.status, header: (name) => res.headers[name] as string | undefined, body: res.body };
    },
    'app.request': async (path, headers, method) => {
      const res = await app.request(path, {
        method: method ?? 'GET',
        headers: Object.entries(headers).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((one) => [k, one] as [string, string])),
      });
      return { status: res.status, header: (name) => res.headers.get(name) ?? undefined, body: Buffer.from(await res.arrayBuffer()) };
    },
  };

  describe.each(Object.keys(paths))('%s', (way) => {
    const get = paths[way]!;

    it.each(['list', 'later'])('sends a shared JSON body (%s) with the CORS grant, both Vary values and a request id', async (route) => {
      const res = await get(`/s/anna/${route}`, { origin: 'https://site.example', 'accept-encoding': 'br' });
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

    it('grants the server its own origin, and no one without an Origin', async () => {
      expect((await get('/s/bert/list', { origin: 'https://own.example' })).header('access-control-allow-origin')).toBe('https://own.example');
      const plain = await get('/s/anna/list', {});
      expect(plain.status).toBe(200);
      expect(plain.header('access-control-allow-origin')).toBeUndefined();
      expect(plain.header('vary')).toBe('Origin, Accept-Encoding');
    });

    it('answers a refused origin with 403 and no CORS grant, still with a request id', async () => {
      const res = await get('/s/anna/list', { origin: 'https://evil.example', 'x-request-id': 'given-1' });
      expect(res.status).toBe(403);
      expect(res.header('access-control-allow-origin')).toBeUndefined();
      expect(res.header('vary')).toBe('Origin');
      expect(res.header('x-request-id')).toBe('given-1');
      expect(JSON.parse(res.body.toString('utf8'))).toMatchObject({ success: false, code: 'origin_not_allowed' });
      // Another specialist's origin is not this one's.
      expect((await get('/s/bert/list', { origin: 'https://site.example' })).status).toBe(403);
    });

    it('answers a failed origin lookup in the error shape, with the request id and no grant', async () => {
      const res = await get('/s/down/list', { origin: 'https://site.example', 'x-request-id': 'down-1' });
      expect(res.status).toBe(503);
      expect(JSON.parse(res.body.toString('utf8'))).toEqual({ success: false, code: 'database_unavailable', message: 'The database is not answering.' });
      expect(res.header('x-request-id')).toBe('down-1');
      expect(res.header('vary')).toBe('Origin');
      expect(res.header('access-control-allow-origin')).toBeUndefined();
    });

    it("keeps a caller's plain X-Request-Id and replaces anything else", async () => {
      expect((await get('/s/anna/list', { 'x-request-id': 'abc-123=' })).header('x-request-id')).toBe('abc-123=');
      expect((await get('/s/anna/list', { 'x-request-id': 'has space' })).header('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      expect((await get('/s/anna/list', { 'x-request-id': 'x'.repeat(256) })).header('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    });

    it("puts its headers on the route's own JSON answers, beside the route's own", async () => {
      const res = await get('/s/anna/json', { origin: 'https://site.example', 'x-tag': ['a', 'b'], 'x-request-id': 'mine' });
      expect(res.status).toBe(200);
      expect(res.header('access-control-allow-origin')).toBe('https://site.example');
      expect(res.header('vary')).toBe('Origin');
      expect(res.header('x-request-id')).toBe('mine');
      expect(res.header('idempotent-replayed')).toBe('true');
      // A repeated request header is joined with ", ", as Headers.get does; the handler sees the id.
      expect(JSON.parse(res.body.toString('utf8'))).toEqual({ tag: 'a, b', requestId: 'mine' });
    });

    it.each([
      ['throws', 409, 'slot_taken'],
      ['rejects', 404, 'not_found'],
    ])('turns an error the route %s into the error shape, with the same headers', async (route, status, code) => {
      const res = await get(`/s/anna/${route}`, { origin: 'https://site.example', 'x-request-id': 'err-1' });
      expect(res.status).toBe(status);
      expect(JSON.parse(res.body.toString('utf8'))).toMatchObject({ success: false, code });
      expect(res.header('access-control-allow-origin')).toBe('https://site.example');
      expect(res.header('x-request-id')).toBe('err-1');
      expect(res.header('vary')).toBe('Origin');
    });

    it('answers a preflight from an allowed origin with 204 and what it may send; refuses others', async () => {
      const pre = await get('/s/anna/bookings', { origin: 'https://site.example', 'access-control-request-method': 'POST' }, 'OPTIONS');
      expect(pre.status).toBe(204);
      expect(pre.header('access-control-allow-origin')).toBe('https://site.example');
      expect(pre.header('access-control-allow-methods')).toBe('GET, POST, OPTIONS');
      expect(pre.header('access-control-allow-headers')).toBe('Content-Type, Idempotency-Key');
      expect(pre.header('access-control-max-age')).toBe('600');
      const refused = await get('/s/anna/bookings', { origin: 'https://evil.example', 'access-control-request-method': 'POST' }, 'OPTIONS');
      expect(refused.status).toBe(403);
      expect(refused.header('access-control-allow-origin')).toBeUndefined();
      const noOrigin = await get('/s/anna/bookings', {}, 'OPTIONS');
      expect(noOrigin.status).toBe(404);
    });

    it('logs one line per request with its id, status and path (never the query)', async () => {
      lines.length = 0;
      await get('/s/anna/throws?token=secret', { 'x-request-id': 'logged-1' });
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ level: 'info', message: 'request', requestId: 'logged-1', method: 'GET', path: '/s/anna/throws', status: 409 });
      expect(typeof lines[0]!.ms).toBe('number');
      expect(JSON.stringify(lines)).not.toContain('secret');
    });
  });
});
