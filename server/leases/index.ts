import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Transaction, type UpdateQueryBuilder, type UpdateResult } from 'kysely';
import type { Clock } from '../clock.js';
import type { Database } from '../db/schema.js';

/**
 * Where a kind of lease lives: a row of `table`, found by `keyColumn`, with
 * the holder's fencing token in `tokenColumn` and the lease's end in
 * `untilColumn` (an ISO time, as every time in the database).
 */
export interface LeaseSpec {
  /** For logs and errors, e.g. `'meeting'`. */
  name: string;
  table: keyof Database & string;
  keyColumn: string;
  tokenColumn: string;
  untilColumn: string;
}

/** A lease held: the row it is on, the fencing token that proves it, and when it ends unless renewed. */
export interface Lease {
  key: string;
  token: string;
  until: Date;
}

type Executor = Kysely<Database> | Transaction<Database>;
// The spec names its columns at run time; Kysely's types cannot follow a
// table chosen by a value, so the builders below are typed loosely, here only.
type AnyUpdate = UpdateQueryBuilder<any, any, any, UpdateResult>;

export interface LeaseKeeper {
  readonly spec: LeaseSpec;
  /**
   * Takes the lease on row `key` if nobody holds it, or the holder's lease
   * has ended: one compare-and-swap that writes a fresh fencing token.
   * `extra` adds conditions to the same update (e.g. the expected status),
   * and `set` other columns to write with it. Returns the lease, or
   * undefined when another holder has it or `extra` did not match.
   */
  take(
    key: string,
    durationMs: number,
    options?: { executor?: Executor; extra?: (update: AnyUpdate) => AnyUpdate; set?: Record<string, unknown> },
  ): Promise<Lease | undefined>;
  /** Extends a lease still held; false when it was lost (another holder has taken it, or the row went another way). */
  renew(lease: Lease, durationMs: number, executor?: Executor): Promise<boolean>;
  /** Lets go of a lease still held; does nothing to one that was lost. */
  release(lease: Lease, executor?: Executor): Promise<void>;
  /**
   * Fences a write that completes work: adds "the row is `lease.key` and
   * still carries `lease.token`" to an update or delete. Check the row count
   * (`isOneRow`) to know whether the lease was still held.
   */
  fence<Q extends { where: (...args: any[]) => any }>(query: Q, lease: Lease): Q;
  /** The columns that clear the lease, for a completing write's `set`. */
  cleared(): Record<string, null>;
  /**
   * A lease on a row about to be inserted (the inserter holds it from the
   * start): the lease, and the token and end columns to insert with the row.
   */
  forNewRow(key: string, durationMs: number): { lease: Lease; columns: Record<string, string> };
}

/**
 * One kind of fenced lease over database rows — the booking's meeting lock,
 * a Zoom connection's refresh lock, a job's claim — the same SQL on SQLite
 * and PostgreSQL.
 *
 * A lease is a time limit *and* a token: the time limit lets another holder
 * in after a holder died; the token lets a holder that was merely slow (a
 * long Zoom call, a paused process) find out that it lost, because every
 * write that completes the work is fenced with it (`fence`) and changes no
 * row once another holder has taken over. Whoever gets 0 rows stops and
 * cleans up what it made.
 *
 * @example
 * const meetingLocks = createLeaseKeeper({ db, clock }, { name: 'meeting', table: 'bookings', keyColumn: 'id', tokenColumn: 'meeting_lock_token', untilColumn: 'meeting_lock_until' });
 * const lease = await meetingLocks.take(bookingId, 60_000, { extra: (u) => u.where('status', '=', 'pending') });
 * const result = await meetingLocks.fence(db.updateTable('bookings').set({ status: 'confirmed', ...meetingLocks.cleared() }), lease).executeTakeFirst();
 * if (!isOneRow(result)) // lost: clean up
 */
