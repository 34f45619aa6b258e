/**
 * `npm run specialist -- add --name "Ada Lovelace" --email ada@example.com --slug ada [--time-zone Europe/London] [--origin https://ada.example]`
 * creates a specialist account; they sign in at /sign-in with that email.
 * Without --time-zone the zone is UTC: ECMA-402's canonical name for
 * Etc/UTC and GMT (what Intl.DateTimeFormat reports for them), accepted by
 * every runtime and always in the settings page's list.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { refuseHostileInLine, SlugSchema, TimeZoneSchema } from '../../sdk/contract.js';
import { ConfigError, loadConfig } from '../config.js';
import { isUniqueViolation, migrateToLatest, openDatabase } from '../db/index.js';
import { insertSpecialist } from '../demo/seed.js';

const AddSchema = z.object({
  name: refuseHostileInLine(z.string().trim().min(1, '--name is required'), '--name'),
  email: z.email('--email must be an email address').transform((e) => e.toLowerCase()),
  slug: SlugSchema,
  timeZone: TimeZoneSchema,
  origins: z.array(z.url({ protocol: /^https?$/, message: '--origin must be like https://www.example.com' })),
});

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      email: { type: 'string' },
      slug: { type: 'string' },
      'time-zone': { type: 'string', default: 'UTC' },
      origin: { type: 'string', multiple: true, default: [] },
    },
  });
  if (positionals[0] !== 'add') {
    process.stderr.write('Usage: npm run specialist -- add --name "Ada Lovelace" --email ada@example.com --slug ada [--time-zone Europe/London] [--origin https://ada.example]\n');
    process.exit(2);
  }
  const parsed = AddSchema.safeParse({ name: values.name ?? '', email: values.email ?? '', slug: values.slug ?? '', timeZone: values['time-zone'], origins: values.origin });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    process.stderr.write(`${issue.path[0] === 'slug' ? `--slug: ${issue.message}` : issue.path[0] === 'timeZone' ? `--time-zone: ${issue.message}` : issue.message}\n`);
    process.exit(2);
  }
  const config = loadConfig(process.env);
  const { db, kind, close } = openDatabase(config.databaseUrl);
  try {
    await migrateToLatest(db, kind);
    const input = parsed.data;
    await insertSpecialist(db, {
      slug: input.slug,
      name: input.name,
      email: input.email,
      timeZone: input.timeZone,
      allowedOrigins: input.origins.map((o) => new URL(o).origin),
      services: [],
      weeklyHours: [],
    });
    const base = config.publicUrl ?? `http://localhost:${config.port}`;
    process.stdout.write(`Created ${input.name} (${input.email}) at /${input.slug}. They sign in at ${base}/sign-in and add services and hours in Settings.\n`);
  } catch (error) {
    if (isUniqueViolation(error)) {
      process.stderr.write('A specialist with that email or slug already exists.\n');
      process.exit(1);
    }
    throw error;
  } finally {
    await close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write((error instanceof ConfigError ? error.message : `Failed: ${(error as Error).message}`) + '\n');
  process.exit(1);
});
