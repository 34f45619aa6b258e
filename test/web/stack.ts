/**
 * The server side of the widget tests: the whole stack as `npm start` runs
 * it, a proxy in front of it that can hold an answer back, and the commands
 * tests use to arrange both (specialists, Zoom state, held requests).
 */
import { join } from 'node:path';
import { createSession, SESSION_COOKIE } from '../../server/auth/sessions.js';
import { systemClock } from '../../server/clock.js';
import { loadConfig } from '../../server/config.js';
import { insertSpecialist } from '../../server/demo/seed.js';
import { embedSnippet } from '../../server/http/pages/embed-snippet.js';
import { startServer, type RunningServer } from '../../server/start.js';
import { waitForRoomInWindow } from '../node/helpers/fixtures.js';
import { startFlakyProxy, type FlakyProxy, type RecordedRequest } from '../node/helpers/flaky-proxy.js';
import { allowOnConsentPage, startConnectingZoom } from '../node/helpers/server.js';

/**
 * Limits the suite cannot reach from its one address, but for the one the
 * widget's rate_limited test fills: 5 bookings per customer per specialist
 * per UTC day (the default, named here so the test's count stays true).
 */
const SUITE_LIMITS = {
  BOOKINGS_PER_ADDRESS_PER_HOUR: '1000000',
  BOOKINGS_PER_CUSTOMER_PER_DAY: '5',
  BOOKINGS_PER_SPECIALIST_PER_DAY: '1000000',
  SLOT_READS_PER_ADDRESS_PER_MINUTE: '1000000',
};

export type Stack = RunningServer & { testOrigin: string; proxy: FlakyProxy };

