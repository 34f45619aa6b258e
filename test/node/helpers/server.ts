import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { serve } from '@hono/node-server';
import type { Kysely } from 'kysely';
import { createApp } from '../../../server/app.js';
import { createSession, SESSION_COOKIE } from '../../../server/auth/sessions.js';
import type { Clock } from '../../../server/clock.js';
import type { Database } from '../../../server/db/schema.js';
import { createClientAddressResolver, type ClientAddressOf, type TrustProxy } from '../../../server/http/client-address.js';
import type { AbuseLimits } from '../../../server/limits/index.js';
import { createLogger, type Logger } from '../../../server/logger.js';
import { createMetrics, type Metrics } from '../../../server/metrics/index.js';
import { createTokenCipher, type TokenCipher } from '../../../server/security/token-cipher.js';
import { createServices, deriveSigningKey, type CoreDeps, type Services } from '../../../server/services.js';
import { createZoomClient } from '../../../server/zoom/client.js';
import type { ReauthNotifier, ReauthRequiredEvent } from '../../../server/zoom/reauth.js';
import { startZoomEmulator } from '../../../server/zoom-emulator/index.js';
import { afterAll, beforeAll } from 'vitest';
import { createTestDatabase, type TestDatabase } from './databases.js';
import { startFlakyProxy, type FlakyProxy } from './flaky-proxy.js';
import { fixedClock } from './fixtures.js';

export type RunningEmulator = Awaited<ReturnType<typeof startZoomEmulator>>;

export interface TestServer {
  url: string;
  emulator: RunningEmulator;
  /** Between the server's Zoom client and the emulator, with `zoomThroughProxy`: it can answer what Zoom should not. */
  zoomProxy: FlakyProxy | undefined;
  /** Every re-auth notification the server asked for, in order. */
  reauthEvents: ReauthRequiredEvent[];
  cipher: TokenCipher;
  /** Base64 key of `cipher`, for a second process sharing the database. */
  encryptionKey: string;
  core: CoreDeps;
  /** The services the app runs on (the same objects: its slot cache, its connection store). */
  services: Services;
  metrics: Metrics;
  close(): Promise<void>;
}

export interface TestServerOptions {
  db: Kysely<Database>;
  clock: Clock;
  publicUrl?: string;
  /** Reuse an emulator configured with this server's redirect URI; default: a new one on the same clock. */
  emulator?: RunningEmulator;
  /** Sends the server's Zoom calls through a `FlakyProxy` in front of the emulator (`zoomProxy`). */
  zoomThroughProxy?: boolean;
  encryptionKey?: string;
  /**
   * Default: records the event and answers notified = true. Pass `'email'`
   * for the real re-auth email through the outbox.
   */
  notifyReauthRequired?: ReauthNotifier | 'email';
  reauthEmailWindowMs?: number;
  /** Default: a silent logger. */
  logger?: Logger;
  /** Default: the socket's address (no proxy trusted). */
  clientAddressOf?: ClientAddressOf;
  /** Default: limits no other test reaches (limits.test.ts sets its own). */
  limits?: AbuseLimits;
  /** Default none: the socket's address is the client's. */
  trustProxy?: TrustProxy;
  /** Where to listen; default 127.0.0.1. (`url` names 127.0.0.1 either way.) */
  hostname?: string;
  /** Opens `/metrics` to callers off loopback. */
  metricsToken?: string;
}

/** Limits that tests not about limits never reach: they book and read slots from one address. */
export const UNREACHED_LIMITS: AbuseLimits = {
  bookingsPerAddressPerHour: 1_000_000,
  bookingsPerCustomerPerDay: 1_000_000,
  bookingsPerSpecialistPerDay: 1_000_000,
  slotReadsPerAddressPerMinute: 1_000_000,
};

/**
 * Serves the real app over a real socket on a free port, with a real Zoom
 * emulator on another, both on the test's clock.
 */
