import { sql, type Kysely } from 'kysely';

/**
 * One table of background work (issue #15): `jobs`, drained by one worker
 * (server/jobs/). Email becomes one kind of job, `email.send`: the message
 * stays in `email_outbox` (what people see: recipient, subject, sent or
 * failed and why), while its schedule and claim move to its job. So the
 * outbox loses its own claim and schedule columns, every message still
 * pending gets its job (same attempts and next time, so its backoff goes
 * on), and the outbox gains the specialist a message belongs to (null for
 * system mail) and when it failed, for the dashboard.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('jobs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('run_after', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('lease_token', 'text')
    .addColumn('lease_until', 'text')
    .addColumn('last_error', 'text')
    .addColumn('dedupe_key', 'text', (c) => c.unique())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('finished_at', 'text')
    .execute();
  // The claim query: pending jobs by their not-before time.
  await db.schema.createIndex('jobs_due_idx').on('jobs').columns(['status', 'run_after']).execute();

  await db.schema.alterTable('email_outbox').addColumn('specialist_id', 'text', (c) => c.references('specialists.id').onDelete('set null')).execute();
  await db.schema.alterTable('email_outbox').addColumn('failed_at', 'text').execute();
  await db.schema.createIndex('email_outbox_specialist_status_idx').on('email_outbox').columns(['specialist_id', 'status']).execute();

  await sql`insert into jobs (id, kind, payload, status, run_after, attempts, dedupe_key, created_at)
    select id, 'email.send', '{"outboxId":"' || id || '"}', 'pending', next_attempt_at, attempts, 'email:' || id, created_at
    from email_outbox where status = 'pending'`.execute(db);

  await db.schema.dropIndex('email_outbox_due_idx').execute();
  // One column a statement: SQLite drops one at a time.
  for (const column of ['next_attempt_at', 'claim_owner', 'claim_until']) await db.schema.alterTable('email_outbox').dropColumn(column).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('email_outbox').addColumn('next_attempt_at', 'text', (c) => c.notNull().defaultTo('')).execute();
  await db.schema.alterTable('email_outbox').addColumn('claim_owner', 'text').execute();
  await db.schema.alterTable('email_outbox').addColumn('claim_until', 'text').execute();
  await sql`update email_outbox set next_attempt_at = coalesce((select run_after from jobs where jobs.dedupe_key = 'email:' || email_outbox.id), created_at)`.execute(db);
  await db.schema.createIndex('email_outbox_due_idx').on('email_outbox').columns(['status', 'next_attempt_at']).execute();
  await db.schema.dropIndex('email_outbox_specialist_status_idx').execute();
  for (const column of ['failed_at', 'specialist_id']) await db.schema.alterTable('email_outbox').dropColumn(column).execute();
  await db.schema.dropTable('jobs').execute();
}