export async function startStack(dir: string, testOrigin: string): Promise<Stack> {
  const server = await startServer(loadConfig({ PORT: '0', DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`, DATA_DIR: dir, LOG_LEVEL: 'silent', ...SUITE_LIMITS }), {
    outboxPollMs: 20,
  });
  return Object.assign(server, { testOrigin, proxy: await startFlakyProxy(server.url) });
}

let created = 0;
/** Lets go of the requests `hold-next-request` held. */
const releases: (() => void)[] = [];

/** The first request through the proxy whose path contains `path`, waiting up to 10 s for it. */
async function proxiedRequest(stack: Stack, path: string): Promise<RecordedRequest | undefined> {
  for (let i = 0; i < 200; i++) {
    const found = stack.proxy.requests.find((r) => r.path.includes(path));
    if (found) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
  return undefined;
}

export function stackCommands(stack: Stack): Record<string, (payload: Record<string, unknown>) => Promise<unknown>> {
  const db = stack.database.db;
  const zoom = stack.zoomEmulator!;
  return {
    /**
     * A fresh specialist whose site is the test page, named `name` (default
     * Rosa Martín); connected to Zoom unless `connected: false`; holding a
     * request that meets a dead token for `holdWindowMinutes` (default: the
     * column's, 24 h; 0 holds nothing). `proxiedApiBase` reaches the same
     * server through the proxy.
     */
    async 'create-specialist'(payload) {
      const slug = `spec-${++created}-${Date.now().toString(36)}`;
      const { specialistId, serviceIds } = await insertSpecialist(db, {
        slug,
        name: typeof payload.name === 'string' ? payload.name : 'Rosa Martín',
        email: `${slug}@example.test`,
        timeZone: 'Europe/Madrid',
        allowedOrigins: [stack.testOrigin],
        minNoticeMinutes: 0,
        services: [
          { title: 'Intro call', description: 'Free', durationMinutes: 30 },
          { title: 'Deep dive', durationMinutes: 60, priceCents: 9000, currency: 'EUR' },
        ],
        weeklyHours: [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '00:00', end: '24:00' })),
      });
      if (typeof payload.holdWindowMinutes === 'number') {
        await db.updateTable('specialists').set({ hold_window_minutes: payload.holdWindowMinutes }).where('id', '=', specialistId).execute();
      }
      let zoomUserId: string | undefined;
      if (payload.connected !== false) {
        const user = zoom.controls.addUser({ display_name: `Rosa ${slug}` });
        const { token } = await createSession(db, systemClock, specialistId);
        const cookie = `${SESSION_COOKIE}=${token}`;
        const back = await allowOnConsentPage(await startConnectingZoom(stack.url, cookie), user.id);
        await fetch(back, { headers: { cookie }, redirect: 'manual' });
        zoomUserId = user.id;
      }
      return { slug, specialistId, serviceIds, zoomUserId, apiBase: stack.url, proxiedApiBase: stack.proxy.url, email: `${slug}@example.test` };
    },
    /** The proxy holds the next request that reaches it until `release-held-requests`. */
    async 'hold-next-request'() {
      stack.proxy.faults.push({ kind: 'hold', release: new Promise<void>((resolve) => releases.push(resolve)) });
      return true;
    },
    /** The embed snippet as Settings and the booking page build it, for `serverUrl` (and a preselected `serviceId`). */
    async 'embed-snippet'(payload) {
      const serviceId = typeof payload.serviceId === 'string' ? payload.serviceId : undefined;
      return embedSnippet(String(payload.slug), { serverUrl: String(payload.serverUrl), ...(serviceId === undefined ? {} : { serviceId }) }).toString();
    },
    /** The requests that reached the proxy for this path, with any query or none, by method. */
    async 'proxied-requests'(payload) {
      return stack.proxy.requests.filter((r) => r.path.split('?')[0] === String(payload.path)).map((r) => r.method);
    },
    /** Whether a request whose path contains `path` reached the proxy (waits up to 10 s). */
    async 'wait-for-request'(payload) {
      return (await proxiedRequest(stack, String(payload.path))) !== undefined;
    },
    /**
     * Lets the held requests go on to the server, and answers whether the one
     * whose path contains `path` got its answer to the browser (false: the
     * browser had closed its connection, as an aborted fetch does).
     */
    async 'release-held-requests'(payload) {
      for (const release of releases.splice(0)) release();
      const request = await proxiedRequest(stack, String(payload.path));
      return request ? request.answered : undefined;
    },
    /** Waits until the current window of `windowMs` on the real clock has `marginMs` left (see waitForRoomInWindow). */
    async 'wait-for-room-in-window'(payload) {
      await waitForRoomInWindow(Number(payload.windowMs), Number(payload.marginMs));
      return true;
    },
    /** Zoom answers the next `count` API calls with `status`. */
    async 'fail-zoom'(payload) {
      zoom.controls.failNext(Number(payload.count), { status: Number(payload.status) });
      return true;
    },
    async 'revoke-zoom'(payload) {
      zoom.controls.revokeAllTokens(String(payload.zoomUserId));
      return true;
    },
    /** Books a slot over the API, as another customer would. */
    async 'book-directly'(payload) {
      const res = await fetch(`${stack.url}/api/v1/specialists/${payload.slug}/bookings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ serviceId: payload.serviceId, start: payload.start, customer: { name: 'Someone Else', email: 'else@example.test' } }),
      });
      return res.status;
    },
    /** A booking's stored status, or undefined when there is no such row. */
    async 'booking-status'(payload) {
      const row = await db.selectFrom('bookings').select('status').where('id', '=', String(payload.id)).executeTakeFirst();
      return row?.status;
    },
    async 'zoom-meetings'(payload) {
      return zoom.controls.meetings(payload.zoomUserId as string | undefined).length;
    },
    async 'emails-to'(payload) {
      // Up to 15 s for the outbox; after that the test's assertion shows what did arrive.
      for (let i = 0; i < 300; i++) {
        const found = stack.inbox!.messages().filter((m) => m.to.includes(String(payload.address)));
        if (found.length >= Number(payload.atLeast ?? 1)) return found.map((m) => m.subject);
        await new Promise((r) => setTimeout(r, 50));
      }
      return stack.inbox!.messages().filter((m) => m.to.includes(String(payload.address))).map((m) => m.subject);
    },
  };
}
