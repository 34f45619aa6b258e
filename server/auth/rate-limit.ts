import type { Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import type { Database } from '../db/schema.js';

/**
 * Counts a hit on a fixed-window limit kept in the database (so it holds
 * across processes). Returns false when the bucket is over its limit.
 */
export async function hitRateLimit(db: Kysely<Database>, clock: Clock, bucket: string, limit: number, windowMs: number): Promise<boolean> {
  const now = clock();
  const windowFloor = new Date(now.getTime() - windowMs).toISOString();
  return db.transaction().execute(async (trx) => {
    await trx
      .insertInto('rate_limits')
      .values({ bucket, window_start: now.toISOString(), hits: 0 })
      .onConflict((oc) => oc.column('bucket').doNothing())
      .execute();
    // A window that ended starts over.
    await trx.updateTable('rate_limits').set({ window_start: now.toISOString(), hits: 0 }).where('bucket', '=', bucket).where('window_start', '<', windowFloor).execute();
    const counted = await trx
      .updateTable('rate_limits')
      .set((eb) => ({ hits: eb('hits', '+', 1) }))
      .where('bucket', '=', bucket)
      .where('hits', '<', limit)
      .executeTakeFirst();
    return Number(counted.numUpdatedRows) === 1;
  });
}
