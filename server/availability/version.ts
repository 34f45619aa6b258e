import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/schema.js';
import { noteLocalChange } from '../specialists/local-changes.js';

/**
 * Records that a specialist's free slots may have changed. Call it inside the
 * transaction that changes claims, weekly hours or services, as its last
 * statement: the row lock it takes on PostgreSQL is then held only until the
 * commit, after every other lock of the transaction, so it cannot deadlock.
 *
 * Besides the database counter, which every process sees, it notes the
 * change in this process, so slot lists cached here are checked against the
 * database at once instead of at their next periodic check.
 */
export async function markAvailabilityChanged(db: Kysely<Database> | Transaction<Database>, specialistId: string): Promise<void> {
  noteLocalChange(specialistId);
  await db
    .updateTable('specialists')
    .set((eb) => ({ availability_version: eb('availability_version', '+', 1) }))
    .where('id', '=', specialistId)
    .execute();
}
