/**
 * `npm run jobs -- failed [--limit 100]` lists the background jobs given up
 * on, newest first, for the operator (issue #15): one tab-separated line a
 * job — id, kind, when it failed, recipient and subject (for an email),
 * reason — under a header line. Never a payload or an email's content: what
 * could be secret is not printed.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.js';
import { migrateToLatest, openDatabase } from '../db/index.js';
import { EMAIL_JOB_KIND, type EmailJobPayload } from '../email/outbox.js';
import { listFailedJobs } from '../jobs/index.js';

const USAGE = 'Usage: npm run jobs -- failed [--limit 100]\n';

/** One line a field: tabs, line breaks, other control characters (a mail server's multi-line answer) and the spaces around them become one space. */
const field = (value: string) => value.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, ' ').replace(/\s+/g, ' ').trim() || '-';

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { limit: { type: 'string', default: '100' } } });
  const limit = Number(values.limit);
  if (positionals[0] !== 'failed' || positionals.length !== 1) {
    process.stderr.write(USAGE);
    process.exit(2);
  }
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
    process.stderr.write('--limit must be a whole number from 1 to 10000\n');
    process.exit(2);
  }
  const config = loadConfig(process.env);
  const { db, kind, close } = openDatabase(config.databaseUrl);
  try {
    await migrateToLatest(db, kind);
    const jobs = await listFailedJobs(db, { limit });
    const outboxIds = jobs.filter((job) => job.kind === EMAIL_JOB_KIND).map((job) => (job.payload as EmailJobPayload).outboxId);
    const emails = new Map(
      outboxIds.length === 0
        ? []
        : (await db.selectFrom('email_outbox').select(['id', 'to_address', 'subject']).where('id', 'in', outboxIds).execute()).map((row) => [row.id, row]),
    );
    const lines = [['id', 'kind', 'failed_at', 'to', 'subject', 'reason'].join('\t')];
    for (const job of jobs) {
      const email = job.kind === EMAIL_JOB_KIND ? emails.get((job.payload as EmailJobPayload).outboxId) : undefined;
      lines.push([job.id, job.kind, job.failedAt, email?.to_address ?? '', email?.subject ?? '', job.reason].map(field).join('\t'));
    }
    process.stdout.write(`${lines.join('\n')}\n`);
    process.stderr.write(jobs.length === limit ? `The newest ${limit} failed jobs; --limit shows more.\n` : `${jobs.length} failed job${jobs.length === 1 ? '' : 's'}.\n`);
  } finally {
    await close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write((error instanceof ConfigError ? error.message : `Failed: ${(error as Error).message}`) + '\n');
  process.exit(1);
});
