import type { Kysely, Transaction } from 'kysely';
import type { Clock } from '../clock.js';
import type { DatabaseKind } from '../db/index.js';
import type { Database } from '../db/schema.js';
import { isOneRow, keepLeaseAlive } from '../leases/index.js';
import type { Logger } from '../logger.js';
import { createJobClaimer, type ClaimedJob } from './claim.js';
import { DEFAULT_RETRY_POLICY, PermanentJobError, RetryJobAt, type JobFailure, type JobHandler, type RetryPolicy } from './handler.js';

export interface JobWorkerOptions {
  db: Kysely<Database>;
  databaseKind: DatabaseKind;
  clock: Clock;
  logger: Logger;
  /** One handler a kind; the worker takes only jobs of these kinds. */
  handlers: JobHandler<any>[];
  /** How often to look for due jobs. Default 250 ms. */
  pollMs?: number;
  /** Jobs run per poll; after a full batch the next starts at once. Default 20. */
  batchSize?: number;
}

export interface JobWorker {
  /** Starts polling; what is due at start runs at once. */
  start(): void;
  /** Stops polling and waits for the job in hand; the rest of its batch waits for the next start (or another worker). */
  stop(): Promise<void>;
  /** Runs due jobs, up to a batch; returns how many completed (done, with the lease held). */
  runDue(): Promise<number>;
}

/** Thrown inside a completing transaction to roll it back when the lease was lost. */
class LeaseLostRollback extends Error {}

/**
 * The one background worker of a process: it claims due jobs of the kinds it
 * has handlers for (server/jobs/claim.ts), runs each under a fenced lease
 * kept alive while it runs, and records the outcome:
 *
 * 1. done: `context.complete(write)` (or the worker, after `run` returns)
 *    marks the job done and runs the handler's `write`, in one transaction
 *    fenced by the lease token. A worker whose lease was taken over changes
 *    nothing, and its handler's writes roll back.
 * 2. failed attempt: `run` threw. The job goes back to pending with a backoff
 *    delay (the kind's `RetryPolicy`), or fails for good with the reason when
 *    the error is a `PermanentJobError`, the attempts are used up or the
 *    kind's retry time is over; the handler's `onFailure` writes in the same
 *    fenced transaction.
 *
 * Jobs run one at a time. Time comes from the injected clock only.
 *
 * @example
 * const worker = createJobWorker({ db, databaseKind: 'sqlite', clock, logger, handlers: [createEmailJobHandler(...)] });
 * worker.start(); … await worker.stop();
 */
