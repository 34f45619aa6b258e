// Slots latency as the bookings table grows: 1 k, 100 k and 1 M bookings
// (each with its six 5-minute claims), on SQLite and, when BENCH_DATABASE_URL
// or TEST_DATABASE_URL names one, PostgreSQL. Prints one JSON line.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { sql } from 'kysely';
import { listFreeSlots } from '../server/availability/index.js';
import { migrateToLatest, openDatabase, type DatabaseKind } from '../server/db/index.js';
import { insertSpecialist } from '../server/demo/seed.js';
import { round, summarize } from './lib.js';

const SIZES = (process.env.BENCH_GROWTH_SIZES ?? '1000,100000,1000000').split(',').map(Number);
const SAMPLES = 200;
const pgBase = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
const now = Date.UTC(2030, 0, 7, 6);

async function measure(kind: DatabaseKind, size: number): Promise<{ size: number; insertSeconds: number; p50Ms: number; p99Ms: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'sb-growth-'));
  let url = `sqlite:${join(dir, 'growth.sqlite')}`;
  let schema = '';
  if (kind === 'postgres') {
    schema = `bench_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: pgBase });
    await admin.connect();
    await admin.query(`create schema ${schema}`);
    await admin.end();
    const u = new URL(pgBase!);
    u.searchParams.set('options', `-c search_path=${schema}`);
    url = u.toString();
  }
  const { db, close } = openDatabase(url);
  await migrateToLatest(db, kind);
  const { specialistId, serviceIds } = await insertSpecialist(db, {
    slug: 'growth',
    name: 'Growth',
    email: 'growth@example.test',
    timeZone: 'Europe/Berlin',
    minNoticeMinutes: 0,
    bookingHorizonDays: 365,
    services: [{ title: 'Session', durationMinutes: 30 }],
    weeklyHours: [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '00:00', end: '24:00' })),
  });
  // One booking every hour, half of them in the past, half in the future.
  const firstSeconds = now / 1000 - (size / 2) * 3600;
  const started = performance.now();
  if (kind === 'sqlite') {
    await sql`WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < ${size - 1})
      INSERT INTO bookings (id, specialist_id, service_id, customer_name, customer_email, start_at, end_at, status, created_at, updated_at)
      SELECT 'g' || i, ${specialistId}, ${serviceIds[0]}, 'Customer', 'c@example.test',
        strftime('%Y-%m-%dT%H:%M:%fZ', ${firstSeconds} + i * 3600, 'unixepoch'), strftime('%Y-%m-%dT%H:%M:%fZ', ${firstSeconds} + i * 3600 + 1800, 'unixepoch'),
        'confirmed', '2030-01-01T00:00:00.000Z', '2030-01-01T00:00:00.000Z' FROM seq`.execute(db);
    await sql`WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < ${size - 1}), k(j) AS (VALUES (0), (5), (10), (15), (20), (25))
      INSERT INTO booking_slot_claims (specialist_id, block_start, booking_id) SELECT ${specialistId}, ${firstSeconds / 60} + i * 60 + j, 'g' || i FROM seq, k`.execute(db);
  } else {
    await sql`INSERT INTO bookings (id, specialist_id, service_id, customer_name, customer_email, start_at, end_at, status, created_at, updated_at)
      SELECT 'g' || i, ${specialistId}, ${serviceIds[0]}, 'Customer', 'c@example.test',
        to_char(to_timestamp(${firstSeconds}::bigint + i::bigint * 3600) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        to_char(to_timestamp(${firstSeconds}::bigint + i::bigint * 3600 + 1800) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'confirmed', '2030-01-01T00:00:00.000Z', '2030-01-01T00:00:00.000Z' FROM generate_series(0, ${size - 1}) AS i`.execute(db);
    await sql`INSERT INTO booking_slot_claims (specialist_id, block_start, booking_id)
      SELECT ${specialistId}, ${firstSeconds / 60} + i * 60 + j, 'g' || i FROM generate_series(0, ${size - 1}) AS i, (VALUES (0), (5), (10), (15), (20), (25)) AS k(j)`.execute(db);
    await sql`ANALYZE`.execute(db);
  }
  const insertSeconds = round((performance.now() - started) / 1000, 1);
  const deps = { db, clock: () => new Date(now) };
  const from = new Date(now).toISOString();
  const to = new Date(now + 7 * 86_400_000).toISOString();
  const times: number[] = [];
  for (let i = 0; i < SAMPLES + 20; i++) {
    const t = performance.now();
    const result = await listFreeSlots(deps, { slug: 'growth', serviceId: serviceIds[0]!, from, to });
    if (i >= 20) times.push(performance.now() - t);
    if (result.slots.length === 0) throw new Error('expected free slots between the bookings');
  }
  await close();
  rmSync(dir, { recursive: true, force: true });
  if (kind === 'postgres') {
    const admin = new pg.Client({ connectionString: pgBase });
    await admin.connect();
    await admin.query(`drop schema ${schema} cascade`);
    await admin.end();
  }
  const { p50, p99 } = summarize(times);
  return { size, insertSeconds, p50Ms: p50, p99Ms: p99 };
}

const kinds: DatabaseKind[] = pgBase ? ['sqlite', 'postgres'] : ['sqlite'];
const results: Record<string, unknown> = {};
for (const kind of kinds) {
  const rows = [];
  for (const size of SIZES) rows.push(await measure(kind, size));
  results[kind] = { rows, growthRatio: round(rows.at(-1)!.p50Ms / rows[0]!.p50Ms) };
}
console.log(JSON.stringify(results));
