import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../server/logger.js';
import { createSlotReadLimiter, deleteExpiredLimits, hitRateLimits, type AbuseLimits } from '../../server/limits/index.js';
import { childEnv, startChildServer, type ChildServer } from './helpers/child-server.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from './helpers/databases.js';
import { bookingBody, createTestClock, fixedClock, NOW, seedSpecialist, waitForRoomInWindow } from './helpers/fixtures.js';
import { connectZoom, startTestServer, UNREACHED_LIMITS, type TestServer } from './helpers/server.js';

// NOW is Monday 06:00 UTC: the clock hour ends in 3600 s, the UTC day in 18 hours.
const SECONDS_TO_NEXT_HOUR = 3600;
const SECONDS_TO_NEXT_UTC_DAY = 18 * 3600;

describe.each(DATABASE_KINDS)('booking limits on %s', (kind) => {
  let database: TestDatabase;
  let server: TestServer | undefined;
  let serviceIds: string[];
  let annaId: string;
  let bertId: string;
  let bertServiceIds: string[];
  let slots: string[];
  const db = () => database.handle.db;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    ({ specialistId: annaId, serviceIds } = await seedSpecialist(db()));
    ({ specialistId: bertId, serviceIds: bertServiceIds } = await seedSpecialist(db(), { slug: 'bert', email: 'bert@example.test' }));
  });
  afterAll(async () => {
    await database?.destroy();
  });
  beforeEach(async () => {
    // Each test connects Zoom afresh on a new emulator: a Zoom user left from the last test would make that an account change, with its email.
    for (const table of ['booking_slot_claims', 'bookings', 'email_outbox', 'rate_limits', 'zoom_connections'] as const) await db().deleteFrom(table).execute();
    await db().updateTable('specialists').set({ last_zoom_user_id: null, last_zoom_email: null, last_zoom_display_name: null }).execute();
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function serve(limits: Partial<AbuseLimits>): Promise<TestServer> {
    server = await startTestServer({ db: db(), clock: fixedClock, limits: { ...UNREACHED_LIMITS, ...limits }, trustProxy: { kind: 'hops', hops: 1 } });
    await connectZoom(server, annaId);
    await connectZoom(server, bertId);
    const list = await (await fetch(`${server.url}/api/v1/specialists/anna/services/${serviceIds[0]}/slots`)).json();
    slots = list.slots.map((s: { start: string }) => s.start);
    return server;
  }

  const book = (url: string, start: string, customer: Record<string, unknown> = {}, headers: Record<string, string> = {}, slug = 'anna') =>
    fetch(`${url}/api/v1/specialists/${slug}/bookings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(bookingBody(slug === 'bert' ? bertServiceIds[0]! : serviceIds[0]!, start, customer)),
    });

  const counts = async () => {
    const count = async (table: 'bookings' | 'booking_slot_claims' | 'email_outbox') =>
      Number((await db().selectFrom(table).select(db().fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    return { bookings: await count('bookings'), claims: await count('booking_slot_claims'), outbox: await count('email_outbox'), meetings: server!.emulator.controls.meetings().length };
  };

  async function expectRateLimited(res: Response, retryAfterSeconds: number): Promise<void> {
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe(String(retryAfterSeconds));
    const body = await res.json();
    expect(body).toEqual({ success: false, code: 'rate_limited', message: expect.stringMatching(/^Too many booking attempts\. Please try again in \d+ (minutes|hours)\.$/), retryAfterSeconds });
  }

  it('per client address: over the limit is 429 with Retry-After, and nothing is written, queued or asked of Zoom', async () => {
    const { url } = await serve({ bookingsPerAddressPerHour: 2 });
    expect((await book(url, slots[0]!, { email: 'a@example.test' })).status).toBe(201);
    expect((await book(url, slots[2]!, { email: 'b@example.test' })).status).toBe(201);
    const before = await counts();
    expect(before).toEqual({ bookings: 2, claims: 12, outbox: 4, meetings: 2 });
    const refused = await book(url, slots[4]!, { email: 'c@example.test' });
    await expectRateLimited(refused, SECONDS_TO_NEXT_HOUR);
    expect(await counts()).toEqual(before);
    // Another address is counted apart.
    expect((await book(url, slots[4]!, { email: 'c@example.test' }, { 'x-forwarded-for': '198.51.100.7' })).status).toBe(201);
  });

  it('per client address, changes through the manage page and the API share one count, apart from bookings', async () => {
    const { url } = await serve({ bookingsPerAddressPerHour: 2 });
    const address = { 'x-forwarded-for': '203.0.113.50' };
    // Outside the default 24-hour cancellation window.
    const later = slots.filter((start) => Date.parse(start) >= NOW.getTime() + 25 * 3_600_000);
    const ids: string[] = [];
    for (const [i, start] of [later[0]!, later[2]!].entries()) {
      const res = await book(url, start, { email: `c${i}@example.test` }, address);
      expect(res.status).toBe(201);
      ids.push((await res.json()).booking.id);
    }
    const [first, second] = ids as [string, string];
    const tokenOf = (id: string) => server!.services.manageTokens.issue(id);
    const apiChange = (id: string, action: string, body: Record<string, string>, headers: Record<string, string>) =>
      fetch(`${url}/api/v1/bookings/${id}/${action}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ token: tokenOf(id), ...body }) });
    // The two bookings used up the address's bookings, not its changes.
    expect((await apiChange(first, 'reschedule', { start: later[4]! }, address)).status).toBe(200);
    const page = await fetch(`${url}/bookings/${second}/manage?token=${tokenOf(second)}`, { headers: address });
    const cookie = page.headers.get('set-cookie')!.split(';')[0]!;
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!;
    const postForm = (form: Record<string, string>) =>
      fetch(`${url}/bookings/${second}/manage/cancel`, {
        method: 'POST',
        headers: { ...address, cookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: csrf, token: tokenOf(second), ...form }),
        redirect: 'manual',
      });
    expect((await postForm({})).status).toBe(303);
    const before = await counts();
    const refused = await apiChange(first, 'cancel', {}, address);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe(String(SECONDS_TO_NEXT_HOUR));
    expect(await refused.json()).toEqual({ success: false, code: 'rate_limited', message: 'Too many changes to bookings. Please try again in 60 minutes.', retryAfterSeconds: SECONDS_TO_NEXT_HOUR });
    expect(await counts()).toEqual(before);
    expect((await db().selectFrom('bookings').select('status').where('id', '=', first).executeTakeFirstOrThrow()).status).toBe('confirmed');
    // Another address is counted apart.
    expect((await apiChange(first, 'cancel', {}, { 'x-forwarded-for': '198.51.100.7' })).status).toBe(200);
  });

  it('per client address counts an IPv6 /64 as one address', async () => {
    const { url } = await serve({ bookingsPerAddressPerHour: 1 });
    expect((await book(url, slots[0]!, { email: 'a@example.test' }, { 'x-forwarded-for': '2001:db8:1:2::a' })).status).toBe(201);
    await expectRateLimited(await book(url, slots[2]!, { email: 'b@example.test' }, { 'x-forwarded-for': '2001:db8:1:2:ffff::b' }), SECONDS_TO_NEXT_HOUR);
    expect((await book(url, slots[2]!, { email: 'b@example.test' }, { 'x-forwarded-for': '2001:db8:1:3::a' })).status).toBe(201);
  });

  it('per customer email with one specialist, whatever its case; other specialists count apart', async () => {
    const { url } = await serve({ bookingsPerCustomerPerDay: 1 });
    expect((await book(url, slots[0]!, { email: 'ada@example.test' })).status).toBe(201);
    const before = await counts();
    await expectRateLimited(await book(url, slots[2]!, { email: 'ADA@example.test' }, { 'x-forwarded-for': '198.51.100.8' }), SECONDS_TO_NEXT_UTC_DAY);
    expect(await counts()).toEqual(before);
    expect((await book(url, slots[2]!, { email: 'ada@example.test' }, {}, 'bert')).status).toBe(201);
  });

  it('per specialist per UTC day (below Zoom’s daily quota), whoever books', async () => {
    const { url } = await serve({ bookingsPerSpecialistPerDay: 2 });
    expect((await book(url, slots[0]!, { email: 'a@example.test' }, { 'x-forwarded-for': '198.51.100.1' })).status).toBe(201);
    expect((await book(url, slots[2]!, { email: 'b@example.test' }, { 'x-forwarded-for': '198.51.100.2' })).status).toBe(201);
    const before = await counts();
    await expectRateLimited(await book(url, slots[4]!, { email: 'c@example.test' }, { 'x-forwarded-for': '198.51.100.3' }), SECONDS_TO_NEXT_UTC_DAY);
    expect(await counts()).toEqual(before);
    expect((await book(url, slots[4]!, { email: 'c@example.test' }, {}, 'bert')).status).toBe(201);
  });

  it('counts neither a refused booking nor a taken slot, and not an idempotent replay', async () => {
    const { url } = await serve({ bookingsPerAddressPerHour: 2 });
    expect((await book(url, slots[0]!, { email: 'a@example.test' }, { 'idempotency-key': 'k1' })).status).toBe(201);
    expect((await book(url, slots[0]!, { email: 'a@example.test' }, { 'idempotency-key': 'k1' })).status).toBe(201);
    expect((await book(url, slots[0]!, { email: 'b@example.test' })).status).toBe(409);
    expect((await book(url, slots[2]!, { email: 'b@example.test' })).status).toBe(201);
    expect((await book(url, slots[4]!, { email: 'c@example.test' })).status).toBe(429);
    expect((await book(url, slots[4]!, { email: 'c@example.test' })).status).toBe(429);
    const row = await db().selectFrom('rate_limits').selectAll().where('bucket', 'like', 'booking:address:%').executeTakeFirstOrThrow();
    expect(row).toEqual({ bucket: 'booking:address:127.0.0.1', window_start: '2030-01-07T06:00:00.000Z', expires_at: '2030-01-07T07:00:00.000Z', hits: 2 });
  });

  it('refuses a NUL byte or a control character in a name, a bidi override in a note, and invisible separators and direction marks in both, with 400 naming the field', async () => {
    const { url } = await serve({});
    for (const [customer, path] of [
      [{ name: 'Ada\u0000 Lovelace' }, 'customer.name'],
      [{ name: 'Ada\u001b[31m' }, 'customer.name'],
      [{ name: 'Ada\nLovelace' }, 'customer.name'],
      [{ name: 'Ada \u202eecalevoL' }, 'customer.name'],
      [{ note: 'Hello\u2066 there' }, 'customer.note'],
      [{ note: 'Hello\u0000' }, 'customer.note'],
      // Invisible: line and paragraph separators, direction marks, the Arabic letter mark.
      ...['\u2028', '\u2029', '\u200e', '\u200f', '\u061c'].flatMap((c) => [
        [{ name: `Ada${c} Lovelace` }, 'customer.name'] as const,
        [{ note: `Hello${c} there` }, 'customer.note'] as const,
      ]),
    ] as const) {
      const res = await book(url, slots[0]!, customer);
      expect(res.status).toBe(400);
      const body = await res.json();
      expect(body.code).toBe('validation_failed');
      expect(body.errors).toEqual([{ path, message: expect.stringMatching(/cannot contain control characters/) }]);
    }
    expect(await counts()).toMatchObject({ bookings: 0, claims: 0, outbox: 0 });
    const res = await book(url, slots[0]!, { note: 'Line one\r\n\tLine two\nLine three' });
    expect(res.status).toBe(201);
    expect((await db().selectFrom('bookings').select('customer_note').executeTakeFirstOrThrow()).customer_note).toBe('Line one\r\n\tLine two\nLine three');
  });

  it('answers slot reads over the per-address limit with 429 and Retry-After, in the envelope', async () => {
    const { url } = await serve({ slotReadsPerAddressPerMinute: 3 });
    // serve() read once.
    const read = () => fetch(`${url}/api/v1/specialists/anna/services/${serviceIds[0]}/slots`, { headers: { origin: 'https://anna-coaching.example' } });
    expect((await read()).status).toBe(200);
    expect((await read()).status).toBe(200);
    const refused = await read();
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('60');
    expect(refused.headers.get('access-control-allow-origin')).toBe('https://anna-coaching.example');
    expect(refused.headers.get('access-control-expose-headers')).toContain('Retry-After');
    expect(await refused.json()).toEqual({
      success: false,
      code: 'rate_limited',
      message: 'Too many requests for free times from your connection. Please try again in 1 minute.',
      retryAfterSeconds: 60,
    });
  });
});

