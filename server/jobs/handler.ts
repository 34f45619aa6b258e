import type { Transaction } from 'kysely';
import type { Database } from '../db/schema.js';

/**
 * How a kind of job is retried. A failed attempt waits `baseDelayMs`, then
 * twice as long each time up to `maxDelayMs`, each delay varied by ±25%
 * (so workers that failed together do not retry together); the first failure
 * `retryForMs` after queueing, or at attempt `maxAttempts`, is final.
 */
export interface RetryPolicy {
  /** Default 5 s. */
  baseDelayMs: number;
  /** Default 1 h. */
  maxDelayMs: number;
  /** Default 24 h. */
  retryForMs: number;
  /** Default: no limit but `retryForMs`. */
  maxAttempts: number;
  /** How long a claim lasts unless renewed: a worker that died lets go after this. Renewed every third of it while the job runs. Default 60 s. */
  leaseMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  baseDelayMs: 5_000,
  maxDelayMs: 3_600_000,
  retryForMs: 24 * 3_600_000,
  maxAttempts: Number.POSITIVE_INFINITY,
  leaseMs: 60_000,
};

/** What a running job gets from the worker. */
export interface JobContext {
  jobId: string;
  /** This attempt's number, from 1. */
  attempt: number;
  /** Aborted when the lease is found lost (another worker took the job): stop work. */
  signal: AbortSignal;
  /**
   * Ends the job as done and runs `write` in the same transaction, fenced by
   * the lease: when the lease was lost, nothing is written (`write`'s changes
   * roll back) and this returns false. Call it at most once; a handler that
   * returns without calling it is completed with no writes of its own.
   */
  complete(write?: (trx: Transaction<Database>) => Promise<void>): Promise<boolean>;
}

/** One failed attempt, as a handler's `onFailure` sees it. */
export interface JobFailure {
  jobId: string;
  attempt: number;
  /** What `run` threw. */
  cause: unknown;
  /** The reason stored in `jobs.last_error`. */
  error: string;
  /** True when the job is given up on; otherwise it is retried at `retryAt`. */
  isFinal: boolean;
  retryAt: Date | undefined;
  at: Date;
}

/**
 * A kind of background work. `run` throws to fail the attempt (a
 * `PermanentJobError` fails the job at once); the worker then records the
 * failure and calls `onFailure` in that transaction, fenced like `complete`.
 */
export interface JobHandler<Payload = unknown> {
  kind: string;
  retry?: Partial<RetryPolicy>;
  /**
   * The latest a retry may wait: a backoff (or a `RetryJobAt`) that would
   * end later is cut to this time. E.g. a held request retries no later than
   * its hold's end, when it expires instead. A time already passed caps
   * nothing: the retry backs off as usual.
   */
  latestRetryAt?(payload: Payload): Date | undefined;
  run(payload: Payload, context: JobContext): Promise<void>;
  onFailure?(trx: Transaction<Database>, payload: Payload, failure: JobFailure): Promise<void>;
}

/** A failure no retry can fix (e.g. a refused recipient): the job fails at once, with this message as its reason. */
export class PermanentJobError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentJobError';
  }
}

/**
 * Not a failure to back off from: the job waits until `at` (or until
 * something makes it due sooner), e.g. a held request waiting for the
 * specialist to re-authorize Zoom. The attempt is recorded as failed with
 * this message, retried at `at`; `maxAttempts` and `retryForMs` still apply.
 */
export class RetryJobAt extends Error {
  constructor(
    readonly at: Date,
    message: string,
  ) {
    super(message);
    this.name = 'RetryJobAt';
  }
}