export function createJobWorker(options: JobWorkerOptions): JobWorker {
  const { db, clock, logger } = options;
  const pollMs = options.pollMs ?? 250;
  const batchSize = options.batchSize ?? 20;
  const handlers = new Map(options.handlers.map((handler) => [handler.kind, handler]));
  const policies = new Map(options.handlers.map((handler) => [handler.kind, { ...DEFAULT_RETRY_POLICY, ...handler.retry }]));
  const policyOf = (kind: string): RetryPolicy => policies.get(kind)!;
  const claimer = createJobClaimer({ db, databaseKind: options.databaseKind, clock });
  const { keeper } = claimer;
  const kinds = [...handlers.keys()];
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let isStopped = true;
  let isStopping = false;

  /** Runs `write` with the fenced update of the job's row, in one transaction; false (and nothing written) when the lease was lost. */
  async function fencedWrite(job: ClaimedJob, set: Record<string, unknown>, write: (trx: Transaction<Database>) => Promise<void>): Promise<boolean> {
    try {
      await db.transaction().execute(async (trx) => {
        const updated = await keeper.fence(trx.updateTable('jobs').set({ ...set, ...keeper.cleared() }).where('status', '=', 'pending'), job.lease).executeTakeFirst();
        if (!isOneRow(updated)) throw new LeaseLostRollback();
        await write(trx);
      });
      return true;
    } catch (error) {
      if (error instanceof LeaseLostRollback) return false;
      throw error;
    }
  }

  /** The outcome of a failed attempt at `now`: retried after its backoff (or at a `RetryJobAt`'s time, cut to the handler's `latestRetryAt`), or final. */
  function failureOf(job: ClaimedJob, payload: unknown, error: unknown, now: Date): JobFailure {
    const policy = policyOf(job.kind);
    const reason = (error instanceof Error ? error.message : String(error)).slice(0, 1_000);
    const base = { jobId: job.id, attempt: job.attempts, cause: error, error: reason, at: now };
    const isFinal = error instanceof PermanentJobError || job.attempts >= policy.maxAttempts || now.getTime() >= Date.parse(job.createdAt) + policy.retryForMs;
    if (isFinal) return { ...base, isFinal, retryAt: undefined };
    const backoffMs = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (job.attempts - 1)) * (0.75 + Math.random() / 2);
    const wanted = error instanceof RetryJobAt ? error.at.getTime() : now.getTime() + backoffMs;
    // A cap that has passed caps nothing: the retry backs off as usual rather than running again at once.
    const cap = handlers.get(job.kind)!.latestRetryAt?.(payload)?.getTime();
    const latest = cap !== undefined && cap > now.getTime() ? cap : Number.POSITIVE_INFINITY;
    return { ...base, isFinal, retryAt: new Date(Math.min(wanted, latest)) };
  }

  /** Runs one claimed job to its outcome; true when it completed with the lease held. */
  async function runJob(job: ClaimedJob): Promise<boolean> {
    const handler = handlers.get(job.kind)!;
    const payload: unknown = JSON.parse(job.payload);
    const fields = { jobId: job.id, kind: job.kind, attempt: job.attempts };
    const leaseMs = policyOf(job.kind).leaseMs;
    const heartbeat = keepLeaseAlive(keeper, job.lease, { durationMs: leaseMs, everyMs: leaseMs / 3 });
    let completion: Promise<boolean> | undefined;
    const complete = (write: (trx: Transaction<Database>) => Promise<void> = async () => {}) =>
      (completion ??= fencedWrite(job, { status: 'done', finished_at: clock().toISOString(), last_error: null }, write));
    try {
      await handler.run(payload, { jobId: job.id, attempt: job.attempts, signal: heartbeat.signal, complete });
      // A handler that completed the job itself has seen (and logged) the outcome.
      if (completion) return await completion;
      const isHeld = await complete();
      if (!isHeld) logger.warn('job ended after its lease was lost', fields);
      return isHeld;
    } catch (error) {
      if (completion) throw error;
      const failure = failureOf(job, payload, error, clock());
      const set = failure.isFinal
        ? { status: 'failed', last_error: failure.error, finished_at: failure.at.toISOString() }
        : { status: 'pending', last_error: failure.error, run_after: failure.retryAt!.toISOString() };
      const isHeld = await fencedWrite(job, set, (trx) => handler.onFailure?.(trx, payload, failure) ?? Promise.resolve());
      if (!isHeld) logger.warn('job failed after its lease was lost', { ...fields, error: failure.error });
      else logger.warn(failure.isFinal ? 'job failed for good' : 'job attempt failed', { ...fields, error: failure.error, retryAt: failure.retryAt?.toISOString() });
      return false;
    } finally {
      await heartbeat.stop();
    }
  }

  /** Runs due jobs, up to a batch; `isFull` when more may be waiting. */
  async function runBatch(): Promise<{ completed: number; isFull: boolean }> {
    let completed = 0;
    let ran = 0;
    while (ran < batchSize && !isStopping) {
      const job = await claimer.claimNext(kinds, (kind) => policyOf(kind).leaseMs);
      if (!job) break;
      ran++;
      try {
        if (await runJob(job)) completed++;
      } catch (error) {
        // The database failed under the job: its lease runs out and it is tried again.
        logger.error('job worker failed on a job', { jobId: job.id, kind: job.kind, error: (error as Error).message });
      }
    }
    return { completed, isFull: ran === batchSize };
  }

  function schedule(delayMs: number): void {
    if (isStopped) return;
    timer = setTimeout(() => {
      running = runBatch()
        .catch((error: unknown) => {
          logger.error('job worker failed', { error: (error as Error).message });
          return { completed: 0, isFull: false };
        })
        // A full batch means more is waiting (a burst of bookings): the next goes at once, not after a poll.
        .then((batch) => schedule(batch.isFull ? 0 : pollMs));
    }, delayMs);
    timer.unref();
  }

  return {
    start() {
      if (!isStopped) return;
      isStopped = false;
      isStopping = false;
      schedule(0);
    },
    async stop() {
      isStopped = true;
      isStopping = true;
      if (timer) clearTimeout(timer);
      await running;
      isStopping = false;
    },
    runDue: async () => (await runBatch()).completed,
  };
}
