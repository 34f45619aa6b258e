import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Migrator, sql, type Kysely } from 'kysely';
import { beforeEach, describe, expect, it } from 'vitest';
import { migrateToLatest } from '../../server/db/index.js';
import { migrations } from '../../server/db/migrations/index.js';
import { createEmailJobHandler, enqueueEmail } from '../../server/email/outbox.js';
import { createJobClaimer, createJobWorker, enqueueJob, listFailedJobs, PermanentJobError, RetryJobAt, type JobHandler, type JobWorker, type RetryPolicy } from '../../server/jobs/index.js';
import { createLogger } from '../../server/logger.js';
import { createTokenCipher } from '../../server/security/token-cipher.js';
import { PROJECT_ROOT } from './helpers/child-server.js';
import { DATABASE_KINDS, useTestDatabase } from './helpers/databases.js';
import { createTestClock, NOW } from './helpers/fixtures.js';

/** A promise and the function that settles it. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

interface HeldRun {
  attempt: number;
  /** Lets the run go on to complete the job. */
  release(): void;
  /** What its `complete` answered: whether the lease still held. */
  completed: Promise<boolean>;
}

describe.each(DATABASE_KINDS)('jobs on %s', (kind) => {
  const database = useTestDatabase(kind);
  const db = () => database().handle.db;
  let time: ReturnType<typeof createTestClock>;

  beforeEach(async () => {
    await db().deleteFrom('jobs').execute();
    time = createTestClock(NOW);
  });

  const newWorker = (handlers: JobHandler<any>[]): JobWorker => createJobWorker({ db: db(), databaseKind: kind, clock: time.clock, logger: createLogger('silent'), handlers });
  const jobRow = (id: string) => db().selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const followUps = async () => (await db().selectFrom('jobs').select('payload').where('kind', '=', 'test.follow-up').execute()).map((row) => JSON.parse(row.payload));

  /**
   * A kind whose every run waits to be released, then completes the job
   * and, in the same transaction, queues a follow-up job naming its attempt
   * (the handler's own write). `nextRun()` resolves when a run has started.
   */
  function heldKind(retry?: Partial<RetryPolicy>) {
    const runs: HeldRun[] = [];
    let arrival = deferred<HeldRun>();
    const handler: JobHandler<{ n: number }> = {
      kind: 'test.held',
      retry,
      async run(_payload, context) {
        const gate = deferred();
        const completed = deferred<boolean>();
        const run: HeldRun = { attempt: context.attempt, release: gate.resolve, completed: completed.promise };
        runs.push(run);
        arrival.resolve(run);
        await gate.promise;
        completed.resolve(await context.complete((trx) => enqueueJob(trx, time.clock, { kind: 'test.follow-up', payload: { after: context.attempt } }).then(() => undefined)));
      },
    };
    return {
      handler,
      runs,
      nextRun: async () => {
        const run = await arrival.promise;
        arrival = deferred<HeldRun>();
        return run;
      },
    };
  }

  it('queues a job with the transaction that calls for it: a rollback leaves none, and a dedupe key keeps one', async () => {
    await expect(
      db()
        .transaction()
        .execute(async (trx) => {
          await enqueueJob(trx, time.clock, { kind: 'test.held', payload: { n: 1 } });
          throw new Error('the change failed');
        }),
    ).rejects.toThrow('the change failed');
    expect(await db().selectFrom('jobs').selectAll().execute()).toEqual([]);

    const first = await db().transaction().execute((trx) => enqueueJob(trx, time.clock, { kind: 'test.held', payload: { n: 1 }, dedupeKey: 'booking:1' }));
    const second = await enqueueJob(db(), time.clock, { kind: 'test.held', payload: { n: 2 }, dedupeKey: 'booking:1' });
    expect(second).toBe(first);
    expect(await db().selectFrom('jobs').selectAll().execute()).toEqual([
      {
        id: first,
        kind: 'test.held',
        payload: '{"n":1}',
        status: 'pending',
        run_after: NOW.toISOString(),
        attempts: 0,
        lease_token: null,
        lease_until: null,
        last_error: null,
        dedupe_key: 'booking:1',
        created_at: NOW.toISOString(),
        finished_at: null,
        specialist_id: null,
      },
    ]);
  });

  it('runs a job once when two workers race for it', async () => {
    const held = heldKind();
    const id = await enqueueJob(db(), time.clock, { kind: 'test.held', payload: { n: 1 } });
    const first = newWorker([held.handler]);
    const second = newWorker([held.handler]);
    const firstRunning = first.runDue();
    const run = await held.nextRun();
    // The job is in hand, its lease held: the other worker finds nothing to do.
    expect(await second.runDue()).toBe(0);
    expect(await jobRow(id)).toMatchObject({ status: 'pending', attempts: 1 });
    run.release();
    expect(await firstRunning).toBe(1);
    expect(held.runs).toHaveLength(1);
    expect(await jobRow(id)).toMatchObject({ status: 'done', attempts: 1, lease_token: null, lease_until: null, finished_at: NOW.toISOString(), last_error: null });
    expect(await followUps()).toEqual([{ after: 1 }]);
    expect(await second.runDue()).toBe(0);
  });

  it('a worker whose lease was taken over completes nothing: the job and its handler writes stay with the new holder', async () => {
    const held = heldKind({ leaseMs: 60_000 });
    const id = await enqueueJob(db(), time.clock, { kind: 'test.held', payload: { n: 1 } });
    const slow = newWorker([held.handler]);
    const taker = newWorker([held.handler]);
    const slowRunning = slow.runDue();
    const slowRun = await held.nextRun();
    time.advance(60_001); // the slow worker's lease has run out
    const takerRunning = taker.runDue();
    const takerRun = await held.nextRun();
    const taken = await jobRow(id);
    expect(taken).toMatchObject({ status: 'pending', attempts: 2 });

    slowRun.release();
    expect(await slowRun.completed).toBe(false);
    expect(await slowRunning).toBe(0);
    expect(await jobRow(id)).toEqual(taken);
    expect(await followUps()).toEqual([]);

    takerRun.release();
    expect(await takerRun.completed).toBe(true);
    expect(await takerRunning).toBe(1);
    expect(await jobRow(id)).toMatchObject({ status: 'done', attempts: 2, lease_token: null });
    expect(await followUps()).toEqual([{ after: 2 }]);
  });

  it('tells a running job its lease was taken (the signal aborts), and then records neither success nor failure', async () => {
    const started = deferred();
    let abortReason: unknown;
    const stoppable: JobHandler = {
      kind: 'test.stoppable',
      // Renewed every 10 ms of real time: the renewal that finds the lease gone comes at once.
      retry: { leaseMs: 30 },
      run: async (_payload, context) => {
        started.resolve();
        await new Promise((resolve) => context.signal.addEventListener('abort', resolve));
        abortReason = context.signal.reason;
        throw context.signal.reason;
      },
    };
    const id = await enqueueJob(db(), time.clock, { kind: 'test.stoppable', payload: {} });
    const running = newWorker([stoppable]).runDue();
    await started.promise;
    const until = new Date(NOW.getTime() + 3_600_000).toISOString();
    await db().updateTable('jobs').set({ lease_token: 'another-holder', lease_until: until }).where('id', '=', id).execute();
    expect(await running).toBe(0);
    expect(String(abortReason)).toBe(`LeaseLostError: The job lease on ${id} was lost to another holder.`);
    expect(await jobRow(id)).toMatchObject({ status: 'pending', attempts: 1, lease_token: 'another-holder', lease_until: until, last_error: null, finished_at: null });
  });

  it('retries a failing job with doubling, varied delays, then fails it for good with the reason, recording each failure in its transaction', async () => {
    const failures: unknown[] = [];
    const flaky: JobHandler<{ n: number }> = {
      kind: 'test.flaky',
      retry: { baseDelayMs: 1_000, maxDelayMs: 3_000, maxAttempts: 4 },
      run: async (_payload, context) => {
        throw new Error(`boom ${context.attempt}`);
      },
      onFailure: async (trx, payload, failure) => {
        failures.push(failure);
        await enqueueJob(trx, time.clock, { kind: 'test.follow-up', payload: { failed: payload.n, attempt: failure.attempt, isFinal: failure.isFinal } });
      },
    };
    const worker = newWorker([flaky]);
    const id = await enqueueJob(db(), time.clock, { kind: 'test.flaky', payload: { n: 7 } });
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      expect(await worker.runDue()).toBe(0);
      const row = await jobRow(id);
      expect(row).toMatchObject({ status: 'pending', attempts: attempt, last_error: `boom ${attempt}`, lease_token: null, lease_until: null, finished_at: null });
      const delay = Date.parse(row.run_after) - time.clock().getTime();
      delays.push(delay);
      // Not a moment early.
      time.advance(delay - 1);
      expect(await worker.runDue()).toBe(0);
      expect((await jobRow(id)).attempts).toBe(attempt);
      time.advance(1);
    }
    [1_000, 2_000, 3_000].forEach((nominal, i) => {
      expect(delays[i]).toBeGreaterThanOrEqual(0.75 * nominal);
      expect(delays[i]).toBeLessThanOrEqual(1.25 * nominal);
    });
    expect(await worker.runDue()).toBe(0);
    const failedAt = time.clock().toISOString();
    expect(await jobRow(id)).toMatchObject({ status: 'failed', attempts: 4, last_error: 'boom 4', finished_at: failedAt, lease_token: null });
    expect(await followUps()).toEqual([1, 2, 3, 4].map((attempt) => ({ failed: 7, attempt, isFinal: attempt === 4 })));
    expect(await listFailedJobs(db())).toEqual([{ id, kind: 'test.flaky', payload: { n: 7 }, attempts: 4, failedAt, reason: 'boom 4' }]);
    time.advance(24 * 3_600_000);
    expect(await worker.runDue()).toBe(0);
    expect(failures).toHaveLength(4);
  });

  it('cuts a retry to the handler’s latest time while it is ahead, backs off as usual once it has passed, and waits for a RetryJobAt', async () => {
    const latest = new Date(NOW.getTime() + 1_500);
    const capped: JobHandler<{ wait?: number }> = {
      kind: 'test.capped',
      retry: { baseDelayMs: 10_000, maxDelayMs: 10_000 },
      latestRetryAt: () => latest,
      run: async (payload) => {
        throw payload.wait ? new RetryJobAt(new Date(time.clock().getTime() + payload.wait), 'waiting') : new Error('boom');
      },
    };
    const worker = newWorker([capped]);
    const id = await enqueueJob(db(), time.clock, { kind: 'test.capped', payload: {} });
    expect(await worker.runDue()).toBe(0);
    // A 10 s backoff, cut to the latest time 1.5 s ahead.
    expect((await jobRow(id)).run_after).toBe(latest.toISOString());
    time.advance(2_000);
    expect(await worker.runDue()).toBe(0);
    // The latest time has passed: not again at once, but after the usual backoff.
    const wait = Date.parse((await jobRow(id)).run_after) - time.clock().getTime();
    expect(wait).toBeGreaterThanOrEqual(7_500);
    expect(wait).toBeLessThanOrEqual(12_500);

    const waiting = await enqueueJob(db(), time.clock, { kind: 'test.capped', payload: { wait: 60_000 } });
    await db().updateTable('jobs').set({ status: 'done' }).where('id', '=', id).execute();
    expect(await worker.runDue()).toBe(0);
    expect(await jobRow(waiting)).toMatchObject({ status: 'pending', last_error: 'waiting', run_after: new Date(time.clock().getTime() + 60_000).toISOString() });
  });

  it('fails a job at once on a permanent error, and at its first failure after its retry time', async () => {
    const worker = newWorker([
      { kind: 'test.refused', run: async () => Promise.reject(new PermanentJobError('550: no such user')) },
      { kind: 'test.late', retry: { retryForMs: 10_000 }, run: async () => Promise.reject(new Error('still down')) },
    ]);
    const refused = await enqueueJob(db(), time.clock, { kind: 'test.refused', payload: {} });
    expect(await worker.runDue()).toBe(0);
    expect(await jobRow(refused)).toMatchObject({ status: 'failed', attempts: 1, last_error: '550: no such user' });

    const late = await enqueueJob(db(), time.clock, { kind: 'test.late', payload: {} });
    expect(await worker.runDue()).toBe(0);
    expect(await jobRow(late)).toMatchObject({ status: 'pending', attempts: 1 });
    time.advance(10_000);
    expect(await worker.runDue()).toBe(0);
    expect(await jobRow(late)).toMatchObject({ status: 'failed', attempts: 2, last_error: 'still down', finished_at: time.clock().toISOString() });
  });

  it('waits for a job’s not-before time, and takes only the kinds it has handlers for', async () => {
    let ran = 0;
    const worker = newWorker([{ kind: 'test.count', run: async () => void ran++ }]);
    const later = await enqueueJob(db(), time.clock, { kind: 'test.count', payload: {}, runAfter: new Date(NOW.getTime() + 60_000) });
    const other = await enqueueJob(db(), time.clock, { kind: 'test.unhandled', payload: {} });
    expect(await worker.runDue()).toBe(0);
    time.advance(60_000);
    expect(await worker.runDue()).toBe(1);
    expect(ran).toBe(1);
    expect((await jobRow(later)).status).toBe('done');
    expect(await jobRow(other)).toMatchObject({ status: 'pending', attempts: 0 });
  });

  it('gives concurrent claimers different jobs', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(await enqueueJob(db(), time.clock, { kind: 'test.held', payload: { n: i } }));
    const claimers = [0, 1, 2, 3].map(() => createJobClaimer({ db: db(), databaseKind: kind, clock: time.clock }));
    const claimed = await Promise.all(claimers.map((claimer) => claimer.claimNext(['test.held'], () => 60_000)));
    expect(new Set(claimed.map((job) => job!.id))).toEqual(new Set(ids));
    expect(await claimers[0]!.claimNext(['test.held'], () => 60_000)).toBeUndefined();
  });

  it.runIf(kind === 'postgres')('skips a job another claimer has locked instead of waiting for it (FOR UPDATE SKIP LOCKED)', async () => {
    const [oldest, middle, newest] = [
      await enqueueJob(db(), time.clock, { kind: 'test.held', payload: {}, runAfter: new Date(NOW.getTime() - 3_000) }),
      await enqueueJob(db(), time.clock, { kind: 'test.held', payload: {}, runAfter: new Date(NOW.getTime() - 2_000) }),
      await enqueueJob(db(), time.clock, { kind: 'test.held', payload: {}, runAfter: new Date(NOW.getTime() - 1_000) }),
    ];
    const locked = deferred();
    const unlock = deferred();
    // A claimer in the middle of its transaction, holding the oldest due job's row lock.
    const holder = db()
      .transaction()
      .execute(async (trx) => {
        await trx.selectFrom('jobs').select('id').where('id', '=', oldest).forUpdate().execute();
        locked.resolve();
        await unlock.promise;
      });
    await locked.promise;
    const claimer = createJobClaimer({ db: db(), databaseKind: kind, clock: time.clock });
    // Without SKIP LOCKED these would wait on the held row until the test times out.
    const claimed = await Promise.all([claimer.claimNext(['test.held'], () => 60_000), claimer.claimNext(['test.held'], () => 60_000)]);
    expect(new Set(claimed.map((job) => job!.id))).toEqual(new Set([middle, newest]));
    unlock.resolve();
    await holder;
    expect((await claimer.claimNext(['test.held'], () => 60_000))!.id).toBe(oldest);
  });
});

