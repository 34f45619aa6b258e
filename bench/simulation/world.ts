/**
 * The simulation's world: the real server (`startServer`, SQLite, the local
 * inbox) on a clock the simulation moves, talking to a Zoom emulator on the
 * same clock, and the people in it: specialists who connect, lose and
 * re-authorize Zoom, and customers who book over HTTP.
 *
 * The server's own background tasks run on real timers, which an
 * accelerated clock would make race with the simulation. So they are not
 * started (`startBackground: false`), and their work (`server.work`: the
 * job worker, and in `hold` mode the health check) is run by hand, until
 * nothing is due, after every event and every step: as tests do with
 * `runDue()`. Runs with one seed are then reproducible.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSession, SESSION_COOKIE } from '../../server/auth/sessions.js';
import { loadConfig, type Config } from '../../server/config.js';
import { insertSpecialist } from '../../server/demo/seed.js';
import type { InboxMessage } from '../../server/email/local-inbox.js';
import { createLogger } from '../../server/logger.js';
import { startServer } from '../../server/start.js';
import { startZoomEmulator, type RunningZoomEmulator } from '../../server/zoom-emulator/index.js';
import { allowOnConsentPage, startConnectingZoom } from '../../test/node/helpers/server.js';
import type { DeathKind } from './scenario.js';

/** `release`: today's behaviour (no hold, no health check); `hold`: held requests and the health check. */
export type Mode = 'release' | 'hold';

/** Zoom's own lifetimes, which the emulator starts with. */
const ACCESS_TOKEN_SECONDS = 3599;
const REFRESH_TOKEN_SECONDS = 15 * 365 * 24 * 3600;
const MAIL_FROM = 'specialist-booking <no-reply@booking.test>';
export const MIN_NOTICE_MINUTES = 60;

export interface SimulatedSpecialist {
  id: string;
  slug: string;
  email: string;
  serviceId: string;
  zoomUserId: string;
}

/** What one customer's GET slots + POST booking came to. */
export type BookingAttempt =
  | { kind: 'confirmed'; bookingId: string; slotStart: string }
  | { kind: 'held'; bookingId: string; slotStart: string; holdExpiresAt: string }
  | { kind: 'released'; slotStart: string }
  | { kind: 'taken'; slotStart: string }
  | { kind: 'no_slot' }
  | { kind: 'error'; status: number; code: string };

/** How a specialist got back to Zoom's consent page. */
export type ReauthPath = 'email_link' | 'settings';

export interface World {
  mode: Mode;
  /** The simulated epoch (ms) at which the simulation starts. */
  startsAt: number;
  /** Now, on the simulated clock (ms since the epoch). */
  now(): number;
  /** Moves the clock forward to `at` (ms since the epoch). */
  moveTo(at: number): void;
  specialists: SimulatedSpecialist[];
  /** The re-auth emails' throttle window (REAUTH_EMAIL_WINDOW_MINUTES). */
  reauthEmailWindowMs: number;
  /** Runs the background work that is due (health check in `hold` mode, then every due job) until nothing is. */
  runDueWork(): Promise<void>;
  /** When background work is next due (a pending job, or in `hold` mode a connection's check), in ms since the epoch. */
  nextDueAt(): Promise<number>;
  /** The customer asks for slots, picks one at `slotPick` ∈ [0, 1) of the list, and books it. */
  book(specialist: SimulatedSpecialist, customer: { name: string; email: string }, slotPick: number, lookAheadDays: number): Promise<BookingAttempt>;
  /** Kills the specialist's Zoom token the given way. */
  kill(specialist: SimulatedSpecialist, kind: DeathKind): Promise<void>;
  /** The specialist re-authorizes: the newest emailed re-auth link, or the settings page if that link no longer leads to Zoom. */
  reauthorize(specialist: SimulatedSpecialist, emails: readonly InboxMessage[]): Promise<ReauthPath>;
  /** The connection's status in the database (`active`, `invalid`, `revoked`). */
  connectionStatus(specialist: SimulatedSpecialist): Promise<string>;
  /** Bookings' statuses by id. */
  bookingStatuses(ids: readonly string[]): Promise<Map<string, string>>;
  /** Messages the local inbox received since the last call. */
  newEmails(): InboxMessage[];
  close(): Promise<void>;
}

export interface WorldOptions {
  mode: Mode;
  specialists: number;
  startsAt: number;
  holdWindowMinutes: number;
  healthCheckHours: number;
  /** The health check's jitter source (seeded). */
  random: () => number;
}

/**
 * Starts the server and the emulator for one mode, seeds the specialists and
 * connects each to its own emulator user through the real OAuth flow.
 */
