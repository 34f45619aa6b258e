import type { Kysely } from 'kysely';

/**
 * When a specialist's sessions are reminded (issue #16, "Reminders"): a JSON
 * array of minutes before the start, default 24 hours and 1 hour before.
 * Text holding JSON, like `allowed_origins`, so both databases read it alike.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('specialists').addColumn('reminder_offsets_minutes', 'text', (c) => c.notNull().defaultTo('[1440,60]')).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('specialists').dropColumn('reminder_offsets_minutes').execute();
}
