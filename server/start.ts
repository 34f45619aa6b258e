import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { createApp } from './app.js';
import { createBackground, namedTask, periodicTask, type Background, type BackgroundTask } from './background.js';
import { createClientAddressResolver } from './http/client-address.js';
import { resumeStalePendingBookings } from './bookings/index.js';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config.js';
import { migrateToLatest, openDatabase, type DatabaseHandle } from './db/index.js';
import { seedDemo } from './demo/seed.js';
import { createJobWorker, type JobWorker } from './jobs/index.js';
import { createMetrics } from './metrics/index.js';
import { createLogger, type Logger } from './logger.js';
import { createRetentionJob, retentionTasks } from './maintenance/retention.js';
import { loadOrCreateKeyFile } from './security/key-file.js';
import { createTokenCipher } from './security/token-cipher.js';
import { createServices, deriveSigningKey, type CoreDeps, type Services } from './services.js';
import { startLocalInbox, type LocalInbox } from './email/local-inbox.js';
import { createEmailJobHandler } from './email/outbox.js';
import { createReminderJobHandler } from './email/reminders.js';
import { createMailSender } from './email/transport.js';
import { createZoomClient, type ZoomClient } from './zoom/client.js';
import { createZoomHealthCheck, createZoomHealthNoticeJobHandler, ZOOM_HEALTH_TICK_MS, type ZoomHealthCheck } from './zoom/health.js';
import { createMeetingCleanupJobHandler } from './zoom/meeting-cleanup.js';
import { createZoomChangeJobHandlers } from './bookings/zoom-changes.js';
import { createHeldRequestJobHandler, makeHeldRequestsDue } from './bookings/held-requests.js';
import type { ZoomConnectionStore } from './zoom/connections.js';
import type { ReauthNotifier } from './zoom/reauth.js';
import { startZoomEmulator, type RunningZoomEmulator } from './zoom-emulator/index.js';

export interface RunningServer {
  /** Where the server listens, e.g. http://127.0.0.1:3000. */
  url: string;
  /** The base of links it hands out. */
  publicUrl: string;
  database: DatabaseHandle;
  /** The bundled Zoom emulator, when no Zoom credentials are configured. */
  zoomEmulator: RunningZoomEmulator | undefined;
  /** The demo's local SMTP server and inbox, when no mail route is configured. */
  inbox: LocalInbox | undefined;
  /** The one set of services the app and the background work share (one slot cache, one connection store). */
  services: Services;
  /** Everything the process runs besides answering requests (see `backgroundTasks`). */
  background: Background;
  /**
   * The background work itself, to run by hand when `startBackground` is
   * false (a simulation on its own clock): the job worker and the Zoom
   * health check, each with `runDue()`.
   */
  work: BackgroundWork;
  /**
   * Shuts down gracefully: `/readyz` answers 503 at once, the listening
   * socket closes (no new connections), idle keep-alive connections are
   * closed, requests in flight get up to `config.shutdownGraceMs` to finish
   * (then their connections are cut), and every background task stops,
   * finishing the item in hand. Then the emulator, the inbox and the
   * database close.
   */
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  clock?: Clock;
  /** Replaces the re-auth email (tests that only count calls). */
  notifyReauthRequired?: ReauthNotifier;
  /** How often the job worker (which sends the mail) looks for due jobs. Default 250 ms. */
  outboxPollMs?: number;
  /** False: the background tasks are built but not started; `work` runs them by hand. Default true. */
  startBackground?: boolean;
  /** The health check's jitter source. Default Math.random. */
  random?: () => number;
}

/** The work of the background tasks, each runnable by hand. */
export interface BackgroundWork {
  jobs: JobWorker;
  zoomHealth: ZoomHealthCheck;
}

const STALE_BOOKING_SWEEP_MS = 60_000;

/**
 * Starts what `npm start` runs, from a validated configuration: the database
 * (migrated; demo seeded when asked), the Zoom emulator when no Zoom
 * credentials are set, the HTTP server, and the background work
 * (`backgroundTasks`). This is the composition root: the services are built
 * here, once, and shared by the app and the background work.
 */
