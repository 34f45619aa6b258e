/**
 * The routine Zoom health check (issue #17, "Proactive health"): real
 * connections made over HTTP against the Zoom emulator, checked under a clock
 * the tests move, emails sent by a real job worker to a real SMTP server; on
 * SQLite and PostgreSQL.
 */
import type { ParsedMail } from 'mailparser';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEmailJobHandler, type MailSender } from '../../server/email/outbox.js';
import { createMailSender } from '../../server/email/transport.js';
import { createJobWorker, type JobWorker } from '../../server/jobs/index.js';
import { createLogger } from '../../server/logger.js';
import { createZoomHealthCheck, createZoomHealthNoticeJobHandler, ZOOM_HEALTH_NOTICE_JOB_KIND, type ZoomHealthCheck } from '../../server/zoom/health.js';
import { DATABASE_KINDS, useTestDatabase } from './helpers/databases.js';
import { clearMailState, drainJobs } from './helpers/jobs.js';
import { bookingBody, createTestClock, FREE_SLOT, NOW, seedSpecialist } from './helpers/fixtures.js';
import { allowOnConsentPage, connectZoom, signInCookie, startTestServer, type TestServer } from './helpers/server.js';
import { useTestSmtp } from './helpers/smtp.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const FIRST_SUBJECT = '⚠️ Action Required: Re-authorize Your Zoom Account - found by a routine check';
const REMINDER_SUBJECT = '⚠️ Reminder: Re-authorize Your Zoom Account - found by a routine check';
const ROUTINE_WORDS = 'Your Zoom connection needs to be re-authorized. This was found by a routine check; no customer has been turned away yet. Re-authorize now and nobody will be.';

function linksIn(mail: ParsedMail): string[] {
  return [...String(mail.html).matchAll(/href="([^"]+)"/g)].map((m) => m[1]!.replace(/&amp;/g, '&'));
}

