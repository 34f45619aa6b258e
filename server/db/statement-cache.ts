import type { SqliteDatabase, SqliteStatement } from 'kysely';

/**
 * An SQLite database whose `prepare` reuses compiled statements. Kysely
 * prepares every query it runs; compiling the same SQL again costs more than
 * running it, and a server runs the same few dozen statements all day. The
 * least recently used statement is dropped past `capacity`, so ad-hoc SQL
 * cannot grow the cache without bound. SQLite recompiles a cached statement
 * by itself after a schema change.
 */
export function withStatementCache(database: SqliteDatabase & { prepare(sql: string): SqliteStatement }, capacity = 500): SqliteDatabase {
  const statements = new Map<string, SqliteStatement>();
  return {
    close: () => {
      statements.clear();
      return database.close();
    },
    prepare(sql: string): SqliteStatement {
      let statement = statements.get(sql);
      if (statement) {
        // Re-insert: a Map iterates in insertion order, so the first key is the least recently used.
        statements.delete(sql);
      } else {
        statement = database.prepare(sql);
        if (statements.size >= capacity) statements.delete(statements.keys().next().value!);
      }
      statements.set(sql, statement);
      return statement;
    },
  };
}