export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const clock = options.clock ?? systemClock;
  const database = openDatabase(config.databaseUrl);
  await migrateToLatest(database.db, database.kind);
  const encryptionKey = config.tokenEncryptionKey ?? loadOrCreateKeyFile(join(config.dataDir, 'token-encryption.key'));
  const cipher = createTokenCipher(encryptionKey);

  // Bind first: with PORT=0 the public URL depends on the port we get.
  let app: ReturnType<typeof createApp> | undefined;
  const server = serve({
    fetch: (request, env) => (app ? app.fetch(request, env) : new Response('Starting', { status: 503 })),
    port: config.port,
    hostname: config.host,
  });
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const publicUrl = config.publicUrl ?? `http://localhost:${port}`;
  const redirectUri = `${publicUrl}/oauth/zoom/callback`;

  const metrics = createMetrics({ db: database.db, clock });
  const zoomEmulator = config.zoom.mode === 'emulator' ? await startZoomEmulator({ port: config.zoom.emulatorPort, hostname: config.host, redirectUri }) : undefined;
  const zoom = zoomEmulator
    ? createZoomClient({
        clientId: zoomEmulator.clientId,
        clientSecret: zoomEmulator.clientSecret,
        oauthBaseUrl: zoomEmulator.oauthBaseUrl,
        apiBaseUrl: zoomEmulator.apiBaseUrl,
        redirectUri,
        observer: metrics.zoom,
        clock,
      })
    : createZoomClient({ ...(config.zoom as Extract<Config['zoom'], { mode: 'zoom' }>), redirectUri, observer: metrics.zoom, clock });
  const zoomWebhookSecret = zoomEmulator ? zoomEmulator.webhookSecret : config.zoom.mode === 'zoom' ? config.zoom.webhookSecret : undefined;

  const inbox = config.mail.mode === 'local' ? await startLocalInbox({ port: config.mail.port }) : undefined;
  const core: CoreDeps = {
    db: database.db,
    clock,
    logger,
    cipher,
    zoom,
    publicUrl,
    signingKey: deriveSigningKey(encryptionKey),
    reauthEmailWindowMs: config.reauthEmailWindowMs,
    notifyReauthRequired: options.notifyReauthRequired,
    limits: config.limits,
  };
  const services = createServices(core);
  if (config.seedDemo) {
    const demo = await seedDemo(database.db, publicUrl);
    // The emulator forgets everything when it stops: connect the demo specialist
    // afresh at every start, so booking works at once.
    if (zoomEmulator) await connectDemoToEmulator(zoomEmulator, zoom, services.connections, demo.specialistId, clock);
  }
  let isDraining = false;
  app = createApp({
    ...core,
    services,
    zoomWebhookSecret,
    inbox,
    clientAddressOf: createClientAddressResolver(config.trustProxy),
    isDraining: () => isDraining,
    metrics,
    metricsToken: config.metricsToken,
  });

  const sender = createMailSender(config.mail, inbox?.port);
  const work = backgroundWork({ config, options, core, services, sender, databaseKind: database.kind });
  const background = createBackground(backgroundTasks(work, { config, core, services }), logger);
  if (options.startBackground !== false) await background.start();

  return {
    url: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`,
    publicUrl,
    database,
    zoomEmulator,
    inbox,
    services,
    background,
    work,
    close: async () => {
      isDraining = true;
      await Promise.all([drainConnections(server as Server, config.shutdownGraceMs), background.stop()]);
      sender.close?.();
      await zoomEmulator?.close();
      await inbox?.close();
      await database.close();
    },
  };
}

interface BackgroundWiring {
  config: Config;
  options: StartOptions;
  core: CoreDeps;
  services: Services;
  sender: ReturnType<typeof createMailSender>;
  databaseKind: DatabaseHandle['kind'];
}

/**
 * The job worker, with one handler for every kind of job (sends queued
 * email, deletes leftover Zoom meetings, carries out Zoom changes, sends
 * reminders and health notices, confirms held requests), and the Zoom health
 * check (issue #17: each connection checked every few hours, a second's
 * budget a run).
 */
function backgroundWork({ config, options, core, services, sender, databaseKind }: BackgroundWiring): BackgroundWork {
  const { db, clock, cipher, logger, publicUrl } = core;
  const { notifyReauthRequired } = services.bookings;
  return {
    jobs: createJobWorker({
      db,
      databaseKind,
      clock,
      logger,
      pollMs: options.outboxPollMs,
      handlers: [
        createEmailJobHandler({ db, clock, cipher, logger, sender, from: config.mailFrom ?? `specialist-booking <no-reply@${new URL(publicUrl).hostname}>` }),
        createMeetingCleanupJobHandler(services.bookings.meetings),
        ...createZoomChangeJobHandlers({ db, zoom: core.zoom, connections: services.connections, notifyReauthRequired, logger }),
        createReminderJobHandler({ db, clock, logger, outbox: services.outbox, publicUrl, manageTokens: services.manageTokens }),
        createZoomHealthNoticeJobHandler({ notifyReauthRequired }),
        createHeldRequestJobHandler(services.bookings),
      ],
    }),
    zoomHealth: createZoomHealthCheck({ ...core, connections: services.connections, ...config.zoomHealth, random: options.random }),
  };
}

/**
 * Everything a server process runs besides answering requests, in start
 * order: the job worker (one for every kind of job), the sweep that finishes
 * bookings whose request died mid-way (its first run ends before the server
 * is ready), the retention job (purges old rows) and the Zoom health check.
 * `close()` stops them all.
 */
function backgroundTasks(work: BackgroundWork, { config, core, services }: Pick<BackgroundWiring, 'config' | 'core' | 'services'>): BackgroundTask[] {
  const { db, clock, logger } = core;
  return [
    namedTask('job worker', work.jobs),
    periodicTask({
      name: 'stale booking sweep',
      intervalMs: STALE_BOOKING_SWEEP_MS,
      run: (stopping) => resumeStalePendingBookings(services.bookings, stopping),
      logger,
    }),
    namedTask('retention', createRetentionJob({ tasks: retentionTasks(db, { emailBodyRetentionMs: config.emailBodyRetentionMs }), clock, logger })),
    periodicTask({
      name: 'zoom health check',
      intervalMs: ZOOM_HEALTH_TICK_MS,
      run: (stopping) => work.zoomHealth.runDue(stopping),
      logger,
    }),
  ];
}

/** How often idle connections are closed while draining: a connection turns idle when its last answer is sent. */
const IDLE_SWEEP_MS = 100;

/**
 * Stops taking connections and waits for the open ones to finish their
 * requests, closing each as it turns idle; after `graceMs` the rest are cut.
 */
function drainConnections(server: Server, graceMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const idleSweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
    const deadline = setTimeout(() => server.closeAllConnections(), graceMs);
    // close() also closes the connections idle now; its callback runs when the last one is gone.
    server.close(() => {
      clearInterval(idleSweep);
      clearTimeout(deadline);
      resolve();
    });
  });
}

/** Authorizes the demo specialist on the emulator through the real client and store. */
async function connectDemoToEmulator(
  emulator: RunningZoomEmulator,
  zoom: ZoomClient,
  connections: ZoomConnectionStore,
  specialistId: string,
  clock: Clock,
): Promise<void> {
  const user = emulator.controls.addUser({ first_name: 'Maya', last_name: 'Lindqvist', display_name: 'Maya Lindqvist', email: 'maya@demo.specialist-booking.test' });
  const { code, codeVerifier } = emulator.controls.issueAuthorizationCode({ userId: user.id });
  const tokens = await zoom.exchangeCode(code, codeVerifier);
  // Requests held while the last run's connection was dead are confirmed now.
  await connections.saveAuthorization(specialistId, tokens, await zoom.getMe(tokens.accessToken), (trx) => makeHeldRequestsDue(trx, clock, specialistId).then(() => undefined));
}