describe.each(DATABASE_KINDS)('migration 0011 on %s', (kind) => {
  const database = useTestDatabase(kind);

  it('gives every email pending before the upgrade its job, with its attempts and next time, and none to the others', async () => {
    const db = database().handle.db as unknown as Kysely<any>;
    const migrationTableSchema = kind === 'postgres' ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0]!.schema : undefined;
    const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations }, migrationTableSchema });
    // Back to just before 0011, through the later migrations.
    const down = await migrator.migrateTo('0010_meeting_lock_token');
    expect(down.error).toBeUndefined();
    expect(down.results?.map((r) => [r.migrationName, r.status]).at(-1)).toEqual(['0011_jobs', 'Success']);
    const legacy = (id: string, status: string) => ({
      id,
      kind: 'sign_in',
      message_id: `<${id}@booking.test>`,
      to_address: 'a@example.test',
      subject: id,
      content_enc: 'x',
      status,
      attempts: 3,
      next_attempt_at: '2030-01-07T06:05:00.000Z',
      claim_owner: 'a-dead-worker',
      claim_until: '2030-01-07T05:00:00.000Z',
      last_error: '421: busy',
      sent_at: null,
      created_at: '2030-01-07T05:00:00.000Z',
    });
    await db.insertInto('email_outbox').values([legacy('waiting', 'pending'), legacy('done', 'sent')]).execute();

    await migrateToLatest(db, kind);
    expect(await db.selectFrom('jobs').selectAll().execute()).toEqual([
      {
        id: 'waiting',
        kind: 'email.send',
        payload: '{"outboxId":"waiting"}',
        status: 'pending',
        run_after: '2030-01-07T06:05:00.000Z',
        attempts: 3,
        lease_token: null,
        lease_until: null,
        last_error: null,
        dedupe_key: 'email:waiting',
        created_at: '2030-01-07T05:00:00.000Z',
        finished_at: null,
        specialist_id: null,
      },
    ]);
    expect(await db.selectFrom('email_outbox').select(['id', 'status', 'attempts', 'specialist_id', 'failed_at']).orderBy('id').execute()).toEqual([
      { id: 'done', status: 'sent', attempts: 3, specialist_id: null, failed_at: null },
      { id: 'waiting', status: 'pending', attempts: 3, specialist_id: null, failed_at: null },
    ]);
  });
});

