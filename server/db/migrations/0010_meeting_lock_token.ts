import type { Kysely } from 'kysely';

/**
 * The booking's meeting lock becomes a fenced lease (issue #15): besides its
 * end (`meeting_lock_until`), the holder's token. Every write that completes
 * a booking names the token, so a holder that was merely slow (a long Zoom
 * call, a paused process) changes nothing once another has taken over.
 * A pending booking locked before this migration has no token: its lock
 * simply runs out and the sweep takes it with one.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('bookings').addColumn('meeting_lock_token', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('bookings').dropColumn('meeting_lock_token').execute();
}
