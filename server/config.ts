/**
 * The server's configuration: every environment variable it reads, validated
 * once at start. A wrong value stops the start with one line naming the
 * variable (see `ConfigError`).
 */
import { z } from 'zod';
import { parseTrustProxy, type TrustProxy } from './http/client-address.js';
import type { AbuseLimits } from './limits/index.js';

const booleanFlag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const httpUrl = z
  .url({ protocol: /^https?$/, message: 'must be an http(s) URL such as https://booking.example.com' })
  .transform((v) => v.replace(/\/+$/, ''));

/**
 * A whole number from `min` to `max`, with one message for every way it can
 * be wrong, e.g. "must be a whole number of seconds from 0 to 3600".
 */
function wholeNumber(min: number, max: number, unit?: string) {
  const message = `must be a whole number${unit === undefined ? '' : ` of ${unit}`} from ${min} to ${max}`;
  return z.coerce.number({ message }).int(message).min(min, message).max(max, message);
}
const port = () => wholeNumber(0, 65535);
/** A limit's count. */
const limitCount = (defaultValue: number) => wholeNumber(1, 1_000_000_000).default(defaultValue);

const EnvSchema = z.object({
  NODE_ENV: z.string().optional(),
  PORT: port().default(3000),
  HOST: z.string().min(1, 'must not be empty').default('127.0.0.1'),
  PUBLIC_URL: httpUrl.optional(),
  DATABASE_URL: z
    .string()
    .regex(/^(postgres(ql)?:\/\/.+|sqlite:.+|file:.+|[^:]+)$/i, 'must be postgres://… or sqlite:<path>')
    .optional(),
  SEED_DEMO: booleanFlag.optional(),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent'], { message: 'must be debug, info, warn, error or silent' }).default('info'),
  DATA_DIR: z.string().min(1).default('./data'),
  TOKEN_ENCRYPTION_KEY: z
    .string()
    .refine((v) => Buffer.from(v, 'base64').length === 32, 'must be 32 random bytes in base64 (openssl rand -base64 32)')
    .optional(),
  ZOOM_CLIENT_ID: z.string().optional(),
  ZOOM_CLIENT_SECRET: z.string().optional(),
  ZOOM_WEBHOOK_SECRET: z.string().optional(),
  ZOOM_OAUTH_BASE_URL: httpUrl.default('https://zoom.us'),
  ZOOM_API_BASE_URL: httpUrl.default('https://api.zoom.us/v2'),
  SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\/.+/, 'must be smtp://… or smtps://user:pass@host:port')
    .optional(),
  SMTP_INSECURE: booleanFlag.default(false),
  MAIL_FROM: z.string().min(3).optional(),
  EMAIL_SERVICE: z.enum(['gmail', 'smtp'], { message: 'must be gmail or smtp' }).optional(),
  GMAIL_USER: z.string().optional(),
  GMAIL_PASSWORD: z.string().optional(),
  LOCAL_SMTP_PORT: port().optional(),
  REAUTH_EMAIL_WINDOW_MINUTES: z.coerce
    .number({ message: 'must be a number of minutes from 1 to 10080' })
    .min(1, 'must be a number of minutes from 1 to 10080')
    .max(10080, 'must be a number of minutes from 1 to 10080')
    .default(60),
  TRUST_PROXY: z.string().optional(),
  SHUTDOWN_GRACE_SECONDS: wholeNumber(0, 3600, 'seconds').default(25),
  EMAIL_BODY_RETENTION_DAYS: wholeNumber(1, 3650, 'days').default(30),
  BOOKINGS_PER_ADDRESS_PER_HOUR: limitCount(20),
  BOOKINGS_PER_CUSTOMER_PER_DAY: limitCount(5),
  // Zoom allows 100 meeting creations and updates per user per UTC day; 20 are left for retries and the specialist's own meetings.
  BOOKINGS_PER_SPECIALIST_PER_DAY: limitCount(80),
  SLOT_READS_PER_ADDRESS_PER_MINUTE: limitCount(600),
  METRICS_TOKEN: z.string().min(32, 'must be at least 32 characters (openssl rand -hex 32)').optional(),
  ZOOM_EMULATOR_PORT: port().optional(),
  ZOOM_HEALTH_CHECK_HOURS: wholeNumber(1, 720, 'hours').default(6),
  ZOOM_HEALTH_CHECKS_PER_SECOND: wholeNumber(1, 100, 'checks').default(5),
  ZOOM_REFRESH_TOKEN_LIFETIME_DAYS: wholeNumber(1, 5475, 'days').default(90),
});

const DEMO_DATABASE_URL = 'sqlite:./data/specialist-booking.sqlite';

