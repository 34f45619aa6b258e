import type { Kysely } from 'kysely';

/**
 * Held requests (issue #17): a booking that met a dead Zoom token keeps its
 * slot as `held` until `hold_expires_at`, and is confirmed by a job when the
 * specialist re-authorizes. Each specialist sets how long a request is held
 * (`hold_window_minutes`, default 24 h; 0 holds nothing). The re-auth email
 * remembers the earliest deadline it named, so a new hold that must be
 * confirmed sooner is emailed at once, whatever the throttle says.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('bookings').addColumn('hold_expires_at', 'text').execute();
  await db.schema.alterTable('specialists').addColumn('hold_window_minutes', 'integer', (col) => col.notNull().defaultTo(1440)).execute();
  await db.schema.alterTable('reauth_notices').addColumn('hold_deadline_sent', 'text').execute();
  await db.schema.createIndex('bookings_specialist_status_idx').on('bookings').columns(['specialist_id', 'status', 'start_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('bookings_specialist_status_idx').execute();
  await db.schema.alterTable('reauth_notices').dropColumn('hold_deadline_sent').execute();
  await db.schema.alterTable('specialists').dropColumn('hold_window_minutes').execute();
  await db.schema.alterTable('bookings').dropColumn('hold_expires_at').execute();
}