describe.each(DATABASE_KINDS)('npm run jobs -- failed on %s', (kind) => {
  const database = useTestDatabase(kind);
  const run = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'server/cli/jobs.ts', ...args], {
      cwd: PROJECT_ROOT,
      env: { PATH: process.env.PATH, DATABASE_URL: database().url },
      encoding: 'utf8',
    });

  it('lists failed jobs newest first: id, kind, when, an email’s recipient and subject, the reason on one line; never the content', async () => {
    const db = database().handle.db;
    const time = createTestClock(NOW);
    const logger = createLogger('silent');
    const empty = run('failed');
    expect([empty.status, empty.stdout, empty.stderr]).toEqual([0, 'id\tkind\tfailed_at\tto\tsubject\treason\n', '0 failed jobs.\n']);

    // An email queued under one key, and a worker holding another: it cannot decrypt it, and fails it at once.
    const queuedWith = createTokenCipher(randomBytes(32));
    const outboxId = await enqueueEmail(db, { clock: time.clock, cipher: queuedWith, messageIdDomain: 'booking.test' }, { kind: 'sign_in', to: 'ada@example.test', subject: 'Your\tsign-in link', text: 'secret link', html: '<p>secret link</p>' });
    const emailHandler = createEmailJobHandler({ db, clock: time.clock, cipher: createTokenCipher(randomBytes(32)), logger, from: 'b@booking.test', sender: { sendMail: () => Promise.reject(new Error('not reached')) } });
    const refusing = { kind: 'test.refused', run: () => Promise.reject(new PermanentJobError('refused:\r\n  line two')) };
    const worker = createJobWorker({ db, databaseKind: kind, clock: time.clock, logger, handlers: [emailHandler, refusing] });
    expect(await worker.runDue()).toBe(0);
    time.advance(60_000);
    const other = await enqueueJob(db, time.clock, { kind: 'test.refused', payload: { secret: 'not printed' } });
    expect(await worker.runDue()).toBe(0);
    const emailJob = await db.selectFrom('jobs').select('id').where('dedupe_key', '=', `email:${outboxId}`).executeTakeFirstOrThrow();

    const listed = run('failed');
    expect(listed.status).toBe(0);
    expect(listed.stderr).toBe('2 failed jobs.\n');
    expect(listed.stdout).toBe(
      [
        'id\tkind\tfailed_at\tto\tsubject\treason',
        `${other}\ttest.refused\t2030-01-07T06:01:00.000Z\t-\t-\trefused: line two`,
        `${emailJob.id}\temail.send\t2030-01-07T06:00:00.000Z\tada@example.test\tYour sign-in link\tcannot decrypt the content: Unsupported state or unable to authenticate data`,
        '',
      ].join('\n'),
    );
    const newest = run('failed', '--limit', '1');
    expect(newest.stdout.split('\n')[1]).toMatch(new RegExp(`^${other}\t`));
    expect(newest.stderr).toBe('The newest 1 failed jobs; --limit shows more.\n');
  });

  it('refuses an unknown command or a bad limit with its usage and exit code 2', () => {
    const unknown = run('retry');
    expect([unknown.status, unknown.stderr]).toEqual([2, 'Usage: npm run jobs -- failed [--limit 100]\n']);
    const badLimit = run('failed', '--limit', '0');
    expect([badLimit.status, badLimit.stderr]).toEqual([2, '--limit must be a whole number from 1 to 10000\n']);
  });
});