const SECRET_VARIABLES = new Set(['TOKEN_ENCRYPTION_KEY', 'ZOOM_CLIENT_SECRET', 'ZOOM_WEBHOOK_SECRET', 'DATABASE_URL', 'SMTP_URL', 'GMAIL_PASSWORD', 'METRICS_TOKEN']);

export interface Config {
  /** NODE_ENV=production: every real piece configured (see `missingForProduction`); no emulator, local inbox or demo. */
  isProduction: boolean;
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
  /** Where the demo keeps generated files (the encryption key). */
  dataDir: string;
  /** AES-256-GCM key for tokens at rest; unset means "generate one under dataDir" (demo only). */
  tokenEncryptionKey: Buffer | undefined;
  zoom: ZoomConfig;
  mail: MailConfig;
  /** The From of every email; default `specialist-booking <no-reply@host>` (Gmail: the Gmail address). */
  mailFrom: string | undefined;
  /** One re-auth email per specialist per this many ms. */
  reauthEmailWindowMs: number;
  /** Which proxies may name the client's address (limits, logs); default none: the socket's address. */
  trustProxy: TrustProxy;
  /** How long in-flight requests may run on after SIGTERM. */
  shutdownGraceMs: number;
  /** Bodies of sent emails are purged this long after they were sent; the rows stay. */
  emailBodyRetentionMs: number;
  /** The routine Zoom connection check (issue #17, server/zoom/health.ts). */
  zoomHealth: { checkIntervalMs: number; checksPerSecond: number; refreshTokenLifetimeMs: number };
  /** Booking and slot-read limits per address, customer and specialist. */
  limits: AbuseLimits;
  /** Bearer token that opens `/metrics` to callers off loopback or through a proxy; unset: direct loopback only. */
  metricsToken: string | undefined;
}

/**
 * Where email goes: an SMTP server by URL, Gmail (the original set-up's
 * EMAIL_SERVICE=gmail), or — with nothing configured — the demo's local
 * SMTP server and inbox page (default port: the server's port + 2).
 * `isInsecureAllowed` (SMTP_INSECURE=true) lets credentials go over plain
 * smtp:// when the server offers no STARTTLS.
 */
export type MailConfig = { mode: 'smtp'; url: string; isInsecureAllowed: boolean } | { mode: 'gmail'; user: string; password: string } | { mode: 'local'; port: number };

/**
 * Real Zoom when credentials are configured; otherwise the bundled emulator,
 * started on its own port (default: the server's port + 1, or any free port
 * when the server's port is 0).
 */
