import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Clock } from '../clock.js';
import type { Database } from '../db/schema.js';

/** What `enqueueJob` queues. */
export interface NewJob {
  /** The handler's kind, e.g. `email.send`. */
  kind: string;
  /** Stored as JSON. Encrypt anything secret before it goes in. */
  payload: unknown;
  /** Not before this time. Default: now. */
  runAfter?: Date;
  /** At most one job with this key ever: a second enqueue with it adds nothing and returns the first job's id. */
  dedupeKey?: string;
  /** The specialist the work is for, when it waits on their Zoom connection (counted and hurried after a re-auth). */
  specialistId?: string;
}

/**
 * Queues a job in the caller's transaction, so the job exists exactly when
 * the change that calls for it commits. Returns the job's id (the existing
 * job's, when `dedupeKey` is taken).
 *
 * @example await enqueueJob(trx, clock, { kind: 'email.send', payload: { outboxId }, dedupeKey: `email:${outboxId}` });
 */
export async function enqueueJob(trx: Transaction<Database> | Kysely<Database>, clock: Clock, job: NewJob): Promise<string> {
  const id = randomUUID();
  const now = clock();
  const inserted = await trx
    .insertInto('jobs')
    .values({
      id,
      kind: job.kind,
      payload: JSON.stringify(job.payload),
      status: 'pending',
      run_after: (job.runAfter ?? now).toISOString(),
      attempts: 0,
      lease_token: null,
      lease_until: null,
      last_error: null,
      dedupe_key: job.dedupeKey ?? null,
      created_at: now.toISOString(),
      finished_at: null,
      specialist_id: job.specialistId ?? null,
    })
    .onConflict((oc) => oc.column('dedupe_key').doNothing())
    .executeTakeFirst();
  if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1) return id;
  const existing = await trx.selectFrom('jobs').select('id').where('dedupe_key', '=', job.dedupeKey!).executeTakeFirstOrThrow();
  return existing.id;
}

/** A job given up on, for the operator's listing. */
export interface FailedJob {
  id: string;
  kind: string;
  payload: unknown;
  attempts: number;
  failedAt: string;
  reason: string;
}

/**
 * Jobs given up on, newest first (at most `limit`, default 100): for the
 * operator. The payload is as stored, so it holds nothing secret.
 */
export async function listFailedJobs(db: Kysely<Database>, options: { limit?: number } = {}): Promise<FailedJob[]> {
  const rows = await db
    .selectFrom('jobs')
    .select(['id', 'kind', 'payload', 'attempts', 'finished_at', 'last_error'])
    .where('status', '=', 'failed')
    .orderBy('finished_at', 'desc')
    .orderBy('id')
    .limit(options.limit ?? 100)
    .execute();
  return rows.map((row) => ({ id: row.id, kind: row.kind, payload: JSON.parse(row.payload), attempts: row.attempts, failedAt: row.finished_at ?? '', reason: row.last_error ?? '' }));
}
