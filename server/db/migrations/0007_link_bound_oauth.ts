import type { Kysely } from 'kysely';

/**
 * An OAuth state may be started by an emailed re-auth link instead of a
 * session: the link's id is kept on the state, and the link is used up only
 * at the callback that restores the connection (issue #14, "Links"). Sessions
 * get an index by specialist for "Sign out everywhere".
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('oauth_states')
    .addColumn('sign_in_link_id', 'text', (c) => c.references('sign_in_links.id').onDelete('cascade'))
    .execute();
  await db.schema.createIndex('sessions_specialist_idx').on('sessions').column('specialist_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('sessions_specialist_idx').execute();
  await db.schema.alterTable('oauth_states').dropColumn('sign_in_link_id').execute();
}