export function createLeaseKeeper(deps: { db: Kysely<Database>; clock: Clock }, spec: LeaseSpec): LeaseKeeper {
  const { db, clock } = deps;
  const { table, keyColumn, tokenColumn, untilColumn } = spec;
  const update = (executor: Executor) => executor.updateTable(table as any) as unknown as AnyUpdate;
  const isMine = (query: any, lease: Lease) => query.where(sql.ref(keyColumn), '=', lease.key).where(sql.ref(tokenColumn), '=', lease.token);

  return {
    spec,

    async take(key, durationMs, options = {}) {
      const now = clock();
      const token = randomUUID();
      const until = new Date(now.getTime() + durationMs);
      let query = update(options.executor ?? db)
        .set({ ...options.set, [tokenColumn]: token, [untilColumn]: until.toISOString() })
        .where(sql.ref(keyColumn), '=', key)
        .where((eb: any) => eb.or([eb(sql.ref(untilColumn), 'is', null), eb(sql.ref(untilColumn), '<', now.toISOString())]));
      if (options.extra) query = options.extra(query);
      return isOneRow(await query.executeTakeFirst()) ? { key, token, until } : undefined;
    },

    async renew(lease, durationMs, executor = db) {
      const until = new Date(clock().getTime() + durationMs);
      const result = await isMine(update(executor).set({ [untilColumn]: until.toISOString() }), lease).executeTakeFirst();
      if (!isOneRow(result)) return false;
      lease.until = until;
      return true;
    },

    async release(lease, executor = db) {
      await isMine(update(executor).set({ [tokenColumn]: null, [untilColumn]: null }), lease).execute();
    },

    fence: (query, lease) => isMine(query, lease),

    cleared: () => ({ [tokenColumn]: null, [untilColumn]: null }),

    forNewRow(key, durationMs) {
      const lease = { key, token: randomUUID(), until: new Date(clock().getTime() + durationMs) };
      return { lease, columns: { [tokenColumn]: lease.token, [untilColumn]: lease.until.toISOString() } };
    },
  };
}

/** Whether an update or delete changed exactly one row: for a fenced write, whether the lease still held. */
export function isOneRow(result: { numUpdatedRows?: bigint; numDeletedRows?: bigint } | undefined): boolean {
  return Number(result?.numUpdatedRows ?? result?.numDeletedRows ?? 0) === 1;
}

export interface LeaseHeartbeat {
  /** Aborted when a renewal finds the lease lost: pass it to the work, which then stops. */
  signal: AbortSignal;
  /** Stops renewing (the work ended); waits for a renewal in flight. */
  stop(): Promise<void>;
}

/**
 * Keeps a lease alive while its work runs: renews it every `everyMs` for
 * `durationMs` more, and aborts `signal` the moment a renewal finds it lost
 * (or cannot reach the database), so the work stops instead of finishing
 * under a lease someone else now holds. The completing write must still be
 * fenced: a heartbeat narrows the window, the token closes it.
 */
export function keepLeaseAlive(keeper: LeaseKeeper, lease: Lease, options: { durationMs: number; everyMs: number; onLost?: () => void }): LeaseHeartbeat {
  const controller = new AbortController();
  let renewing: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    renewing = renewing.then(async () => {
      if (controller.signal.aborted) return;
      let isHeld = false;
      try {
        isHeld = await keeper.renew(lease, options.durationMs);
      } catch {
        isHeld = false;
      }
      if (!isHeld && !controller.signal.aborted) {
        controller.abort(new LeaseLostError(keeper.spec.name, lease.key));
        options.onLost?.();
      }
    });
  }, options.everyMs);
  timer.unref();
  return {
    signal: controller.signal,
    async stop() {
      clearInterval(timer);
      await renewing;
    },
  };
}

/** Work stopped because its lease was taken by another holder. */
export class LeaseLostError extends Error {
  constructor(
    readonly leaseName: string,
    readonly key: string,
  ) {
    super(`The ${leaseName} lease on ${key} was lost to another holder.`);
    this.name = 'LeaseLostError';
  }
}

/**
 * Asks `attempt` again and again until it answers something other than
 * undefined, waiting between asks (from `firstWaitMs`, default 20, doubling
 * up to `maxWaitMs`, default 250); gives up with undefined once the waits
 * add up to `budgetMs`, or when `signal` aborts.
 *
 * The budget counts the time slept, not a clock: the injected clock may be
 * a test clock that never moves (a deadline on it would wait forever) or
 * may step, and a wait for another holder is about elapsed time anyway.
 * Each ask takes a little time too, so the real wait is slightly longer
 * than the budget; it is bounded all the same.
 *
 * @example const row = await pollWithBackoff(() => findSettled(id), { budgetMs: 15_000 });
 */
export async function pollWithBackoff<T>(
  attempt: () => Promise<T | undefined>,
  options: { budgetMs: number; firstWaitMs?: number; maxWaitMs?: number; signal?: AbortSignal | undefined },
): Promise<T | undefined> {
  let slept = 0;
  for (let wait = options.firstWaitMs ?? 20; ; wait = Math.min(wait * 2, options.maxWaitMs ?? 250)) {
    const answer = await attempt();
    if (answer !== undefined) return answer;
    if (slept >= options.budgetMs || options.signal?.aborted) return undefined;
    const step = Math.min(wait, options.budgetMs - slept);
    await new Promise((resolve) => setTimeout(resolve, step));
    slept += step;
  }
}
