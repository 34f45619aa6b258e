import type { SqliteDatabase, SqliteStatement } from 'kysely';
import { LruMap } from '../lru-map.js';

/**
 * An SQLite database whose `prepare` reuses compiled statements. Kysely
 * prepares every query it runs; compiling the same SQL again costs more than
 * running it, and a server runs the same few dozen statements all day. The
 * least recently used statement is dropped past `capacity`, so ad-hoc SQL
 * cannot grow the cache without bound. SQLite recompiles a cached statement
 * by itself after a schema change.
 */
export function withStatementCache(database: SqliteDatabase & { prepare(sql: string): SqliteStatement }, capacity = 500): SqliteDatabase {
  const statements = new LruMap<string, SqliteStatement>(capacity);
  return {
    close: () => {
      statements.clear();
      return database.close();
    },
    prepare(sql: string): SqliteStatement {
      let statement = statements.get(sql);
      if (!statement) {
        statement = database.prepare(sql);
        statements.set(sql, statement);
      }
      return statement;
    },
  };
}
