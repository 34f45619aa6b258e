/**
 * `/metrics` scraped over real HTTP after a burst of bookings against the
 * real server, database and Zoom emulator: the text format parsed, the
 * counts checked exactly; and who may read it.
 */
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS, useTestDatabase } from './helpers/databases.js';
import { bookingBody, createTestClock, NOW, seedSpecialist } from './helpers/fixtures.js';
import { rawGet } from './helpers/raw-http.js';
import { connectZoom, startTestServer, type TestServer } from './helpers/server.js';

const TOKEN = 'metrics-token-0123456789abcdefghijklmnopqrstuvwxyz';
const BOOKINGS = '/api/v1/specialists/:slug/bookings';

/** An address of this machine other than loopback, to call from a socket that is not loopback. */
const outsideAddress = Object.values(networkInterfaces())
  .flat()
  .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address;

/** Prometheus' text format as `name{label="value",…}` → value, labels sorted by name. */
function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`Not a sample line: ${line}`);
    const labels = [...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => `${k}="${v}"`).sort();
    samples.set(labels.length ? `${match[1]}{${labels.join(',')}}` : match[1]!, Number(match[3]));
  }
  return samples;
}

/** A sample's key as `parseMetrics` writes it. */
const key = (name: string, labels: Record<string, string> = {}) => {
  const sorted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).sort();
  return sorted.length ? `${name}{${sorted.join(',')}}` : name;
};

