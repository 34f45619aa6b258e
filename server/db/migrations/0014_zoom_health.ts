import type { Kysely } from 'kysely';

/**
 * The routine Zoom health check (issue #17, "Proactive health"): when each
 * connection is next due, when it was last checked and what that check found
 * (`ok`, `dead` or `unreachable`). A null due time means "due now", so the
 * connections that exist before this migration are checked at the next run.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('zoom_connections').addColumn('health_check_due_at', 'text').execute();
  await db.schema.alterTable('zoom_connections').addColumn('health_checked_at', 'text').execute();
  await db.schema.alterTable('zoom_connections').addColumn('health_check_result', 'text').execute();
  await db.schema.createIndex('zoom_connections_health_due').on('zoom_connections').columns(['status', 'health_check_due_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('zoom_connections_health_due').execute();
  await db.schema.alterTable('zoom_connections').dropColumn('health_check_result').execute();
  await db.schema.alterTable('zoom_connections').dropColumn('health_checked_at').execute();
  await db.schema.alterTable('zoom_connections').dropColumn('health_check_due_at').execute();
}
