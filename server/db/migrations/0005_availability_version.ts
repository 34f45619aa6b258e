import type { Kysely } from 'kysely';

/**
 * A counter on each specialist, raised in the same transaction as every
 * change to what their free slots depend on (claims, weekly hours, services),
 * so a cached slot list can be checked with one indexed read, from any
 * server process.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('specialists').addColumn('availability_version', 'integer', (c) => c.notNull().defaultTo(0)).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('specialists').dropColumn('availability_version').execute();
}
