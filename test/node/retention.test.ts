import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSession } from '../../server/auth/sessions.js';
import { enqueueEmail } from '../../server/email/outbox.js';
import { enqueueJob } from '../../server/jobs/index.js';
import { createLogger } from '../../server/logger.js';
import { createRetentionJob, retentionTasks, type PurgeTask } from '../../server/maintenance/retention.js';
import { createTokenCipher } from '../../server/security/token-cipher.js';
import { DATABASE_KINDS, useTestDatabase } from './helpers/databases.js';
import { NOW, seedSpecialist } from './helpers/fixtures.js';

const DAY = 86_400_000;
const at = (offsetMs: number) => new Date(NOW.getTime() + offsetMs);

describe.each(DATABASE_KINDS)('retention on %s', (kind) => {
  const database = useTestDatabase(kind);
  const db = () => database().handle.db;
  const cipher = createTokenCipher(randomBytes(32));

  it('removes expired sessions, links and OAuth states, empties the bodies of emails sent or failed long ago, and keeps the rest', async () => {
    const specialist = await seedSpecialist(db());
    // Sessions (30 days) made 31 and 29 days before NOW: the first expired a day ago.
    await createSession(db(), () => at(-31 * DAY), specialist.specialistId);
    const kept = await createSession(db(), () => at(-29 * DAY), specialist.specialistId);
    const link = (id: string, expiresAt: Date) => ({ id, specialist_id: specialist.specialistId, purpose: 'sign_in' as const, created_at: at(-DAY).toISOString(), expires_at: expiresAt.toISOString(), used_at: null, next_path: null });
    await db().insertInto('sign_in_links').values([link('expired-link', at(-1)), link('live-link', at(60_000))]).execute();
    const state = (hash: string, expiresAt: Date) => ({ state_hash: hash, specialist_id: specialist.specialistId, code_verifier_enc: 'x', created_at: at(-DAY).toISOString(), expires_at: expiresAt.toISOString(), used_at: null });
    await db().insertInto('oauth_states').values([state('expired-state', at(-1)), state('live-state', at(1))]).execute();
    const email = (subject: string, queuedDaysAgo = 40) => enqueueEmail(db(), { clock: () => at(-queuedDaysAgo * DAY), cipher, messageIdDomain: 'booking.test' }, { kind: 'sign_in', to: 'a@example.test', subject, text: 'secret link', html: '<p>secret link</p>' });
    const old = await email('sent 31 days ago');
    const recent = await email('sent 29 days ago');
    const pending = await email('still pending');
    await db().updateTable('email_outbox').set({ status: 'sent', sent_at: at(-31 * DAY).toISOString() }).where('id', '=', old).execute();
    await db().updateTable('email_outbox').set({ status: 'sent', sent_at: at(-29 * DAY).toISOString() }).where('id', '=', recent).execute();
    // Given up as failed: one queued 40 days ago, one 29 days ago (the retention counts from when it was queued).
    const oldFailed = await email('failed, queued 40 days ago');
    const recentFailed = await email('failed, queued 29 days ago', 29);
    await db().updateTable('email_outbox').set({ status: 'failed', attempts: 12 }).where('id', 'in', [oldFailed, recentFailed]).execute();

    // Rate-limit windows: one ended at NOW exactly (it counts nothing any more), one still open.
    const window = (bucket: string, expiresAt: Date) => ({ bucket, window_start: at(-3_600_000).toISOString(), expires_at: expiresAt.toISOString(), hits: 3 });
    await db().insertInto('rate_limits').values([window('ended', at(0)), window('open', at(1))]).execute();

    // Jobs done 8 and 6 days ago (kept a week), and one failed 30 days ago (kept for the operator).
    const finishedJob = async (status: 'done' | 'failed', daysAgo: number) => {
      const id = await enqueueJob(db(), () => at(-daysAgo * DAY), { kind: 'test.retention', payload: {} });
      await db().updateTable('jobs').set({ status, finished_at: at(-daysAgo * DAY).toISOString() }).where('id', '=', id).execute();
      return id;
    };
    await finishedJob('done', 8);
    const recentDone = await finishedJob('done', 6);
    const failedJob = await finishedJob('failed', 30);

    const job = createRetentionJob({ tasks: retentionTasks(db(), { emailBodyRetentionMs: 30 * DAY }), clock: () => NOW, logger: createLogger('silent') });
    expect(await job.runOnce()).toEqual({ sessions: 1, sign_in_links: 1, oauth_states: 1, rate_limits: 1, done_jobs: 1, email_bodies: 2 });
    const jobsLeft = await db().selectFrom('jobs').select('id').where('kind', '=', 'test.retention').execute();
    expect(new Set(jobsLeft.map((row) => row.id))).toEqual(new Set([recentDone, failedJob]));
    expect(await db().selectFrom('rate_limits').select('bucket').execute()).toEqual([{ bucket: 'open' }]);

    expect(await db().selectFrom('sessions').select('expires_at').execute()).toEqual([{ expires_at: kept.expiresAt.toISOString() }]);
    expect(await db().selectFrom('sign_in_links').select('id').execute()).toEqual([{ id: 'live-link' }]);
    expect(await db().selectFrom('oauth_states').select('state_hash').execute()).toEqual([{ state_hash: 'live-state' }]);
    const outbox = await db().selectFrom('email_outbox').select(['id', 'subject', 'status', 'to_address', 'sent_at', 'content_enc']).orderBy('subject').execute();
    expect(outbox.map((row) => [row.subject, row.status, row.to_address, row.content_enc === '' ? 'purged' : 'kept'])).toEqual([
      ['failed, queued 29 days ago', 'failed', 'a@example.test', 'kept'],
      ['failed, queued 40 days ago', 'failed', 'a@example.test', 'purged'],
      ['sent 29 days ago', 'sent', 'a@example.test', 'kept'],
      ['sent 31 days ago', 'sent', 'a@example.test', 'purged'],
      ['still pending', 'pending', 'a@example.test', 'kept'],
    ]);
    expect(JSON.parse(cipher.decrypt(outbox.find((row) => row.id === recent)!.content_enc, `outbox:${recent}`)).text).toBe('secret link');
    expect(outbox.find((row) => row.id === pending)!.content_enc).not.toBe('');

    // Idempotent: a second run (another instance's) finds nothing left to do.
    expect(await job.runOnce()).toEqual({ sessions: 0, sign_in_links: 0, oauth_states: 0, rate_limits: 0, done_jobs: 0, email_bodies: 0 });
  });

  it('runs every task it is given with the clock, and goes on past a task that fails', async () => {
    const seen: Date[] = [];
    const lines: string[] = [];
    const tasks: PurgeTask[] = [
      { name: 'broken', run: () => Promise.reject(new Error('table is locked')) },
      { name: 'rate_limits', run: async (now) => (seen.push(now), 3) },
    ];
    const job = createRetentionJob({ tasks, clock: () => NOW, logger: createLogger('info', (line) => lines.push(line)) });
    expect(await job.runOnce()).toEqual({ rate_limits: 3 });
    expect(seen).toEqual([NOW]);
    expect(lines.map((line) => JSON.parse(line) as Record<string, unknown>)).toMatchObject([
      { level: 'error', message: 'retention task failed', task: 'broken', error: 'table is locked' },
      { level: 'info', message: 'retention', rate_limits: 3 },
    ]);
  });

  it('starts with a run, and stop() waits for the task in hand and skips the rest', async () => {
    const ran: string[] = [];
    let release!: () => void;
    const job = createRetentionJob({
      tasks: [
        { name: 'slow', run: () => new Promise<number>((resolve) => (ran.push('slow'), (release = () => resolve(1)))) },
        { name: 'next', run: async () => (ran.push('next'), 0) },
      ],
      clock: () => NOW,
      logger: createLogger('silent'),
    });
    job.start();
    while (ran.length === 0) await new Promise((r) => setTimeout(r, 5));
    const stopped = job.stop();
    release();
    await stopped;
    expect(ran).toEqual(['slow']);
  });
});
