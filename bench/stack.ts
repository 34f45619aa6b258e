/**
 * A benchmark stack across processes: the Zoom emulator in one, the server
 * (as `npm start` runs it) in another, this process as the load generator.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrateToLatest, openDatabase } from '../server/db/index.js';
import { insertSpecialist } from '../server/demo/seed.js';
import { createLogger } from '../server/logger.js';
import { createTokenCipher } from '../server/security/token-cipher.js';
import { createZoomClient } from '../server/zoom/client.js';
import { createZoomConnectionStore } from '../server/zoom/connections.js';
import { spawnTs } from './lib.js';

/** `BENCH_PROFILE=<dir>`: the server writes a V8 CPU profile there when the stack closes. */
const PROFILE_DIR = process.env.BENCH_PROFILE;

/** The website the bench specialist embeds the widget on: its calls carry this Origin. */
export const BENCH_SITE_ORIGIN = 'https://bench-site.example';

export interface BenchStack {
  url: string;
  serviceId: string;
  /** The server process, to read its CPU time. */
  serverPid: number;
  close(): Promise<void>;
}

export async function startBenchStack(options: { smtpUrl: string; databaseUrl?: string }): Promise<BenchStack> {
  const dir = mkdtempSync(join(tmpdir(), 'sb-bench-'));
  const databaseUrl = options.databaseUrl ?? `sqlite:${join(dir, 'bench.sqlite')}`;
  const key = randomBytes(32);
  const emulator = await spawnTs('bench/emulator-process.ts');
  const e = emulator.info;

  const { db, kind, close } = openDatabase(databaseUrl);
  await migrateToLatest(db, kind);
  const { specialistId, serviceIds } = await insertSpecialist(db, {
    slug: 'bench',
    name: 'Bench Specialist',
    email: 'bench@example.test',
    timeZone: 'UTC',
    minNoticeMinutes: 0,
    slotStepMinutes: 5,
    bookingHorizonDays: 3650,
    services: [{ title: 'Quick', durationMinutes: 5 }],
    weeklyHours: [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '00:00', end: '24:00' })),
    allowedOrigins: [BENCH_SITE_ORIGIN],
  });
  const zoom = createZoomClient({ clientId: e.clientId!, clientSecret: e.clientSecret!, oauthBaseUrl: e.url, apiBaseUrl: `${e.url}/v2`, redirectUri: 'http://localhost/oauth/zoom/callback' });
  const tokens = await zoom.exchangeCode(e.code!, e.codeVerifier!);
  const connections = createZoomConnectionStore({ db, clock: () => new Date(), cipher: createTokenCipher(key), zoom, logger: createLogger('silent') });
  await connections.saveAuthorization(specialistId, tokens, await zoom.getMe(tokens.accessToken));
  await close();

  const server = await spawnServer({
    DATABASE_URL: databaseUrl,
    DATA_DIR: dir,
    PORT: '0',
    SEED_DEMO: 'false',
    LOG_LEVEL: 'error',
    TOKEN_ENCRYPTION_KEY: key.toString('base64'),
    ZOOM_CLIENT_ID: e.clientId!,
    ZOOM_CLIENT_SECRET: e.clientSecret!,
    ZOOM_OAUTH_BASE_URL: e.url!,
    ZOOM_API_BASE_URL: `${e.url}/v2`,
    SMTP_URL: options.smtpUrl,
    // One load generator on one address: the limits count every request but never refuse one.
    BOOKINGS_PER_ADDRESS_PER_HOUR: '1000000000',
    BOOKINGS_PER_CUSTOMER_PER_DAY: '1000000000',
    BOOKINGS_PER_SPECIALIST_PER_DAY: '1000000000',
    SLOT_READS_PER_ADDRESS_PER_MINUTE: '1000000000',
  });
  return {
    url: server.url,
    serviceId: serviceIds[0]!,
    serverPid: server.child.pid!,
    close: async () => {
      if (PROFILE_DIR) {
        // A clean stop, so Node writes the CPU profile.
        server.child.kill('SIGTERM');
        await new Promise((resolve) => server.child.once('exit', resolve));
      } else {
        server.child.kill('SIGKILL');
      }
      emulator.child.kill('SIGKILL');
    },
  };
}

async function spawnServer(env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  const { spawn } = await import('node:child_process');
  const profile = PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', 'server/main.ts'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      const m = /running on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return { url, child };
}
