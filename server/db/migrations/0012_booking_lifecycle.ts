import type { Kysely } from 'kysely';

/**
 * The booking lifecycle (issue #16): cancel, reschedule, reschedule offers.
 *
 * - bookings: who cancelled, when and why; `calendar_sequence`, the SEQUENCE
 *   of the calendar event, raised by every change so calendar apps replace
 *   the event they hold; `reschedule_offered_at`, set when the specialist
 *   offers a reschedule (it lifts the cancellation window for that booking).
 * - specialists: `cancellation_window_minutes`, how close to the start a
 *   customer may still cancel or reschedule (default 24 h).
 * - jobs: `specialist_id`, so the Zoom changes waiting for a specialist's
 *   re-authorization can be counted (the re-auth email names them) and made
 *   due at once when it comes.
 * - booking_change_keys: the `Idempotency-Key`s of reschedules, one row a
 *   key a booking with the hash of the request body, so a repeat is
 *   answered as the first and a reused key with another body is refused.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('bookings').addColumn('cancelled_at', 'text').execute();
  await db.schema.alterTable('bookings').addColumn('cancelled_by', 'text').execute();
  await db.schema.alterTable('bookings').addColumn('cancel_reason', 'text').execute();
  await db.schema.alterTable('bookings').addColumn('calendar_sequence', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('bookings').addColumn('reschedule_offered_at', 'text').execute();

  await db.schema.alterTable('specialists').addColumn('cancellation_window_minutes', 'integer', (c) => c.notNull().defaultTo(1440)).execute();

  await db.schema.alterTable('jobs').addColumn('specialist_id', 'text', (c) => c.references('specialists.id').onDelete('cascade')).execute();
  await db.schema.createIndex('jobs_specialist_status_idx').on('jobs').columns(['specialist_id', 'status']).execute();

  await db.schema
    .createTable('booking_change_keys')
    .addColumn('booking_id', 'text', (c) => c.notNull().references('bookings.id').onDelete('cascade'))
    .addColumn('idempotency_key', 'text', (c) => c.notNull())
    .addColumn('request_fingerprint', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('booking_change_keys_pk', ['booking_id', 'idempotency_key'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('booking_change_keys').execute();
  await db.schema.dropIndex('jobs_specialist_status_idx').execute();
  await db.schema.alterTable('jobs').dropColumn('specialist_id').execute();
  await db.schema.alterTable('specialists').dropColumn('cancellation_window_minutes').execute();
  for (const column of ['reschedule_offered_at', 'calendar_sequence', 'cancel_reason', 'cancelled_by', 'cancelled_at']) {
    await db.schema.alterTable('bookings').dropColumn(column).execute();
  }
}