export async function startWorld(options: WorldOptions): Promise<World> {
  let nowMs = options.startsAt;
  const clock = () => new Date(nowMs);
  const dir = mkdtempSync(join(tmpdir(), 'sb-simulate-'));
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const emulator = await startZoomEmulator({ redirectUri: `${publicUrl}/oauth/zoom/callback`, clock });
  const encryptionKey = randomBytes(32).toString('base64');
  const config = simulationConfig({ dir, port, publicUrl, emulator, encryptionKey, healthCheckHours: options.healthCheckHours });
  const logger = createLogger('silent');
  // The simulation runs the background work by hand, on its clock (see the module's comment).
  const server = await startServer(config, { clock, logger, startBackground: false, random: options.random });
  const { db } = server.database;
  const { services } = server;
  const worker = server.work.jobs;
  const health = options.mode === 'hold' ? server.work.zoomHealth : undefined;

  const specialists: SimulatedSpecialist[] = [];
  for (let i = 0; i < options.specialists; i++) {
    const slug = `specialist-${i + 1}`;
    const email = `${slug}@specialists.test`;
    const { specialistId, serviceIds } = await insertSpecialist(
      db,
      {
        slug,
        name: `Specialist ${i + 1}`,
        email,
        timeZone: 'Europe/Berlin',
        minNoticeMinutes: MIN_NOTICE_MINUTES,
        bookingHorizonDays: 60,
        services: [{ title: 'Session', durationMinutes: 60 }],
        weeklyHours: [1, 2, 3, 4, 5].map((weekday) => ({ weekday, start: '09:00', end: '17:00' })),
      },
      clock(),
    );
    await db
      .updateTable('specialists')
      .set({ hold_window_minutes: options.mode === 'hold' ? options.holdWindowMinutes : 0 })
      .where('id', '=', specialistId)
      .execute();
    const user = emulator.controls.addUser({ email });
    const specialist = { id: specialistId, slug, email, serviceId: serviceIds[0]!, zoomUserId: user.id };
    await connectOnSettingsPage(specialist);
    specialists.push(specialist);
  }

  /** The signed-in specialist presses "Connect Zoom" (or "Re-authorize"), allows, and comes back. */
  async function connectOnSettingsPage(specialist: SimulatedSpecialist): Promise<void> {
    const cookie = `${SESSION_COOKIE}=${(await createSession(db, clock, specialist.id)).token}`;
    const callback = await allowOnConsentPage(await startConnectingZoom(server.url, cookie), specialist.zoomUserId);
    const back = await fetch(callback, { headers: { cookie }, redirect: 'manual' });
    if (!/^\/dashboard\?zoom=(connected|reauthorized)$/.test(back.headers.get('location') ?? '')) {
      throw new Error(`Zoom callback answered ${back.status} ${back.headers.get('location')}`);
    }
  }

  let lastEmailId = 0;
  return {
    mode: options.mode,
    startsAt: options.startsAt,
    now: () => nowMs,
    moveTo(at) {
      if (at < nowMs) throw new Error('the simulated clock only moves forward');
      nowMs = at;
    },
    specialists,
    reauthEmailWindowMs: config.reauthEmailWindowMs,
    async runDueWork() {
      for (;;) {
        let done = 0;
        if (health) for (let n = await health.runDue(); n > 0; n = await health.runDue()) done += n;
        for (let n = await worker.runDue(); n > 0; n = await worker.runDue()) done += n;
        if (done === 0) return;
      }
    },
    async nextDueAt() {
      const job = await db.selectFrom('jobs').select((eb) => eb.fn.min('run_after').as('at')).where('status', '=', 'pending').executeTakeFirst();
      const check = health
        ? await db.selectFrom('zoom_connections').select((eb) => eb.fn.min('health_check_due_at').as('at')).where('status', '=', 'active').executeTakeFirst()
        : undefined;
      return Math.min(...[job?.at, check?.at].map((at) => (typeof at === 'string' ? Date.parse(at) : Infinity)));
    },
    async book(specialist, customer, slotPick, lookAheadDays) {
      const from = Math.ceil(nowMs / 3_600_000) * 3_600_000;
      const range = new URLSearchParams({ from: new Date(from).toISOString(), to: new Date(from + lookAheadDays * 86_400_000).toISOString() });
      const listed = await fetch(`${server.url}/api/v1/specialists/${specialist.slug}/services/${specialist.serviceId}/slots?${range}`);
      if (listed.status !== 200) return { kind: 'error', status: listed.status, code: 'slots' };
      const { slots } = (await listed.json()) as { slots: { start: string }[] };
      if (slots.length === 0) return { kind: 'no_slot' };
      const slotStart = slots[Math.floor(slotPick * slots.length)]!.start;
      const answer = await fetch(`${server.url}/api/v1/specialists/${specialist.slug}/bookings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ serviceId: specialist.serviceId, start: slotStart, customer }),
      });
      const body = (await answer.json()) as { booking?: { id: string }; code?: string; hold?: { id: string; expiresAt: string } };
      if (answer.status === 201) return { kind: 'confirmed', bookingId: body.booking!.id, slotStart };
      if (body.code === 'requires_reauth') return body.hold ? { kind: 'held', bookingId: body.hold.id, slotStart, holdExpiresAt: body.hold.expiresAt } : { kind: 'released', slotStart };
      if (body.code === 'slot_taken') return { kind: 'taken', slotStart };
      return { kind: 'error', status: answer.status, code: body.code ?? 'unknown' };
    },
    async kill(specialist, kind) {
      if (kind === 'revoked') {
        emulator.controls.revokeAllTokens(specialist.zoomUserId);
      } else if (kind === 'deauthorized') {
        const delivered = await emulator.controls.sendDeauthorization(specialist.zoomUserId, `${server.url}/webhooks/zoom`);
        if (delivered.status !== 204) throw new Error(`the deauthorization webhook answered ${delivered.status}`);
      } else {
        // The refresh token the server holds runs out now: its last refresh (made
        // here, as a booking's would be) got a pair that lives one second.
        emulator.controls.setTokenLifetimes({ accessTokenSeconds: 1, refreshTokenSeconds: 1 });
        try {
          const current = await services.connections.getAccessToken(specialist.id);
          if (current.kind !== 'token') throw new Error(`specialist ${specialist.slug} had no live token to let expire`);
          const renewed = await services.connections.getAccessToken(specialist.id, { rejectedToken: current.accessToken });
          if (renewed.kind !== 'token') throw new Error(`the refresh before expiry failed: ${renewed.kind}`);
        } finally {
          emulator.controls.setTokenLifetimes({ accessTokenSeconds: ACCESS_TOKEN_SECONDS, refreshTokenSeconds: REFRESH_TOKEN_SECONDS });
        }
      }
    },
    async reauthorize(specialist, emails) {
      const linkPattern = new RegExp(`${publicUrl}/auth/link\\?token=[^\\s"<>]+`);
      const link = emails
        .filter((m) => m.to.includes(specialist.email) && m.subject.startsWith('⚠️'))
        .map((m) => linkPattern.exec(m.text)?.[0])
        .filter((l): l is string => l !== undefined)
        .at(-1);
      const toZoom = link ? await fetch(link, { redirect: 'manual' }) : undefined;
      const consentUrl = toZoom?.status === 302 ? toZoom.headers.get('location') : null;
      if (!consentUrl?.startsWith(emulator.url)) {
        await connectOnSettingsPage(specialist);
        return 'settings';
      }
      const callback = await fetch(await allowOnConsentPage(consentUrl, specialist.zoomUserId), { redirect: 'manual' });
      if (callback.status !== 200) throw new Error(`the re-auth callback answered ${callback.status}: ${await callback.text()}`);
      return 'email_link';
    },
    async connectionStatus(specialist) {
      const row = await db.selectFrom('zoom_connections').select('status').where('specialist_id', '=', specialist.id).executeTakeFirst();
      return row?.status ?? 'none';
    },
    async bookingStatuses(ids) {
      if (ids.length === 0) return new Map();
      const rows = await db.selectFrom('bookings').select(['id', 'status']).where('id', 'in', [...ids]).execute();
      return new Map(rows.map((r) => [r.id, r.status]));
    },
    newEmails() {
      const fresh = server.inbox!.messages().filter((m) => m.id > lastEmailId);
      lastEmailId = Math.max(lastEmailId, ...fresh.map((m) => m.id));
      return fresh;
    },
    async close() {
      await server.close();
      await emulator.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function simulationConfig(input: { dir: string; port: number; publicUrl: string; emulator: RunningZoomEmulator; encryptionKey: string; healthCheckHours: number }): Config {
  const unreached = '1000000000';
  return loadConfig({
    PORT: String(input.port),
    HOST: '127.0.0.1',
    PUBLIC_URL: input.publicUrl,
    DATABASE_URL: `sqlite:${join(input.dir, 'simulation.sqlite')}`,
    DATA_DIR: input.dir,
    SEED_DEMO: 'false',
    LOG_LEVEL: 'silent',
    TOKEN_ENCRYPTION_KEY: input.encryptionKey,
    ZOOM_CLIENT_ID: input.emulator.clientId,
    ZOOM_CLIENT_SECRET: input.emulator.clientSecret,
    ZOOM_WEBHOOK_SECRET: input.emulator.webhookSecret,
    ZOOM_OAUTH_BASE_URL: input.emulator.oauthBaseUrl,
    ZOOM_API_BASE_URL: input.emulator.apiBaseUrl,
    LOCAL_SMTP_PORT: '0',
    MAIL_FROM,
    ZOOM_HEALTH_CHECK_HOURS: String(input.healthCheckHours),
    // One address books for every simulated customer.
    BOOKINGS_PER_ADDRESS_PER_HOUR: unreached,
    BOOKINGS_PER_CUSTOMER_PER_DAY: unreached,
    BOOKINGS_PER_SPECIALIST_PER_DAY: unreached,
    SLOT_READS_PER_ADDRESS_PER_MINUTE: unreached,
  });
}

/** A port free right now, so the public URL (and Zoom's redirect URI) can name it before the server starts. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
