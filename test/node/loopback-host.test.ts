import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalInbox, type LocalInbox } from '../../server/email/local-inbox.js';
import { inboxRoutes } from '../../server/http/inbox-routes.js';
import { isLoopbackHost } from '../../server/http/loopback-host.js';
import { startZoomEmulator } from '../../server/zoom-emulator/index.js';
import { rawGet } from './helpers/raw-http.js';

describe('isLoopbackHost', () => {
  it.each(['localhost', 'localhost:3000', 'LOCALHOST.', 'demo.localhost:3000', '127.0.0.1', '127.0.0.1:3000', '127.8.9.10:80', '[::1]', '[::1]:3000', '[::ffff:127.0.0.1]:3000'])(
    'lets %s through',
    (host) => expect(isLoopbackHost(host)).toBe(true),
  );

  it.each([undefined, '', 'evil.example', 'evil.example:3000', 'localhost.evil.example', '10.0.0.1:3000', '0.0.0.0:3000', '[::]:3000', '[2001:db8::1]:3000', 'example.com#@localhost'])(
    'refuses %s',
    (host) => expect(isLoopbackHost(host)).toBe(false),
  );
});

/** An IPv4 address of this machine other than loopback, to connect from a peer that is not loopback. */
const outsideAddress = Object.values(networkInterfaces())
  .flat()
  .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address;

const REFUSED = 'This demo page answers only on localhost, to a browser on this machine (not through a proxy).';

describe('the demo inbox and the Zoom emulator, bound to every address (HOST=0.0.0.0)', () => {
  let inbox: LocalInbox;
  let inboxServer: ReturnType<typeof serve>;
  let emulator: Awaited<ReturnType<typeof startZoomEmulator>>;
  const ports: { inbox: number; emulator: number } = { inbox: 0, emulator: 0 };
  const pages = () => [
    { port: ports.inbox, path: '/inbox' },
    { port: ports.emulator, path: '/__emulator' },
    { port: ports.emulator, path: '/v2/users/me' },
  ];

  beforeAll(async () => {
    inbox = await startLocalInbox({ port: 0 });
    // Mounted as app.ts mounts it.
    const app = new Hono().route('/inbox', inboxRoutes(inbox));
    inboxServer = serve({ fetch: app.fetch, port: 0, hostname: '0.0.0.0' });
    await once(inboxServer, 'listening');
    ports.inbox = (inboxServer.address() as AddressInfo).port;
    emulator = await startZoomEmulator({ redirectUri: 'http://localhost:3000/oauth/zoom/callback', hostname: '0.0.0.0' });
    ports.emulator = Number(new URL(emulator.url).port);
  });
  afterAll(async () => {
    await new Promise((resolve) => inboxServer?.close(resolve));
    await emulator?.close();
    await inbox?.close();
  });

  it('answers a browser on this machine at localhost', async () => {
    expect((await rawGet(`http://127.0.0.1:${ports.inbox}/inbox`, { host: `localhost:${ports.inbox}` })).status).toBe(200);
    expect((await rawGet(`http://127.0.0.1:${ports.emulator}/__emulator`, { host: `localhost:${ports.emulator}` })).status).toBe(200);
  });

  it('refuses a loopback request that a proxy forwarded (X-Forwarded-For, X-Forwarded-Host, Forwarded, X-Real-IP)', async () => {
    for (const { port, path } of pages()) {
      for (const [name, value] of [
        ['x-forwarded-for', '203.0.113.9'],
        ['x-forwarded-host', `localhost:${port}`],
        ['forwarded', 'for=203.0.113.9'],
        ['x-real-ip', '203.0.113.9'],
      ] as const) {
        const answer = await rawGet(`http://127.0.0.1:${port}${path}`, { host: `localhost:${port}`, [name]: value });
        expect([path, name, answer.status, answer.body.toString()]).toEqual([path, name, 403, REFUSED]);
      }
    }
  });

  // Needs an address of this machine that is not loopback, to connect from a peer that is not.
  it.skipIf(outsideAddress === undefined)('refuses a peer off loopback that sends Host: localhost', async () => {
    for (const { port, path } of pages()) {
      const answer = await rawGet(`http://${outsideAddress}:${port}${path}`, { host: `localhost:${port}` });
      expect([path, answer.status, answer.body.toString()]).toEqual([path, 403, REFUSED]);
    }
  });
});
