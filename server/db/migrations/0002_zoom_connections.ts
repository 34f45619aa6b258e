import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('zoom_connections')
    .addColumn('specialist_id', 'text', (c) => c.primaryKey().references('specialists.id').onDelete('cascade'))
    .addColumn('zoom_user_id', 'text', (c) => c.notNull())
    .addColumn('zoom_account_id', 'text', (c) => c.notNull())
    .addColumn('zoom_email', 'text', (c) => c.notNull())
    .addColumn('zoom_display_name', 'text', (c) => c.notNull())
    .addColumn('access_token_enc', 'text', (c) => c.notNull())
    .addColumn('refresh_token_enc', 'text', (c) => c.notNull())
    .addColumn('access_token_expires_at', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('invalid_reason', 'text')
    .addColumn('invalid_since', 'text')
    .addColumn('failed_booking_attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('refresh_lock_owner', 'text')
    .addColumn('refresh_lock_until', 'text')
    .addColumn('connected_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('zoom_connections_zoom_user_idx').on('zoom_connections').column('zoom_user_id').execute();

  await db.schema
    .createTable('oauth_states')
    .addColumn('state_hash', 'text', (c) => c.primaryKey())
    .addColumn('specialist_id', 'text', (c) => c.notNull().references('specialists.id').onDelete('cascade'))
    .addColumn('code_verifier_enc', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('used_at', 'text')
    .execute();

  await db.schema
    .createTable('sessions')
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('specialist_id', 'text', (c) => c.notNull().references('specialists.id').onDelete('cascade'))
    .addColumn('csrf_token', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema.alterTable('bookings').addColumn('zoom_start_url_enc', 'text').execute();
  await db.schema.alterTable('bookings').addColumn('meeting_lock_until', 'text').execute();
  await db.schema.alterTable('bookings').addColumn('meeting_requested_at', 'text').execute();
  await db.schema.createIndex('bookings_status_idx').on('bookings').columns(['status', 'created_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('bookings_status_idx').execute();
  for (const column of ['meeting_requested_at', 'meeting_lock_until', 'zoom_start_url_enc']) {
    await db.schema.alterTable('bookings').dropColumn(column).execute();
  }
  for (const table of ['sessions', 'oauth_states', 'zoom_connections']) await db.schema.dropTable(table).execute();
}