describe.each(DATABASE_KINDS)('limits in the database on %s', (kind) => {
  let database: TestDatabase;
  const db = () => database.handle.db;
  beforeAll(async () => {
    database = await createTestDatabase(kind);
  });
  afterAll(async () => {
    await database?.destroy();
  });

  it('counts windows aligned on the clock, starts over in the next, and deletes ended windows', async () => {
    const time = createTestClock(new Date('2030-01-07T06:59:30.000Z'));
    const limit = [{ bucket: 'test:a', limit: 2, windowMs: 3_600_000 }];
    expect(await hitRateLimits(db(), time.clock, limit)).toEqual({ isAllowed: true });
    expect(await hitRateLimits(db(), time.clock, limit)).toEqual({ isAllowed: true });
    expect(await hitRateLimits(db(), time.clock, limit)).toEqual({ isAllowed: false, retryAfterSeconds: 30 });
    time.advance(30_000);
    expect(await hitRateLimits(db(), time.clock, limit)).toEqual({ isAllowed: true });
    await hitRateLimits(db(), time.clock, [{ bucket: 'test:day', limit: 5, windowMs: 86_400_000 }]);
    expect(await deleteExpiredLimits(db(), new Date('2030-01-07T07:59:59.999Z'))).toBe(0);
    expect(await deleteExpiredLimits(db(), new Date('2030-01-07T08:00:00.000Z'))).toBe(1);
    expect((await db().selectFrom('rate_limits').select('bucket').execute()).map((r) => r.bucket)).toEqual(['test:day']);
  });

  it('a refused hit on one limit counts on none of them', async () => {
    const clock = () => new Date(NOW);
    const limits = [
      { bucket: 'test:both:x', limit: 10, windowMs: 60_000 },
      { bucket: 'test:both:y', limit: 1, windowMs: 60_000 },
    ];
    expect((await hitRateLimits(db(), clock, limits)).isAllowed).toBe(true);
    expect((await hitRateLimits(db(), clock, limits)).isAllowed).toBe(false);
    const rows = await db().selectFrom('rate_limits').select(['bucket', 'hits']).where('bucket', 'like', 'test:both:%').orderBy('bucket').execute();
    expect(rows).toEqual([
      { bucket: 'test:both:x', hits: 1 },
      { bucket: 'test:both:y', hits: 1 },
    ]);
  });

  it('slot reads are counted in memory and shared in batches: two processes learn each other’s counts', async () => {
    const time = createTestClock(NOW);
    const options = { db: db(), clock: time.clock, logger: createLogger('silent'), limit: 10, shareEveryMs: 1000 };
    const one = createSlotReadLimiter(options);
    const two = createSlotReadLimiter(options);
    for (let i = 0; i < 4; i++) expect(one.hit('203.0.113.9')).toBeUndefined();
    await one.share();
    for (let i = 0; i < 4; i++) expect(two.hit('203.0.113.9')).toBeUndefined();
    await two.share();
    // two has learnt of one's 4: 8 so far, room for 2.
    expect(two.hit('203.0.113.9')).toBeUndefined();
    expect(two.hit('203.0.113.9')).toBeUndefined();
    expect(two.hit('203.0.113.9')).toBe(60);
    await two.share();
    // one knows only its own 4 until it shares: the slack of one read here.
    expect(one.hit('203.0.113.9')).toBeUndefined();
    await one.share();
    expect(one.hit('203.0.113.9')).toBe(60);
    expect(one.hit('198.51.100.1')).toBeUndefined();
    const row = await db().selectFrom('rate_limits').select('hits').where('bucket', '=', 'slots:address:203.0.113.9').executeTakeFirstOrThrow();
    expect(row.hits).toBe(11);
    // The next minute starts over.
    time.advance(60_000);
    expect(one.hit('203.0.113.9')).toBeUndefined();
  });

  it('a reader over the slot-read limit stays limited while 20,000 other addresses read', async () => {
    const time = createTestClock(NOW);
    const limiter = createSlotReadLimiter({ db: db(), clock: time.clock, logger: createLogger('silent'), limit: 5 });
    for (let i = 0; i < 5; i++) expect(limiter.hit('2001:db8:1:1::/64')).toBeUndefined();
    expect(limiter.hit('2001:db8:1:1::/64')).toBe(60);
    // An attacker with a /48 rotates through its /64s, more of them than the limiter keeps (10,000).
    const refusals: (number | undefined)[] = [];
    for (let i = 0; i < 20_000; i++) {
      expect(limiter.hit(`2001:db8:2:${i.toString(16)}::/64`)).toBeUndefined();
      if (i % 100 === 99) refusals.push(limiter.hit('2001:db8:1:1::/64'));
    }
    expect(refusals).toEqual(Array(200).fill(60));
  });
});