describe.each(DATABASE_KINDS)('zoom health check on %s', (kind) => {
  const database = useTestDatabase(kind);
  let server: TestServer;
  const smtp = useTestSmtp();
  let time: ReturnType<typeof createTestClock>;
  let specialistId: string;
  let serviceIds: string[];
  let worker: JobWorker;
  let sender: MailSender;
  const db = () => database().handle.db;
  const logger = createLogger('silent');

  /** The health check as start.ts builds it, jitter pinned to the middle (exactly the interval). */
  const healthCheck = (checksPerSecond = 5): ZoomHealthCheck =>
    createZoomHealthCheck({ db: db(), clock: time.clock, logger, zoom: server.core.zoom, connections: server.services.connections, checksPerSecond, random: () => 0.5 });
  const connection = (id = specialistId) =>
    db()
      .selectFrom('zoom_connections')
      .select(['status', 'invalid_reason', 'invalid_since', 'health_checked_at', 'health_check_result', 'health_check_due_at'])
      .where('specialist_id', '=', id)
      .executeTakeFirstOrThrow();
  const drain = () => drainJobs(worker);
  /** Moves the clock to `at` (later than now). */
  const moveTo = (at: number) => time.advance(at - time.clock().getTime());
  /** Connects Zoom as if a day ago: older than the check interval, so due at once (a fresh one waits an interval). */
  const connectZoomLongAgo = async (id: string) => {
    const zoomUserId: string = await connectZoom(server, id);
    await db().updateTable('zoom_connections').set({ connected_at: new Date(time.clock().getTime() - 24 * 3_600_000).toISOString() }).where('specialist_id', '=', id).execute();
    return zoomUserId;
  };
  const zoomCard = async (id = specialistId) => {
    const page = await (await fetch(`${server.url}/dashboard`, { headers: { cookie: await signInCookie(server, id) } })).text();
    return /<p class="hint" id="zoom-last-check">([^<]*)<\/p>/.exec(page)?.[1];
  };

  beforeEach(async () => {
    await clearMailState(db());
    smtp().messages.length = 0;
    ({ specialistId, serviceIds } = await seedSpecialist(db()));
    time = createTestClock(NOW);
    server = await startTestServer({ db: db(), clock: time.clock, notifyReauthRequired: 'email' });
    sender = createMailSender({ mode: 'smtp', url: smtp().url, isInsecureAllowed: false });
    const email = createEmailJobHandler({ db: db(), clock: time.clock, cipher: server.cipher, logger, sender, from: 'specialist-booking <no-reply@booking.test>' });
    const notices = createZoomHealthNoticeJobHandler({ notifyReauthRequired: server.services.bookings.notifyReauthRequired });
    worker = createJobWorker({ db: db(), databaseKind: kind, clock: time.clock, logger, handlers: [email, notices] });
  });
  afterEach(async () => {
    sender?.close?.();
    await server?.close();
  });

  it('finds a revoked token with no customer: marked invalid, one email with the routine-check words and a working re-auth link', async () => {
    const zoomUserId = await connectZoomLongAgo(specialistId);
    server.emulator.controls.revokeAllTokens(zoomUserId);

    expect(await healthCheck().runDue()).toBe(1);
    expect(await connection()).toMatchObject({
      status: 'invalid',
      invalid_reason: 'refresh_token_rejected',
      invalid_since: NOW.toISOString(),
      health_checked_at: NOW.toISOString(),
      health_check_result: 'dead',
    });
    expect(await zoomCard()).toBe('Last checked Monday, 7 January 2030 at 07:00 (Europe/Berlin): the connection no longer works.');
    // The first email now, three reminders later.
    const jobs = await db().selectFrom('jobs').select('run_after').where('kind', '=', ZOOM_HEALTH_NOTICE_JOB_KIND).orderBy('run_after').execute();
    expect(jobs.map((j) => j.run_after)).toEqual([0, 1, 3, 7].map((d) => new Date(NOW.getTime() + d * DAY).toISOString()));

    expect(await drain()).toBe(2); // the notice and its email
    expect(smtp().messages).toHaveLength(1);
    const mail = smtp().messages[0]!;
    expect(mail.subject).toBe(FIRST_SUBJECT);
    expect(mail.to).toMatchObject({ value: [{ address: 'anna@example.test' }] });
    expect(mail.text).toContain(ROUTINE_WORDS);
    const [oneClick] = linksIn(mail);
    expect(oneClick).toMatch(new RegExp(`^${server.url}/auth/link\\?token=`));
    expect(mail.text).toContain(`Re-authorize Zoom: ${oneClick}`);

    const toZoom = await fetch(oneClick!, { redirect: 'manual' });
    expect(toZoom.status).toBe(302);
    const done = await fetch(await allowOnConsentPage(toZoom.headers.get('location')!, zoomUserId), { redirect: 'manual' });
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('Zoom re-authorized — customers can book again.');
    expect((await connection()).status).toBe('active');
    // The check from before the reconnect no longer speaks for the connection.
    expect(await zoomCard()).toBe('Not checked yet: a routine check looks at the connection every few hours.');
  });

  it('checks a healthy connection: it stays active, the dashboard shows when, and the next check refreshes the tokens', async () => {
    await connectZoomLongAgo(specialistId);
    expect(await zoomCard()).toBe('Not checked yet: a routine check looks at the connection every few hours.');
    const check = healthCheck();

    expect(await check.runDue()).toBe(1);
    expect(await connection()).toMatchObject({
      status: 'active',
      health_checked_at: NOW.toISOString(),
      health_check_result: 'ok',
      health_check_due_at: new Date(NOW.getTime() + 6 * HOUR).toISOString(),
    });
    expect(await zoomCard()).toBe('Last checked Monday, 7 January 2030 at 07:00 (Europe/Berlin): Zoom answered; the connection works.');
    expect(await check.runDue()).toBe(0);

    const refreshesBefore = server.emulator.controls.tokenRequests().filter((r) => r.grantType === 'refresh_token' && r.outcome === 'ok').length;
    moveTo(NOW.getTime() + 6 * HOUR);
    expect(await check.runDue()).toBe(1);
    expect(server.emulator.controls.tokenRequests().filter((r) => r.grantType === 'refresh_token' && r.outcome === 'ok')).toHaveLength(refreshesBefore + 1);
    expect(await connection()).toMatchObject({ status: 'active', health_check_result: 'ok', health_checked_at: new Date(NOW.getTime() + 6 * HOUR).toISOString() });
    expect(await zoomCard()).toBe('Last checked Monday, 7 January 2030 at 13:00 (Europe/Berlin): Zoom answered; the connection works.');
    expect(await drain()).toBe(0);
    expect(smtp().messages).toHaveLength(0);
  });

  it('checks a busy specialist more often: at least 8 checks per booking request of the last 14 days, at most hourly', async () => {
    await connectZoomLongAgo(specialistId);
    // With us for a month: the rate is counted over the full 14 days.
    await db().updateTable('specialists').set({ created_at: new Date(NOW.getTime() - 30 * DAY).toISOString() }).execute();
    const booked = await fetch(`${server.url}/api/v1/specialists/anna/bookings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(bookingBody(serviceIds[0]!, FREE_SLOT)),
    });
    expect(booked.status).toBe(201);
    const row = await db().selectFrom('bookings').selectAll().executeTakeFirstOrThrow();
    /** `count` booking requests in all, made over the last days (copies of the real one: only their number and age count). */
    const requestsInAll = async (count: number, oldestDaysAgo: number) => {
      await db().deleteFrom('bookings').where('id', '!=', row.id).execute();
      await db().updateTable('bookings').set({ created_at: time.clock().toISOString() }).execute();
      for (let i = 1; i < count; i++) {
        const createdAt = new Date(time.clock().getTime() - (oldestDaysAgo * DAY * i) / count).toISOString();
        await db().insertInto('bookings').values({ ...row, id: `copy-${i}`, idempotency_key: null, created_at: createdAt, updated_at: createdAt }).execute();
      }
    };
    const dueIn = async () => Date.parse((await connection()).health_check_due_at!) - time.clock().getTime();

    // 14 requests in 14 days: one a day, so a check every 3 hours.
    await requestsInAll(14, 13);
    expect(await healthCheck().runDue()).toBe(1);
    expect(await dueIn()).toBe(3 * HOUR);
    // 84 requests: one every 4 hours would ask for a check every 30 minutes; hourly is the floor.
    await requestsInAll(84, 13);
    moveTo(Date.parse((await connection()).health_check_due_at!));
    expect(await healthCheck().runDue()).toBe(1);
    expect(await dueIn()).toBe(HOUR);
    // Requests older than 14 days do not count: back to the configured 6 hours.
    await requestsInAll(84, 13);
    await db().updateTable('bookings').set({ created_at: new Date(time.clock().getTime() - 15 * DAY).toISOString() }).execute();
    moveTo(Date.parse((await connection()).health_check_due_at!));
    expect(await healthCheck().runDue()).toBe(1);
    expect(await dueIn()).toBe(6 * HOUR);
    // A specialist who joined two days ago with 4 requests since is booked twice a day: a check every 1.5 hours.
    moveTo(Date.parse((await connection()).health_check_due_at!));
    await db().updateTable('specialists').set({ created_at: new Date(time.clock().getTime() - 2 * DAY).toISOString() }).execute();
    await requestsInAll(4, 1);
    expect(await healthCheck().runDue()).toBe(1);
    expect(await dueIn()).toBe(1.5 * HOUR);
  });

  it('reminds at 0, 1, 3 and 7 days (4 emails), none after', async () => {
    const zoomUserId = await connectZoomLongAgo(specialistId);
    server.emulator.controls.revokeAllTokens(zoomUserId);
    expect(await healthCheck().runDue()).toBe(1);

    const subjects: string[] = [];
    for (const days of [0, 1, 3, 7]) {
      moveTo(NOW.getTime() + days * DAY);
      expect(await drain()).toBe(2);
      subjects.push(...smtp().messages.slice(subjects.length).map((m) => m.subject ?? ''));
      expect(subjects).toHaveLength([0, 1, 3, 7].indexOf(days) + 1);
    }
    expect(subjects).toEqual([FIRST_SUBJECT, REMINDER_SUBJECT, REMINDER_SUBJECT, REMINDER_SUBJECT]);
    expect(smtp().messages.every((m) => String(m.text).includes(ROUTINE_WORDS))).toBe(true);
    moveTo(NOW.getTime() + 30 * DAY);
    expect(await healthCheck().runDue()).toBe(0); // a dead connection is not checked again
    expect(await drain()).toBe(0);
    expect(smtp().messages).toHaveLength(4);
  });

  it('stops reminding the moment the specialist reconnects', async () => {
    const zoomUserId = await connectZoomLongAgo(specialistId);
    server.emulator.controls.revokeAllTokens(zoomUserId);
    expect(await healthCheck().runDue()).toBe(1);
    expect(await drain()).toBe(2);
    moveTo(NOW.getTime() + DAY);
    expect(await drain()).toBe(2);
    expect(smtp().messages.map((m) => m.subject)).toEqual([FIRST_SUBJECT, REMINDER_SUBJECT]);

    await connectZoom(server, specialistId, server.emulator.controls.users().find((u) => u.id === zoomUserId));
    moveTo(NOW.getTime() + 8 * DAY);
    expect(await drain()).toBe(2); // the two reminders left, run and ended without an email
    expect(smtp().messages).toHaveLength(2);
    const left = await db().selectFrom('jobs').select('status').where('kind', '=', ZOOM_HEALTH_NOTICE_JOB_KIND).execute();
    expect(left.map((j) => j.status)).toEqual(['done', 'done', 'done', 'done']);
  });

  it('stops reminding when the specialist disconnects', async () => {
    const zoomUserId = await connectZoomLongAgo(specialistId);
    server.emulator.controls.revokeAllTokens(zoomUserId);
    expect(await healthCheck().runDue()).toBe(1);
    expect(await drain()).toBe(2);
    await server.services.connections.disconnect(specialistId);
    moveTo(NOW.getTime() + 8 * DAY);
    expect(await drain()).toBe(3);
    expect(smtp().messages.map((m) => m.subject)).toEqual([FIRST_SUBJECT]);
  });

  it('treats the deauthorization webhook as a dead token found by the check, once however often Zoom sends it', async () => {
    const zoomUserId = await connectZoomLongAgo(specialistId);
    const delivered = await server.emulator.controls.sendDeauthorization(zoomUserId, `${server.url}/webhooks/zoom`);
    expect(delivered.status).toBe(204);
    expect(await connection()).toMatchObject({ status: 'revoked', invalid_reason: 'deauthorized_in_zoom', health_check_result: 'dead', health_checked_at: NOW.toISOString() });
    expect(await zoomCard()).toBe('Last checked Monday, 7 January 2030 at 07:00 (Europe/Berlin): the connection no longer works.');
    expect((await server.emulator.controls.sendDeauthorization(zoomUserId, `${server.url}/webhooks/zoom`)).status).toBe(204);

    expect(await drain()).toBe(2);
    expect(smtp().messages.map((m) => m.subject)).toEqual([FIRST_SUBJECT]);
    expect(smtp().messages[0]!.text).toContain(ROUTINE_WORDS);
    expect(await db().selectFrom('jobs').select('id').where('kind', '=', ZOOM_HEALTH_NOTICE_JOB_KIND).execute()).toHaveLength(4);
  });

  it('leaves a fresh connection alone for one interval after it was connected, then checks it', async () => {
    await connectZoom(server, specialistId);
    const check = healthCheck();
    expect(await check.runDue()).toBe(0);
    time.advance(6 * 3_600_000 - 1_000);
    expect(await check.runDue()).toBe(0);
    time.advance(1_000);
    expect(await check.runDue()).toBe(1);
    expect(await connection()).toMatchObject({ status: 'active', health_check_result: 'ok' });
  });

  it('checks a due connection once when two processes run the check together', async () => {
    await connectZoomLongAgo(specialistId);
    const [mine, theirs] = await Promise.all([healthCheck().runDue(), healthCheck().runDue()]);
    expect(mine + theirs).toBe(1);
    expect(await connection()).toMatchObject({ status: 'active', health_check_result: 'ok' });
  });

  it('shares the refresh lock with a booking: both need a refresh, Zoom sees one, the connection stays healthy', async () => {
    await connectZoomLongAgo(specialistId);
    time.advance(90 * 60_000); // the access token (an hour) has expired
    const refreshes = () => server.emulator.controls.tokenRequests().filter((r) => r.grantType === 'refresh_token');
    const before = refreshes().length;
    const [checked, booked] = await Promise.all([
      healthCheck().runDue(),
      fetch(`${server.url}/api/v1/specialists/anna/bookings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(bookingBody(serviceIds[0]!, FREE_SLOT)) }),
    ]);
    expect(checked).toBe(1);
    expect(booked.status).toBe(201);
    expect(refreshes().slice(before).map((r) => r.outcome)).toEqual(['ok']);
    expect(await connection()).toMatchObject({ status: 'active', health_check_result: 'ok' });
  });

  it('checks at most the budget a run when more connections are due', async () => {
    const others = [];
    for (const n of [2, 3]) others.push((await seedSpecialist(db(), { slug: `anna${n}`, email: `anna${n}@example.test` })).specialistId);
    for (const id of [specialistId, ...others]) await connectZoomLongAgo(id);
    const check = healthCheck(2);

    expect(await check.runDue()).toBe(2);
    const checked = await db().selectFrom('zoom_connections').select('specialist_id').where('health_check_result', '=', 'ok').execute();
    expect(checked).toHaveLength(2);
    expect(await check.runDue()).toBe(1);
    expect(await db().selectFrom('zoom_connections').select('specialist_id').where('health_check_result', '=', 'ok').execute()).toHaveLength(3);
    expect(await check.runDue()).toBe(0);
  });
});
