import { sql, type Kysely, type Transaction } from 'kysely';
import type { Clock } from '../clock.js';
import type { DatabaseKind } from '../db/index.js';
import type { Database } from '../db/schema.js';
import { createLeaseKeeper, type Lease, type LeaseKeeper } from '../leases/index.js';

/** A job a worker has taken: its row as it is now (attempts counted), and the lease that fences its writes. */
export interface ClaimedJob {
  id: string;
  kind: string;
  payload: string;
  attempts: number;
  createdAt: string;
  lease: Lease;
}

export interface JobClaimer {
  keeper: LeaseKeeper;
  /**
   * Takes the lease of the next due job among `kinds` (a pending job whose
   * not-before time has come and that nobody holds), counting the attempt;
   * undefined when none is due.
   */
  claimNext(kinds: string[], leaseMsOf: (kind: string) => number): Promise<ClaimedJob | undefined>;
}

/** Due jobs looked at per claim on SQLite, where the first may be taken by another worker meanwhile. */
const SQLITE_CANDIDATES = 10;

/**
 * Claims jobs, safely from any number of workers and processes.
 *
 * - PostgreSQL: in one transaction, `select … for update skip locked limit 1`
 *   picks the oldest due job no other claimer is looking at, and the lease is
 *   taken on it in that transaction: concurrent claimers get different jobs
 *   without waiting on each other.
 * - SQLite: one writer at a time anyway, so it reads the due ids and takes
 *   the first whose lease is still free (the lease module's compare-and-swap).
 *
 * Either way the lease itself (token + time limit) is what keeps a job with
 * one worker: the lock only spares claimers each other's rows.
 */
export function createJobClaimer(deps: { db: Kysely<Database>; databaseKind: DatabaseKind; clock: Clock }): JobClaimer {
  const { db, clock } = deps;
  const keeper = createLeaseKeeper({ db, clock }, { name: 'job', table: 'jobs', keyColumn: 'id', tokenColumn: 'lease_token', untilColumn: 'lease_until' });

  function dueJobs(executor: Kysely<Database> | Transaction<Database>, kinds: string[], now: string) {
    return executor
      .selectFrom('jobs')
      .select(['id', 'kind'])
      .where('status', '=', 'pending')
      .where('run_after', '<=', now)
      .where('kind', 'in', kinds)
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
      .orderBy('run_after')
      .orderBy('created_at');
  }

  async function take(executor: Kysely<Database> | Transaction<Database>, id: string, leaseMs: number, now: string): Promise<ClaimedJob | undefined> {
    const lease = await keeper.take(id, leaseMs, {
      executor,
      extra: (update) => update.where('status', '=', 'pending').where('run_after', '<=', now),
      set: { attempts: sql`attempts + 1` },
    });
    if (!lease) return undefined;
    const row = await executor.selectFrom('jobs').select(['kind', 'payload', 'attempts', 'created_at']).where('id', '=', id).executeTakeFirstOrThrow();
    return { id, kind: row.kind, payload: row.payload, attempts: row.attempts, createdAt: row.created_at, lease };
  }

  return {
    keeper,
    async claimNext(kinds, leaseMsOf) {
      if (kinds.length === 0) return undefined;
      const now = clock().toISOString();
      if (deps.databaseKind === 'postgres') {
        return db.transaction().execute(async (trx) => {
          const due = await dueJobs(trx, kinds, now).limit(1).forUpdate().skipLocked().executeTakeFirst();
          return due && take(trx, due.id, leaseMsOf(due.kind), now);
        });
      }
      for (const due of await dueJobs(db, kinds, now).limit(SQLITE_CANDIDATES).execute()) {
        const claimed = await take(db, due.id, leaseMsOf(due.kind), now);
        if (claimed) return claimed;
      }
      return undefined;
    },
  };
}
