import { type Kysely, sql } from 'kysely';

/**
 * The Zoom user a specialist last connected, kept on the specialist so it
 * outlives a disconnect: connecting another Zoom user afterwards is still a
 * change of account, and the specialist is emailed (issue #14, "Links").
 * Existing connections fill it in.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('specialists').addColumn('last_zoom_user_id', 'text').execute();
  await db.schema.alterTable('specialists').addColumn('last_zoom_email', 'text').execute();
  await db.schema.alterTable('specialists').addColumn('last_zoom_display_name', 'text').execute();
  await sql`
    UPDATE specialists SET
      last_zoom_user_id = (SELECT zoom_user_id FROM zoom_connections z WHERE z.specialist_id = specialists.id),
      last_zoom_email = (SELECT zoom_email FROM zoom_connections z WHERE z.specialist_id = specialists.id),
      last_zoom_display_name = (SELECT zoom_display_name FROM zoom_connections z WHERE z.specialist_id = specialists.id)
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const column of ['last_zoom_display_name', 'last_zoom_email', 'last_zoom_user_id']) {
    await db.schema.alterTable('specialists').dropColumn(column).execute();
  }
}
