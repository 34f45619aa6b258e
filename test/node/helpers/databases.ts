/**
 * The databases every database test runs on: a fresh SQLite file always, and
 * a fresh PostgreSQL schema when TEST_DATABASE_URL is set.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { migrateToLatest, openDatabase, type DatabaseHandle, type DatabaseKind } from '../../../server/db/index.js';

export interface TestDatabase {
  kind: DatabaseKind;
  /** A URL another process can open (same file, same schema). */
  url: string;
  handle: DatabaseHandle;
  /** Closes the handle; removes the SQLite file (PostgreSQL schemas go when the run ends: database-run.ts). */
  destroy(): Promise<void>;
}

export const DATABASE_KINDS: DatabaseKind[] = process.env.TEST_DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'];

/** Creates an empty, migrated database of a kind. */
export async function createTestDatabase(kind: DatabaseKind): Promise<TestDatabase> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'sb-test-'));
    const url = `sqlite:${join(dir, 'test.sqlite')}`;
    const handle = openDatabase(url);
    await migrateToLatest(handle.db);
    return {
      kind,
      url,
      handle,
      destroy: async () => {
        await handle.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const base = process.env.TEST_DATABASE_URL;
  if (!base) throw new Error('TEST_DATABASE_URL is not set');
  // The run's prefix (database-run.ts drops its schemas at the end); a file run on its own gets one of its own.
  const prefix = process.env.TEST_SCHEMA_PREFIX ?? `t_solo_`;
  const schema = `${prefix}${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.end();
  const url = withSearchPath(base, schema);
  const handle = openDatabase(url, { poolSize: 20 });
  await migrateAmidOtherRuns(handle.db);
  return {
    kind,
    url,
    handle,
    // The schema itself is dropped when the whole run ends (database-run.ts): a
    // drop now could break another file's migration, which lists every schema.
    destroy: () => handle.close(),
  };
}

/**
 * A fresh database of a kind for the enclosing \`describe\` block: created
 * before its tests, destroyed after them.
 *
 * @example
 * const database = useTestDatabase(kind);
 * const db = () => database().handle.db;
 */
export function useTestDatabase(kind: DatabaseKind): () => TestDatabase {
  let database: TestDatabase | undefined;
  beforeAll(async () => {
    database = await createTestDatabase(kind);
  });
  afterAll(async () => {
    await database?.destroy();
  });
  return () => {
    if (!database) throw new Error('The test database is made in beforeAll: use it inside a test or hook.');
    return database;
  };
}

function withSearchPath(url: string, schema: string): string {
  const u = new URL(url);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}

/**
 * Migrates a fresh test schema. Kysely's migrator lists the tables of every
 * schema on the server, so another test run on the same database (another
 * checkout) that drops its schemas at its end can make that listing fail
 * with "schema … does not exist" (3F000) or "relation … does not exist"
 * (42P01). Nothing was written then: the migration is simply tried again.
 */
async function migrateAmidOtherRuns(db: TestDatabase['handle']['db']): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await migrateToLatest(db, 'postgres');
      return;
    } catch (error) {
      const isGoneMeanwhile = /does not exist/.test(String((error as Error).message));
      if (!isGoneMeanwhile || attempt === 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    }
  }
}
