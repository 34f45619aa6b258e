import type { Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import type { Database } from '../db/schema.js';
import { deleteExpiredLimits } from '../limits/index.js';
import type { Logger } from '../logger.js';

/**
 * One kind of data the retention job removes. `run` removes (or empties)
 * what is past its time at `now` and returns how many rows it touched. It
 * must be idempotent: every server instance runs every task, at any moment.
 */
export interface PurgeTask {
  name: string;
  run(now: Date): Promise<number>;
}

export interface RetentionTaskOptions {
  /** Sent emails keep their body this long after sending; emails given up as failed, this long after they were queued. */
  emailBodyRetentionMs: number;
  /** Jobs done are deleted this long after they finished. Default 7 days. */
  doneJobRetentionMs?: number;
}

const WEEK_MS = 7 * 86_400_000;

/**
 * The purge tasks over the project's own tables: expired sessions, sign-in
 * and re-auth links, OAuth states and ended rate-limit windows are deleted; sent emails, and
 * emails given up as failed, lose their body (text, HTML, attachments:
 * sign-in links, host links, customers' notes) and keep their row — kind,
 * recipient, subject, dates, attempts. Jobs done are deleted a week after
 * (what they did is in their own tables); failed jobs stay for the
 * operator's listing (`npm run jobs -- failed`).
 * Each is one statement whose condition no longer holds for a row once it
 * has run, so two instances running it at once touch each row at most once
 * between them.
 *
 * @example createRetentionJob({ tasks: retentionTasks(db, { emailBodyRetentionMs }), clock, logger })
 */
export function retentionTasks(db: Kysely<Database>, options: RetentionTaskOptions): PurgeTask[] {
  const deleted = (result: { numDeletedRows: bigint }) => Number(result.numDeletedRows);
  return [
    {
      name: 'sessions',
      run: async (now) => deleted(await db.deleteFrom('sessions').where('expires_at', '<', now.toISOString()).executeTakeFirst()),
    },
    {
      name: 'sign_in_links',
      run: async (now) => deleted(await db.deleteFrom('sign_in_links').where('expires_at', '<', now.toISOString()).executeTakeFirst()),
    },
    {
      name: 'oauth_states',
      run: async (now) => deleted(await db.deleteFrom('oauth_states').where('expires_at', '<', now.toISOString()).executeTakeFirst()),
    },
    { name: 'rate_limits', run: (now) => deleteExpiredLimits(db, now) },
    {
      name: 'done_jobs',
      run: async (now) => {
        const cutoff = new Date(now.getTime() - (options.doneJobRetentionMs ?? WEEK_MS)).toISOString();
        return deleted(await db.deleteFrom('jobs').where('status', '=', 'done').where('finished_at', '<', cutoff).executeTakeFirst());
      },
    },
    {
      name: 'email_bodies',
      run: async (now) => {
        const cutoff = new Date(now.getTime() - options.emailBodyRetentionMs).toISOString();
        const result = await db
          .updateTable('email_outbox')
          .set({ content_enc: '' })
          // A failed email counts from its creation: its last attempt came at most about 25¼ hours later (retries last 24 hours).
          .where((eb) => eb.or([eb.and([eb('status', '=', 'sent'), eb('sent_at', '<', cutoff)]), eb.and([eb('status', '=', 'failed'), eb('created_at', '<', cutoff)])]))
          .where('content_enc', '<>', '')
          .executeTakeFirst();
        return Number(result.numUpdatedRows);
      },
    },
  ];
}

export interface RetentionJobOptions {
  tasks: PurgeTask[];
  clock: Clock;
  logger: Logger;
  /** Time between runs. Default one hour; the first run is at start. */
  intervalMs?: number;
}

export interface RetentionJob {
  start(): void;
  /** No further runs; waits for the task in progress (the rest of that run is skipped). */
  stop(): Promise<void>;
  /** Runs every task once; returns the rows each touched, by task name. */
  runOnce(): Promise<Record<string, number>>;
}

/**
 * Runs the purge tasks now and then. A task that fails is logged and the
 * others still run; the next run tries it again.
 */
export function createRetentionJob(options: RetentionJobOptions): RetentionJob {
  const { tasks, clock, logger } = options;
  const intervalMs = options.intervalMs ?? 3_600_000;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let isStopping = false;

  async function runOnce(): Promise<Record<string, number>> {
    const touched: Record<string, number> = {};
    for (const task of tasks) {
      if (isStopping) break;
      try {
        touched[task.name] = await task.run(clock());
      } catch (error) {
        logger.error('retention task failed', { task: task.name, error: (error as Error).message });
      }
    }
    if (Object.values(touched).some((count) => count > 0)) logger.info('retention', touched);
    return touched;
  }

  function schedule(delayMs: number): void {
    timer = setTimeout(() => {
      running = runOnce().finally(() => {
        if (!isStopping) schedule(intervalMs);
      });
    }, delayMs);
    timer.unref();
  }

  return {
    start() {
      isStopping = false;
      schedule(0);
    },
    async stop() {
      isStopping = true;
      clearTimeout(timer);
      await running;
    },
    runOnce,
  };
}
