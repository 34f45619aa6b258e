import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestServer } from './server.js';

export const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface ChildServer {
  url: string;
  process: ChildProcess;
  /** Everything the process wrote, for assertions and failure messages. */
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** How `npm start` runs the server (from source, through tsx), and how `npm run start:production` does (built, from dist/). */
export const SERVER_COMMANDS = {
  source: ['--import', 'tsx', 'server/main.ts'],
  compiled: ['dist/server/main.js'],
} as const;

/** Runs the server in its own process, as `npm start` does (or from dist/), and waits for its URL. */
export async function startChildServer(env: Record<string, string>, entry: keyof typeof SERVER_COMMANDS = 'source'): Promise<ChildServer> {
  const child = spawn(process.execPath, SERVER_COMMANDS[entry], {
    cwd: PROJECT_ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      PORT: '0',
      LOG_LEVEL: 'warn',
      DATA_DIR: mkdtempSync(join(tmpdir(), 'sb-data-')),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 20_000);
    const check = () => {
      const match = /running on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', check);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`server exited before it started:\n${output}`));
    });
  });
  return {
    url,
    process: child,
    output: () => output,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Environment for a second server process sharing the database, the emulator, the encryption key and the limits. */
export function childEnv(databaseUrl: string, server: TestServer): Record<string, string> {
  const { limits } = server.core;
  return {
    BOOKINGS_PER_ADDRESS_PER_HOUR: String(limits.bookingsPerAddressPerHour),
    BOOKINGS_PER_CUSTOMER_PER_DAY: String(limits.bookingsPerCustomerPerDay),
    BOOKINGS_PER_SPECIALIST_PER_DAY: String(limits.bookingsPerSpecialistPerDay),
    SLOT_READS_PER_ADDRESS_PER_MINUTE: String(limits.slotReadsPerAddressPerMinute),
    DATABASE_URL: databaseUrl,
    SEED_DEMO: 'false',
    TOKEN_ENCRYPTION_KEY: server.encryptionKey,
    ZOOM_CLIENT_ID: server.emulator.clientId,
    ZOOM_CLIENT_SECRET: server.emulator.clientSecret,
    ZOOM_WEBHOOK_SECRET: server.emulator.webhookSecret,
    ZOOM_OAUTH_BASE_URL: server.emulator.oauthBaseUrl,
    ZOOM_API_BASE_URL: server.emulator.apiBaseUrl,
  };
}

