/** `npm run migrate`: brings the configured database to the latest schema. */
import { ConfigError, loadConfig } from '../config.js';
import { migrateToLatest, openDatabase } from './index.js';

try {
  const config = loadConfig(process.env);
  const { db, kind, close } = openDatabase(config.databaseUrl);
  const { results } = await migrateToLatest(db, kind);
  await close();
  const applied = results?.filter((r) => r.status === 'Success').map((r) => r.migrationName) ?? [];
  process.stdout.write(applied.length ? `Applied: ${applied.join(', ')}\n` : 'The database is up to date.\n');
} catch (error) {
  process.stderr.write((error instanceof ConfigError ? error.message : `Migration failed: ${(error as Error).message}`) + '\n');
  process.exit(1);
}
