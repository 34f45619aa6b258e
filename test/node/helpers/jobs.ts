import type { Kysely } from 'kysely';
import type { Database } from '../../../server/db/schema.js';
import type { JobWorker } from '../../../server/jobs/index.js';

/** Runs the worker until nothing is due; says how many jobs it completed. */
export async function drainJobs(worker: JobWorker): Promise<number> {
  let total = 0;
  for (let n = await worker.runDue(); n > 0; n = await worker.runDue()) total += n;
  return total;
}

/** Empties what one mail test leaves for the next: jobs, the outbox, re-auth notices and specialists (their rows go with them). */
export async function clearMailState(db: Kysely<Database>): Promise<void> {
  await db.deleteFrom('jobs').execute();
  await db.deleteFrom('email_outbox').execute();
  await db.deleteFrom('reauth_notices').execute();
  await db.deleteFrom('specialists').execute();
}
