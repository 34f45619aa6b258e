import { Migrator, sql, type Kysely, type MigrationResultSet } from 'kysely';
import type { DatabaseKind } from './connection.js';
import { migrations } from './migrations/index.js';

/**
 * Brings the schema to the latest migration. Safe to call at every start and
 * from several processes: Kysely's Migrator takes a lock table first.
 * Throws with the failing migration's name when one fails.
 *
 * On PostgreSQL the migration tables live in the connection's current schema:
 * without naming it, Kysely looks them up across all schemas and can mistake
 * another schema's tables for its own.
 */
export async function migrateToLatest(db: Kysely<any>, kind: DatabaseKind = 'sqlite'): Promise<MigrationResultSet> {
  const migrationTableSchema =
    kind === 'postgres' ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0]?.schema : undefined;
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations }, migrationTableSchema });
  const result = await migrator.migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error');
    const cause = result.error instanceof Error ? result.error.message : String(result.error);
    throw new Error(`Migration ${failed?.migrationName ?? '(unknown)'} failed: ${cause}`, { cause: result.error });
  }
  return result;
}
