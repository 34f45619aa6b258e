import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClientAddressResolver, type TrustProxy } from '../../server/http/client-address.js';
import { createLogger, type LogLevel } from '../../server/logger.js';
import { createTestDatabase, type TestDatabase } from './helpers/databases.js';
import { fixedClock, seedSpecialist } from './helpers/fixtures.js';
import { rawGet } from './helpers/raw-http.js';
import { startTestServer } from './helpers/server.js';

/** A server whose log lines land in an array, at a given level. */
async function serverLoggingAt(database: TestDatabase, level: LogLevel, trustProxy: TrustProxy = { kind: 'none' }) {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger(level, (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
  const server = await startTestServer({ db: database.handle.db, clock: fixedClock, logger, clientAddressOf: createClientAddressResolver(trustProxy) });
  return { server, lines };
}

describe('logger levels', () => {
  it('says which levels it writes', () => {
    const logger = createLogger('warn', () => {});
    expect([logger.isEnabled('debug'), logger.isEnabled('info'), logger.isEnabled('warn'), logger.isEnabled('error')]).toEqual([false, false, true, true]);
    expect(createLogger('silent', () => {}).isEnabled('error')).toBe(false);
  });
});

describe('request log', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    await seedSpecialist(database.handle.db, { slug: 'logged' });
  });
  afterAll(async () => {
    await database?.destroy();
  });

  it('writes one line per request at info: method, path without the query, status and the X-Request-Id sent back', async () => {
    const { server, lines } = await serverLoggingAt(database, 'info');
    try {
      const res = await rawGet(`${server.url}/api/v1/specialists/logged?secret=do-not-log`);
      expect(res.status).toBe(200);
      const requestLines = lines.filter((l) => l.message === 'request');
      expect(requestLines).toHaveLength(1);
      expect(requestLines[0]).toMatchObject({ level: 'info', method: 'GET', path: '/api/v1/specialists/logged', status: 200, requestId: res.headers['x-request-id'] });
      expect(JSON.stringify(lines)).not.toContain('do-not-log');
    } finally {
      await server.close();
    }
  });

  it.each<[string, TrustProxy, string]>([
    ['no proxy is trusted', { kind: 'none' }, '127.0.0.1'],
    ['the proxy is trusted', { kind: 'addresses', addresses: ['loopback'] }, '203.0.113.7'],
  ])('logs the client address of site and API requests; the forwarded one only when %s', async (_case, trustProxy, client) => {
    const { server, lines } = await serverLoggingAt(database, 'info', trustProxy);
    try {
      const forwarded = { 'x-forwarded-for': '203.0.113.7' };
      expect((await rawGet(`${server.url}/healthz`, forwarded)).status).toBe(200);
      expect((await rawGet(`${server.url}/api/v1/specialists/logged`, forwarded)).status).toBe(200);
      expect(lines.filter((l) => l.message === 'request').map((l) => [l.path, l.client])).toEqual([
        ['/healthz', client],
        ['/api/v1/specialists/logged', client],
      ]);
    } finally {
      await server.close();
    }
  });

  it('writes nothing for requests when info lines are off, and still sends X-Request-Id', async () => {
    const { server, lines } = await serverLoggingAt(database, 'warn');
    try {
      const res = await rawGet(`${server.url}/api/v1/specialists/logged`);
      expect(res.status).toBe(200);
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(lines).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it("keeps a caller's X-Request-Id when it is a plain token of at most 255 characters, and replaces any other", async () => {
    const { server, lines } = await serverLoggingAt(database, 'info');
    try {
      const idOf = async (given: string) => (await rawGet(`${server.url}/api/v1/specialists/logged`, { 'x-request-id': given })).headers['x-request-id'];
      expect(await idOf('proxy-7f3a=')).toBe('proxy-7f3a=');
      expect(await idOf('a'.repeat(255))).toBe('a'.repeat(255));
      for (const bad of ['a'.repeat(256), 'two words', '<script>']) expect(await idOf(bad)).toMatch(/^[0-9a-f-]{36}$/);
      expect(lines.filter((l) => l.message === 'request').map((l) => l.requestId)).toContain('proxy-7f3a=');
    } finally {
      await server.close();
    }
  });

  it('leaves small API answers uncompressed and compresses pages', async () => {
    const { server } = await serverLoggingAt(database, 'silent');
    try {
      const api = await rawGet(`${server.url}/api/v1/specialists/logged`, { 'accept-encoding': 'gzip, br' });
      expect(api.status).toBe(200);
      expect(api.headers['content-encoding']).toBeUndefined();
      expect(JSON.parse(api.body.toString('utf8'))).toMatchObject({ success: true, specialist: { slug: 'logged' } });
      const docs = await rawGet(`${server.url}/docs`, { 'accept-encoding': 'gzip' });
      expect(docs.status).toBe(200);
      expect(docs.headers['content-encoding']).toBe('gzip');
    } finally {
      await server.close();
    }
  });
});