describe.each(DATABASE_KINDS)('/metrics on %s', (kind) => {
  const database = useTestDatabase(kind);
  const db = () => database().handle.db;
  const time = createTestClock(NOW);
  let server: TestServer;
  let serviceId: string;
  let zoomUserId: string;
  let samples: Map<string, number>;

  const book = (start: string) =>
    fetch(`${server.url}/api/v1/specialists/anna/bookings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(bookingBody(serviceId, start, { email: customerEmail(start) })),
    });
  const customerEmail = (start: string) => `c-${start.slice(11, 16).replace(':', '')}@example.test`;
  const slot = (hourUtc: number, minute = 0) => new Date(Date.UTC(2030, 0, 7, hourUtc, minute)).toISOString();
  const get = (name: string, labels?: Record<string, string>) => samples.get(key(`specialist_booking_${name}`, labels));

  beforeAll(async () => {
    const { specialistId, serviceIds } = await seedSpecialist(db());
    serviceId = serviceIds[0]!;
    // Every address, so the test can also come in from one that is not loopback.
    server = await startTestServer({ db: db(), clock: time.clock, hostname: '0.0.0.0', metricsToken: TOKEN });
    zoomUserId = await connectZoom(server, specialistId);

    // The burst: four bookings at once on four free slots, and two more on a slot already taken.
    const burst = await Promise.all([8, 9, 10].map((h) => book(slot(h))).concat(book(slot(9, 30))));
    expect(burst.map((r) => r.status)).toEqual([201, 201, 201, 201]);
    const taken = await Promise.all([book(slot(9)), book(slot(10))]);
    expect(await Promise.all(taken.map(async (r) => [r.status, (await r.json()).code]))).toEqual([
      [409, 'slot_taken'],
      [409, 'slot_taken'],
    ]);
    // An access token that expires: one refresh, then a confirmed booking.
    await db().updateTable('zoom_connections').set({ access_token_expires_at: new Date(NOW.getTime() - 1000).toISOString() }).execute();
    server.emulator.controls.expireAccessTokens(zoomUserId);
    expect((await book(slot(10, 30))).status).toBe(201);
    // Zoom failing: every attempt (4) answers 503.
    server.emulator.controls.failNext(4, { status: 503 });
    const unavailable = await book(slot(12));
    expect([unavailable.status, (await unavailable.json()).code]).toEqual([503, 'zoom_unavailable']);
    // Tokens revoked in Zoom: the create answers 401, the refresh invalid_grant; then the connection is known invalid.
    server.emulator.controls.revokeAllTokens(zoomUserId);
    for (const hour of [13, 14]) {
      const res = await book(slot(hour));
      expect([res.status, (await res.json()).code]).toEqual([409, 'requires_reauth']);
    }
    // A bad request, a slot list, a page and a path that does not exist.
    expect((await fetch(`${server.url}/api/v1/specialists/anna/bookings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' })).status).toBe(400);
    expect((await fetch(`${server.url}/api/v1/specialists/anna/services/${serviceId}/slots?from=${slot(0)}&to=${slot(23)}`)).status).toBe(200);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.url}/no/such/page`)).status).toBe(404);

    const givenUp = await db().selectFrom('email_outbox').select('id').where('to_address', '=', customerEmail(slot(9))).execute();
    await db().updateTable('email_outbox').set({ status: 'failed' }).where('to_address', '=', customerEmail(slot(9))).execute();
    await db()
      .updateTable('jobs')
      .set({ status: 'failed' })
      .where('dedupe_key', 'in', givenUp.map((row) => `email:${row.id}`))
      .execute();
    time.advance(90_000);
    const scraped = await fetch(`${server.url}/metrics`);
    expect(scraped.status).toBe(200);
    expect(scraped.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    samples = parseMetrics(await scraped.text());
  });
  afterAll(async () => {
    await server?.close();
  });

  it('counts booking outcomes from the answers, by code', () => {
    expect(get('bookings_total', { outcome: 'confirmed' })).toBe(5);
    expect(get('bookings_total', { outcome: 'slot_taken' })).toBe(2);
    expect(get('bookings_total', { outcome: 'zoom_unavailable' })).toBe(1);
    expect(get('bookings_total', { outcome: 'requires_reauth' })).toBe(2);
    expect(get('bookings_total', { outcome: 'invalid_json' })).toBe(1);
    // Present before the first one happens.
    expect(get('bookings_total', { outcome: 'rate_limited' })).toBe(0);
  });

  it('counts requests by route pattern and status, API and site', () => {
    expect(get('http_requests_total', { route: BOOKINGS, status: '201' })).toBe(5);
    expect(get('http_requests_total', { route: BOOKINGS, status: '409' })).toBe(4);
    expect(get('http_requests_total', { route: BOOKINGS, status: '503' })).toBe(1);
    expect(get('http_requests_total', { route: BOOKINGS, status: '400' })).toBe(1);
    expect(get('http_requests_total', { route: '/api/v1/specialists/:slug/services/:serviceId/slots', status: '200' })).toBe(1);
    expect(get('http_requests_total', { route: '/healthz', status: '200' })).toBe(1);
    expect(get('http_requests_total', { route: '/settings/zoom/connect', status: '303' })).toBe(1);
    expect(get('http_requests_total', { route: '/oauth/zoom/callback', status: '303' })).toBe(1);
    expect(get('http_requests_total', { route: 'unmatched', status: '404' })).toBe(1);
    // No raw path becomes a label.
    expect([...samples.keys()].filter((k) => k.includes('/anna/') || k.includes('/no/such'))).toEqual([]);
  });

  it('times Zoom calls and counts their errors by kind, and token refreshes', () => {
    // Creates: 5 confirmed, 4 answered 503, 1 answered 401 (the second reauth booking never reaches Zoom).
    expect(get('zoom_request_duration_seconds_count', { operation: 'create_meeting' })).toBe(10);
    expect(get('zoom_request_duration_seconds_count', { operation: 'token_exchange' })).toBe(1);
    expect(get('zoom_request_duration_seconds_count', { operation: 'get_me' })).toBe(1);
    expect(get('zoom_errors_total', { operation: 'create_meeting', kind: '5xx' })).toBe(4);
    expect(get('zoom_errors_total', { operation: 'create_meeting', kind: '401' })).toBe(1);
    expect(get('zoom_errors_total', { operation: 'token_refresh', kind: '4xx' })).toBe(1);
    expect(get('zoom_token_refreshes_total', { outcome: 'success' })).toBe(1);
    expect(get('zoom_token_refreshes_total', { outcome: 'failure' })).toBe(1);
  });

  it('reads the re-auth and outbox gauges from the database at scrape time', async () => {
    const outbox = await db().selectFrom('email_outbox').select('status').execute();
    const pending = outbox.filter((r) => r.status === 'pending').length;
    expect(pending).toBeGreaterThan(0);
    expect(get('zoom_connections_needing_reauth')).toBe(1);
    expect(get('outbox_pending')).toBe(pending);
    expect(get('outbox_failed')).toBe(outbox.length - pending);
    expect(get('outbox_failed')).toBeGreaterThan(0);
    expect(get('outbox_oldest_pending_age_seconds')).toBe(90);
  });

  it('reads the background jobs waiting and given up on, by kind', async () => {
    const jobs = await db().selectFrom('jobs').select(['kind', 'status']).execute();
    // Email, the meeting clean-up of the failed bookings, the confirmed bookings' reminders (issue #16), and the
    // held request of the booking that met a dead token (issue #17).
    expect(new Set(jobs.map((job) => job.kind))).toEqual(new Set(['email.send', 'zoom.delete-booking-meetings', 'email.booking-reminder', 'bookings.held-request']));
    const count = (kind: string, status: string) => jobs.filter((job) => job.kind === kind && job.status === status).length;
    // A kind with no job in a status has no sample for it.
    const sampleOf = (n: number) => (n === 0 ? undefined : n);
    expect(count('email.send', 'failed')).toBe(1);
    expect(count('email.booking-reminder', 'pending')).toBeGreaterThan(0);
    for (const kind of new Set(jobs.map((job) => job.kind))) {
      expect([kind, get('jobs_pending', { kind })]).toEqual([kind, sampleOf(count(kind, 'pending'))]);
      expect([kind, get('jobs_failed', { kind })]).toEqual([kind, sampleOf(count(kind, 'failed'))]);
    }
  });

  /** Asserts who gets /metrics at `url`, with `headers` on every request: 404 without the right token, 200 with it. */
  async function expectTokenNeeded(url: string, headers: Record<string, string> = {}) {
    const refused = await fetch(url, { headers });
    expect(refused.status).toBe(404);
    expect(await refused.json()).toEqual({ success: false, code: 'not_found', message: 'There is no GET /metrics endpoint.' });
    expect((await fetch(url, { headers: { ...headers, authorization: `Bearer ${TOKEN}x` } })).status).toBe(404);
    expect((await fetch(url, { headers: { ...headers, authorization: TOKEN } })).status).toBe(404);
    const allowed = await fetch(url, { headers: { ...headers, authorization: `Bearer ${TOKEN}` } });
    expect(allowed.status).toBe(200);
    expect(await allowed.text()).toContain('# TYPE specialist_booking_bookings_total counter');
  }

  // A reverse proxy on this machine connects from loopback; its headers say the client is elsewhere.
  it('refuses a forwarded request from loopback without the token with 404; the bearer token opens it', async () => {
    for (const headers of [{ 'x-forwarded-for': '203.0.113.9' }, { 'x-real-ip': '203.0.113.9' }, { forwarded: 'for=203.0.113.9' }, { 'x-forwarded-host': 'booking.example.com' }] as Record<string, string>[]) {
      await expectTokenNeeded(`${server.url}/metrics`, headers);
    }
  });

  // The scrape above came from loopback; this needs an address of the machine that is not.
  it.skipIf(outsideAddress === undefined)('refuses a caller off loopback without the token with 404; the bearer token opens it', async () => {
    const outside = `http://${outsideAddress}:${new URL(server.url).port}/metrics`;
    await expectTokenNeeded(outside);
    // A forwarded header does not make a caller loopback: the socket's peer decides.
    expect((await fetch(outside, { headers: { 'x-forwarded-for': '127.0.0.1' } })).status).toBe(404);
    // Nor does a loopback Host.
    expect((await rawGet(outside, { host: 'localhost' })).status).toBe(404);
  });
});
