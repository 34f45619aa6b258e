/**
 * Vitest global setup: names this run's PostgreSQL test schemas, and drops
 * them all when the run ends.
 *
 * Test files run in parallel, and every migration introspects the whole
 * database (Kysely's migrator lists the tables of every schema to find its
 * own). A schema dropped by another file in the middle of that listing makes
 * it fail with "relation … does not exist". So no schema is dropped while
 * tests run: each file's schemas stay until this teardown. The run's prefix
 * keeps other runs' schemas (another checkout testing on the same server)
 * out of reach.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export default function setup(): (() => Promise<void>) | undefined {
  const base = process.env.TEST_DATABASE_URL;
  if (!base) return undefined;
  const prefix = `t_${randomBytes(4).toString('hex')}_`;
  // Forked workers inherit the environment: createTestDatabase names schemas with it.
  process.env.TEST_SCHEMA_PREFIX = prefix;
  return async () => {
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ nspname: string }>(`select nspname from pg_namespace where starts_with(nspname, $1)`, [prefix]);
      for (const { nspname } of rows) await admin.query(`drop schema ${nspname} cascade`);
    } finally {
      await admin.end();
    }
  };
}
