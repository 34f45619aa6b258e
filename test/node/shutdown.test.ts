/**
 * SIGTERM while a booking waits seconds for Zoom: the booking is answered
 * 201, /readyz says 503 meanwhile, no new connection is taken, and the
 * process exits 0.
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackground, namedTask, periodicTask } from '../../server/background.js';
import { systemClock } from '../../server/clock.js';
import { createEmailJobHandler, enqueueEmail, type MailSender } from '../../server/email/outbox.js';
import { createJobWorker, type JobWorker } from '../../server/jobs/index.js';
import { createMailSender } from '../../server/email/transport.js';
import { createLogger } from '../../server/logger.js';
import { createRetentionJob } from '../../server/maintenance/retention.js';
import { createTokenCipher } from '../../server/security/token-cipher.js';
import { childEnv, startChildServer } from './helpers/child-server.js';
import { createTestDatabase, DATABASE_KINDS, useTestDatabase, type TestDatabase } from './helpers/databases.js';
import { startFlakyProxy, type FlakyProxy } from './helpers/flaky-proxy.js';
import { bookingBody, seedSpecialist } from './helpers/fixtures.js';
import { connectZoom, startTestServer, type TestServer } from './helpers/server.js';
import { startTestSmtp } from './helpers/smtp.js';

const ZOOM_DELAY_MS = 3_000;

describe('graceful shutdown', () => {
  let database: TestDatabase;
  let server: TestServer;
  let zoomProxy: FlakyProxy;

  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    server = await startTestServer({ db: database.handle.db, clock: systemClock });
    zoomProxy = await startFlakyProxy(server.emulator.url);
  });
  afterAll(async () => {
    await zoomProxy?.close();
    await server?.close();
    await database?.destroy();
  });

  it('on SIGTERM answers the booking in flight with 201, says 503 on /readyz, takes no new connection and exits 0', async () => {
    const everyDay = [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '00:00', end: '24:00' }));
    const { specialistId, serviceIds } = await seedSpecialist(database.handle.db, { weeklyHours: everyDay, minNoticeMinutes: 0, timeZone: 'UTC' });
    await connectZoom(server, specialistId);
    // "Real" Zoom for the child: the emulator, behind a proxy that can be slow.
    const child = await startChildServer({
      ...childEnv(database.url, server),
      ZOOM_OAUTH_BASE_URL: zoomProxy.url,
      ZOOM_API_BASE_URL: `${zoomProxy.url}/v2`,
      SHUTDOWN_GRACE_SECONDS: '20',
    });
    const slots = await (await fetch(`${child.url}/api/v1/specialists/anna/services/${serviceIds[0]}/slots`)).json();
    const { port } = new URL(child.url);
    const zoomCallsBefore = zoomProxy.requests.length;
    zoomProxy.faults.push({ kind: 'delay', ms: ZOOM_DELAY_MS });

    // One keep-alive connection: the booking, then (pipelined, after SIGTERM) a readiness check.
    const socket = connect(Number(port), '127.0.0.1');
    let received = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const body = JSON.stringify(bookingBody(serviceIds[0]!, slots.slots[0].start));
    socket.write(`POST /api/v1/specialists/anna/bookings HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    while (zoomProxy.requests.length === zoomCallsBefore) await new Promise((r) => setTimeout(r, 10));
    const meetingCall = zoomProxy.requests.at(-1)!;
    expect([meetingCall.method, meetingCall.path]).toEqual(['POST', '/v2/users/me/meetings']);

    const signalledAt = Date.now();
    child.process.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    socket.write(`GET /readyz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    await expect(fetch(`${child.url}/healthz`)).rejects.toThrow('fetch failed');

    // The server closes the connection once both answers are out (it is idle then).
    await closed;
    const answers = [...received.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
    expect(answers).toEqual([201, 503]);
    expect(received).toContain('"status":"confirmed"');
    expect(received).toContain('{"success":false,"status":"draining"}');
    expect(await child.stop()).toBe(0);
    // It waited for Zoom, and no longer than the grace period.
    expect(Date.now() - signalledAt).toBeGreaterThan(ZOOM_DELAY_MS - 1_000);
    expect(Date.now() - signalledAt).toBeLessThan(20_000);
    const rows = await database.handle.db.selectFrom('bookings').select('status').execute();
    expect(rows).toEqual([{ status: 'confirmed' }]);
  }, 60_000);
});

describe.each(DATABASE_KINDS)('the job worker stopping on %s', (kind) => {
  const database = useTestDatabase(kind);

  it('finishes the message in hand and leaves the rest of its batch pending', async () => {
    const db = database().handle.db;
    const cipher = createTokenCipher(randomBytes(32));
    const outbox = { clock: systemClock, cipher, messageIdDomain: 'booking.test' };
    for (const subject of ['first', 'second', 'third']) await enqueueEmail(db, outbox, { kind: 'test', to: 'a@example.test', subject, text: 'x', html: '<p>x</p>' });
    const smtp = await startTestSmtp();
    const transport = createMailSender({ mode: 'smtp', url: smtp.url, isInsecureAllowed: false });
    let worker: JobWorker | undefined;
    let stopped: Promise<void> | undefined;
    // The real transport; the shutdown comes while the first message is on its way.
    const sender: MailSender = {
      sendMail: (message) => {
        stopped ??= worker!.stop();
        return transport.sendMail(message);
      },
    };
    const logger = createLogger('silent');
    worker = createJobWorker({ db, databaseKind: kind, clock: systemClock, logger, handlers: [createEmailJobHandler({ db, clock: systemClock, cipher, sender, from: 'b@booking.test', logger })] });
    try {
      worker.start();
      while (!stopped) await new Promise((r) => setTimeout(r, 5));
      await stopped;
      const rows = await db.selectFrom('email_outbox').select(['subject', 'status']).orderBy('subject').execute();
      expect(rows).toEqual([
        { subject: 'first', status: 'sent' },
        { subject: 'second', status: 'pending' },
        { subject: 'third', status: 'pending' },
      ]);
      expect(smtp.messages.map((m) => m.subject)).toEqual(['first']);
    } finally {
      transport.close?.();
      await smtp.close();
    }
  });
});

describe('the background work registry', () => {
  it('stop() aborts the run in hand, waits for it, and stops every task even when one fails to stop', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger('error', (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
    const events: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let signal: AbortSignal | undefined;
    const sweep = periodicTask({
      name: 'sweep',
      intervalMs: 60_000,
      logger,
      run: async (stopping) => {
        signal = stopping;
        await held;
        events.push(stopping.aborted ? 'run ended, told to stop' : 'run ended');
      },
    });
    const retention = namedTask('retention', createRetentionJob({ tasks: [], clock: systemClock, logger }));
    const stuck = { name: 'stuck', start() {}, stop: () => Promise.reject(new Error('could not stop')) };
    const background = createBackground([retention, stuck, sweep], logger);

    // The sweep's first run is held open: start() waits for it, stop() comes meanwhile.
    const starting = background.start();
    while (!signal) await new Promise((resolve) => setImmediate(resolve));
    expect(background.running()).toEqual(['retention', 'stuck', 'sweep']);
    const stopped = background.stop().then(() => events.push('stopped'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(signal.aborted).toBe(true);
    expect(events).toEqual([]);

    release();
    await Promise.all([starting, stopped]);
    expect(events).toEqual(['run ended, told to stop', 'stopped']);
    expect(background.running()).toEqual([]);
    expect(lines).toMatchObject([{ message: 'background task did not stop cleanly', task: 'stuck', error: 'could not stop' }]);
  });

  it('a task that fails to start stops the ones started before it, and start() throws', async () => {
    const logger = createLogger('silent');
    const stoppedNames: string[] = [];
    const task = (name: string) => ({ name, start() {}, stop: async () => void stoppedNames.push(name) });
    const broken = { name: 'broken', start: () => Promise.reject(new Error('no database')), stop: async () => void stoppedNames.push('broken') };
    const background = createBackground([task('first'), broken, task('never started')], logger);
    await expect(background.start()).rejects.toThrow('no database');
    expect(stoppedNames.sort()).toEqual(['broken', 'first']);
    expect(background.running()).toEqual([]);
  });
});