// Two server processes on one database count into the same buckets.
describe.each(DATABASE_KINDS.filter((k) => k === 'postgres'))('booking limits across two processes on %s', (kind) => {
  let database: TestDatabase;
  let server: TestServer;
  let child: ChildServer | undefined;
  const db = () => database.handle.db;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
  });
  afterAll(async () => {
    await child?.stop();
    await server?.close();
    await database?.destroy();
  });

  it('refuses the booking over the per-address limit on whichever process gets it, and writes nothing', async () => {
    const { specialistId, serviceIds } = await seedSpecialist(db());
    server = await startTestServer({ db: db(), clock: () => new Date(), limits: { ...UNREACHED_LIMITS, bookingsPerAddressPerHour: 3 } });
    await connectZoom(server, specialistId);
    child = await startChildServer(childEnv(database.url, server));
    const list = await (await fetch(`${server.url}/api/v1/specialists/anna/services/${serviceIds[0]}/slots`)).json();
    const starts: string[] = list.slots.map((s: { start: string }) => s.start);
    const urls = [server.url, child.url, server.url, child.url, server.url];
    // The limit counts per clock hour, and both processes run on the real clock.
    await waitForRoomInWindow(3_600_000);
    const statuses: number[] = [];
    for (const [i, url] of urls.entries()) {
      const res = await fetch(`${url}/api/v1/specialists/anna/bookings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(bookingBody(serviceIds[0]!, starts[i * 2]!, { email: `p${i}@example.test` })),
      });
      statuses.push(res.status);
      if (res.status === 429) expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    expect(statuses).toEqual([201, 201, 201, 429, 429]);
    expect((await db().selectFrom('bookings').select('id').execute()).length).toBe(3);
    expect((await db().selectFrom('email_outbox').select('id').execute()).length).toBe(6);
    expect(server.emulator.controls.meetings()).toHaveLength(3);
  }, 90_000); // may first wait up to 20 s for the next hour
});
