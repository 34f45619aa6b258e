import { sql, type Kysely } from 'kysely';

/**
 * Indexes for the retention job (server/maintenance/retention.ts): it finds
 * expired sessions, links and OAuth states by their expiry, and sent emails
 * whose body is still kept by when they were sent. The last index holds only
 * rows that still have a body, so a purge run reads what it purges and not
 * every old email.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('sessions_expires_idx').on('sessions').column('expires_at').execute();
  await db.schema.createIndex('sign_in_links_expires_idx').on('sign_in_links').column('expires_at').execute();
  await db.schema.createIndex('oauth_states_expires_idx').on('oauth_states').column('expires_at').execute();
  await db.schema
    .createIndex('email_outbox_body_kept_idx')
    .on('email_outbox')
    .columns(['status', 'sent_at'])
    .where(sql.ref('content_enc'), '<>', '')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const index of ['email_outbox_body_kept_idx', 'oauth_states_expires_idx', 'sign_in_links_expires_idx', 'sessions_expires_idx']) await db.schema.dropIndex(index).execute();
}