export type ZoomConfig =
  | { mode: 'zoom'; clientId: string; clientSecret: string; webhookSecret: string | undefined; oauthBaseUrl: string; apiBaseUrl: string }
  | { mode: 'emulator'; emulatorPort: number };

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
    // Never echo secrets (or URLs that may carry a password) into logs.
    throw new ConfigError(name, issue.message, SECRET_VARIABLES.has(variable) ? undefined : present[variable]);
  }
  const e = parsed.data;
  const isProduction = e.NODE_ENV === 'production';
  if (isProduction) {
    const missing = missingForProduction(e);
    if (missing.length > 0) throw new ConfigError('NODE_ENV=production', `also needs ${missing.join('; ')}`);
    if (e.SEED_DEMO === true) throw new ConfigError('SEED_DEMO', 'must not be true in production: the demo specialist is for the demo');
  }
  if (e.ZOOM_CLIENT_ID !== undefined && e.ZOOM_CLIENT_SECRET === undefined) {
    throw new ConfigError('ZOOM_CLIENT_SECRET', 'is required when ZOOM_CLIENT_ID is set');
  }
  if (e.ZOOM_CLIENT_SECRET !== undefined && e.ZOOM_CLIENT_ID === undefined) {
    throw new ConfigError('ZOOM_CLIENT_ID', 'is required when ZOOM_CLIENT_SECRET is set');
  }
  if (e.ZOOM_CLIENT_ID !== undefined && e.TOKEN_ENCRYPTION_KEY === undefined) {
    throw new ConfigError('TOKEN_ENCRYPTION_KEY', 'is required with real Zoom credentials (32 random bytes in base64: openssl rand -base64 32)');
  }
  const zoom: ZoomConfig =
    e.ZOOM_CLIENT_ID !== undefined
      ? {
          mode: 'zoom',
          clientId: e.ZOOM_CLIENT_ID,
          clientSecret: e.ZOOM_CLIENT_SECRET!,
          webhookSecret: e.ZOOM_WEBHOOK_SECRET,
          oauthBaseUrl: e.ZOOM_OAUTH_BASE_URL,
          apiBaseUrl: e.ZOOM_API_BASE_URL,
        }
      : { mode: 'emulator', emulatorPort: e.ZOOM_EMULATOR_PORT ?? (e.PORT === 0 ? 0 : e.PORT + 1) };
  if (e.EMAIL_SERVICE === 'gmail' && (e.GMAIL_USER === undefined || e.GMAIL_PASSWORD === undefined)) {
    throw new ConfigError(e.GMAIL_USER === undefined ? 'GMAIL_USER' : 'GMAIL_PASSWORD', 'is required when EMAIL_SERVICE=gmail');
  }
  if (e.EMAIL_SERVICE === 'smtp' && e.SMTP_URL === undefined) throw new ConfigError('SMTP_URL', 'is required when EMAIL_SERVICE=smtp');
  const mail: MailConfig =
    e.SMTP_URL !== undefined && e.EMAIL_SERVICE !== 'gmail'
      ? { mode: 'smtp', url: e.SMTP_URL, isInsecureAllowed: e.SMTP_INSECURE }
      : e.EMAIL_SERVICE === 'gmail'
        ? { mode: 'gmail', user: e.GMAIL_USER!, password: e.GMAIL_PASSWORD! }
        : { mode: 'local', port: e.LOCAL_SMTP_PORT ?? (e.PORT === 0 ? 0 : e.PORT + 2) };
  let trustProxy: TrustProxy;
  try {
    trustProxy = parseTrustProxy(e.TRUST_PROXY);
  } catch (error) {
    throw new ConfigError('TRUST_PROXY', (error as Error).message, e.TRUST_PROXY);
  }
  return {
    isProduction,
    port: e.PORT,
    host: e.HOST,
    publicUrl: e.PUBLIC_URL,
    databaseUrl: e.DATABASE_URL ?? DEMO_DATABASE_URL,
    seedDemo: e.SEED_DEMO ?? !isProduction,
    logLevel: e.LOG_LEVEL,
    dataDir: e.DATA_DIR,
    tokenEncryptionKey: e.TOKEN_ENCRYPTION_KEY === undefined ? undefined : Buffer.from(e.TOKEN_ENCRYPTION_KEY, 'base64'),
    zoom,
    mail,
    mailFrom: e.MAIL_FROM ?? (mail.mode === 'gmail' ? mail.user : undefined),
    reauthEmailWindowMs: e.REAUTH_EMAIL_WINDOW_MINUTES * 60_000,
    trustProxy,
    shutdownGraceMs: e.SHUTDOWN_GRACE_SECONDS * 1000,
    emailBodyRetentionMs: e.EMAIL_BODY_RETENTION_DAYS * 86_400_000,
    zoomHealth: {
      checkIntervalMs: e.ZOOM_HEALTH_CHECK_HOURS * 3_600_000,
      checksPerSecond: e.ZOOM_HEALTH_CHECKS_PER_SECOND,
      refreshTokenLifetimeMs: e.ZOOM_REFRESH_TOKEN_LIFETIME_DAYS * 86_400_000,
    },
    limits: {
      bookingsPerAddressPerHour: e.BOOKINGS_PER_ADDRESS_PER_HOUR,
      bookingsPerCustomerPerDay: e.BOOKINGS_PER_CUSTOMER_PER_DAY,
      bookingsPerSpecialistPerDay: e.BOOKINGS_PER_SPECIALIST_PER_DAY,
      slotReadsPerAddressPerMinute: e.SLOT_READS_PER_ADDRESS_PER_MINUTE,
    },
    metricsToken: e.METRICS_TOKEN,
  };
}

/**
 * What production lacks, one entry per missing piece: real Zoom, a mail
 * route, an https public URL, the encryption key and an explicit database.
 * Without them the server would quietly fall back to the emulator, the local
 * inbox (which shows every sign-in link), a generated key or a SQLite file.
 */
function missingForProduction(e: z.infer<typeof EnvSchema>): string[] {
  const missing: string[] = [];
  if (e.ZOOM_CLIENT_ID === undefined || e.ZOOM_CLIENT_SECRET === undefined) missing.push('ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET (real Zoom)');
  if (e.SMTP_URL === undefined && e.EMAIL_SERVICE !== 'gmail') missing.push('SMTP_URL or EMAIL_SERVICE=gmail (a mail route)');
  if (e.PUBLIC_URL === undefined || !e.PUBLIC_URL.startsWith('https://')) missing.push('PUBLIC_URL starting with https://');
  if (e.TOKEN_ENCRYPTION_KEY === undefined) missing.push('TOKEN_ENCRYPTION_KEY (openssl rand -base64 32)');
  if (e.DATABASE_URL === undefined) missing.push('DATABASE_URL');
  return missing;
}
