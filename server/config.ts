/**
 * The server's configuration: every environment variable it reads, validated
 * once at start. A wrong value stops the start with one line naming the
 * variable (see `ConfigError`).
 */
import { z } from 'zod';

const booleanFlag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const httpUrl = z
  .url({ protocol: /^https?$/, message: 'must be an http(s) URL such as https://booking.example.com' })
  .transform((v) => v.replace(/\/+$/, ''));

const EnvSchema = z.object({
  PORT: z.coerce
    .number({ message: 'must be a whole number from 0 to 65535' })
    .int('must be a whole number from 0 to 65535')
    .min(0, 'must be a whole number from 0 to 65535')
    .max(65535, 'must be a whole number from 0 to 65535')
    .default(3000),
  HOST: z.string().min(1, 'must not be empty').default('127.0.0.1'),
  PUBLIC_URL: httpUrl.optional(),
  DATABASE_URL: z
    .string()
    .regex(/^(postgres(ql)?:\/\/.+|sqlite:.+|file:.+|[^:]+)$/i, 'must be postgres://… or sqlite:<path>')
    .default('sqlite:./data/specialist-booking.sqlite'),
  SEED_DEMO: booleanFlag.default(true),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent'], { message: 'must be debug, info, warn, error or silent' }).default('info'),
});

export interface Config {
  port: number;
  host: string;
  /**
   * Base of every link the server hands out; no trailing slash. Unset means
   * `http://localhost:<the port actually bound>`.
   */
  publicUrl: string | undefined;
  databaseUrl: string;
  seedDemo: boolean;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly variable: string,
    detail: string,
    received?: string,
  ) {
    super(`Configuration error: ${variable} ${detail}${received === undefined ? '' : ` (got ${JSON.stringify(received)})`}.`);
  }
}

/**
 * Reads and validates the configuration from an environment.
 * `FRONTEND_URL` is accepted as an alias of `PUBLIC_URL`; empty strings count
 * as unset.
 *
 * @throws ConfigError naming the first wrong variable.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  if (present.PUBLIC_URL === undefined && present.FRONTEND_URL !== undefined) present.PUBLIC_URL = present.FRONTEND_URL;
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const variable = String(issue.path[0]);
    const name = variable === 'PUBLIC_URL' && env.PUBLIC_URL === undefined ? 'FRONTEND_URL' : variable;
    throw new ConfigError(name, issue.message, present[variable]);
  }
  const e = parsed.data;
  return {
    port: e.PORT,
    host: e.HOST,
    publicUrl: e.PUBLIC_URL,
    databaseUrl: e.DATABASE_URL,
    seedDemo: e.SEED_DEMO,
    logLevel: e.LOG_LEVEL,
  };
}