export async function startTestServer(options: TestServerOptions): Promise<TestServer> {
  let app: ReturnType<typeof createApp> | undefined;
  const server = serve({ fetch: (req, env) => app!.fetch(req, env), port: 0, hostname: options.hostname ?? '127.0.0.1' });
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const publicUrl = options.publicUrl ?? url;
  const redirectUri = `${publicUrl}/oauth/zoom/callback`;
  const emulator = options.emulator ?? (await startZoomEmulator({ clock: options.clock, redirectUri }));
  const zoomProxy = options.zoomThroughProxy ? await startFlakyProxy(emulator.url) : undefined;
  const zoomUrl = zoomProxy?.url ?? emulator.url;
  const encryptionKey = options.encryptionKey ?? randomBytes(32).toString('base64');
  const cipher = createTokenCipher(Buffer.from(encryptionKey, 'base64'));
  const reauthEvents: ReauthRequiredEvent[] = [];
  const metrics = createMetrics({ db: options.db, clock: options.clock });
  const core: CoreDeps = {
    db: options.db,
    clock: options.clock,
    logger: options.logger ?? createLogger('silent'),
    cipher,
    zoom: createZoomClient({
      clientId: emulator.clientId,
      clientSecret: emulator.clientSecret,
      oauthBaseUrl: zoomUrl,
      apiBaseUrl: `${zoomUrl}/v2`,
      redirectUri,
      maxRetryDelayMs: 50,
      observer: metrics.zoom,
    }),
    publicUrl,
    signingKey: deriveSigningKey(Buffer.from(encryptionKey, 'base64')),
    reauthEmailWindowMs: options.reauthEmailWindowMs,
    limits: options.limits ?? UNREACHED_LIMITS,
    notifyReauthRequired:
      options.notifyReauthRequired === 'email'
        ? undefined
        : (options.notifyReauthRequired ??
          (async (_trx, event) => {
            reauthEvents.push(event);
            return { notified: true };
          })),
  };
  // One set of services, as in start.ts: the app's caches are the ones tests reach through `services`.
  const services = createServices(core);
  app = createApp({
    ...core,
    services,
    zoomWebhookSecret: emulator.webhookSecret,
    clientAddressOf: options.clientAddressOf ?? createClientAddressResolver(options.trustProxy ?? { kind: 'none' }),
    metrics,
    metricsToken: options.metricsToken,
  });
  return {
    url,
    emulator,
    zoomProxy,
    reauthEvents,
    cipher,
    encryptionKey,
    core,
    services,
    metrics,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      await zoomProxy?.close();
      if (!options.emulator) await emulator.close();
    },
  };
}

/** A signed-in specialist's cookie header, made through the real session code. */
export async function signInCookie(server: TestServer, specialistId: string): Promise<string> {
  const { token } = await createSession(server.core.db, server.core.clock, specialistId);
  return `${SESSION_COOKIE}=${token}`;
}

/**
 * Connects a specialist's Zoom the way a person does: signed in, open
 * "Connect", click "Allow" on the emulator's consent page, follow the
 * redirect back. Returns the Zoom user id it connected.
 */
export async function connectZoom(server: TestServer, specialistId: string, zoomUser = server.emulator.controls.addUser()): Promise<string> {
  const cookie = await signInCookie(server, specialistId);
  const location = await allowOnConsentPage(await startConnectingZoom(server.url, cookie), zoomUser.id);
  const callback = await fetch(location, { headers: { cookie }, redirect: 'manual' });
  if (!/^\/dashboard\?zoom=(connected|reauthorized)$/.test(callback.headers.get('location') ?? '')) {
    throw new Error(`callback answered ${callback.status} ${callback.headers.get('location')}: ${await callback.text()}`);
  }
  return zoomUser.id;
}

/**
 * Presses "Connect Zoom" (or "Re-authorize" / "Switch Zoom account") on the
 * settings page as a signed-in browser would: a POST with the page's CSRF
 * token. Returns Zoom's consent URL it redirects to.
 */
export async function startConnectingZoom(baseUrl: string, cookie: string): Promise<string> {
  const settings = await (await fetch(`${baseUrl}/settings`, { headers: { cookie } })).text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(settings)?.[1];
  if (!csrf) throw new Error('the settings page has no CSRF token (not signed in?)');
  const start = await fetch(`${baseUrl}/settings/zoom/connect`, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: csrf }),
    redirect: 'manual',
  });
  if (start.status !== 303) throw new Error(`connect answered ${start.status}`);
  return start.headers.get('location')!;
}

/** Opens the consent page at `authorizeUrl`, submits it with a decision, returns the redirect Location. */
export async function allowOnConsentPage(authorizeUrl: string, zoomUserId: string, decision: 'allow' | 'deny' = 'allow'): Promise<string> {
  const page = await (await fetch(authorizeUrl)).text();
  const form = new URLSearchParams();
  for (const match of page.matchAll(/<input[^>]*type="hidden"[^>]*>/g)) {
    const name = /name="([^"]*)"/.exec(match[0])?.[1];
    const value = /value="([^"]*)"/.exec(match[0])?.[1] ?? '';
    if (name) form.set(name, decodeEntities(value));
  }
  form.set('user_id', zoomUserId);
  form.set('decision', decision);
  const action = /<form[^>]*action="([^"]*)"/.exec(page)?.[1] ?? '/oauth/authorize';
  const submitted = await fetch(new URL(decodeEntities(action), authorizeUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form,
    redirect: 'manual',
  });
  if (submitted.status !== 302) throw new Error(`consent answered ${submitted.status}: ${await submitted.text()}`);
  return submitted.headers.get('location')!;
}

function decodeEntities(value: string): string {
  return value.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/**
 * A test server on a fresh SQLite database, on the fixed clock, for the
 * tests of the calling file: started in `beforeAll`, closed (then its
 * database removed) in `afterAll`.
 *
 * @example
 * const server = useSqliteTestServer();
 * it('…', async () => { await fetch(`${server().url}/healthz`); });
 */
export function useSqliteTestServer(): () => TestServer {
  let database: TestDatabase | undefined;
  let server: TestServer | undefined;
  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    server = await startTestServer({ db: database.handle.db, clock: fixedClock });
  });
  afterAll(async () => {
    await server?.close();
    await database?.destroy();
  });
  return () => {
    if (!server) throw new Error('The test server is started in beforeAll: use it inside a test or hook.');
    return server;
  };
}
