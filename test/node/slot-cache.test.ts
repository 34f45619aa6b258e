import { randomUUID } from 'node:crypto';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimBlocks, createSlotLister, listFreeSlots, markAvailabilityChanged } from '../../server/availability/index.js';
import { replaceWeeklyHours, setServiceActive, updateProfile, updateService } from '../../server/specialists/settings.js';
import { DATABASE_KINDS, useTestDatabase } from './helpers/databases.js';
import { bookingBody, createTestClock, createTestMonotonicClock, fixedClock, FREE_SLOT, NOW, seedSpecialist } from './helpers/fixtures.js';
import { rawGet } from './helpers/raw-http.js';
import { connectZoom, startTestServer, type TestServer } from './helpers/server.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const iso = (ms: number) => new Date(ms).toISOString();
const starts = (list: { slots: { start: string }[] }) => list.slots.map((s) => s.start);

let slugCounter = 0;
const nextSlug = () => `cache-${++slugCounter}`;

describe.each(DATABASE_KINDS)('cached slot lists on %s', (kind) => {
  const database = useTestDatabase(kind);
  const db = () => database().handle.db;


  /** A specialist of its own per test, and a question about Monday and Tuesday. */
  async function setUp(overrides: Parameters<typeof seedSpecialist>[1] = {}) {
    const slug = nextSlug();
    const { specialistId, serviceIds } = await seedSpecialist(db(), { slug, email: `${slug}@example.test`, ...overrides });
    const question = { slug, serviceId: serviceIds[0]!, from: iso(NOW.getTime()), to: iso(NOW.getTime() + 2 * DAY) };
    return { slug, specialistId, serviceIds, question };
  }

  /** A pending booking's row, which its claims point at. */
  function pendingBooking(specialistId: string, serviceId: string, start: string) {
    const end = iso(Date.parse(start) + 30 * 60_000);
    const now = NOW.toISOString();
    return {
      id: randomUUID(), specialist_id: specialistId, service_id: serviceId, customer_name: 'Carla', customer_email: 'carla@example.test',
      customer_note: null, customer_time_zone: null, start_at: start, end_at: end, status: 'pending' as const, zoom_meeting_id: null,
      zoom_join_url: null, zoom_start_url_enc: null, idempotency_key: null, request_fingerprint: 'test', meeting_lock_until: null,
      meeting_requested_at: null, created_at: now, updated_at: now,
    };
  }

  /** Books a 30-minute slot's claims in one transaction; `note` marks the change for this process as the domain does. */
  async function claim(specialistId: string, serviceId: string, start: string, how: 'this process' | 'another process') {
    const booking = pendingBooking(specialistId, serviceId, start);
    await db().transaction().execute(async (trx) => {
      await trx.insertInto('bookings').values(booking).execute();
      await trx
        .insertInto('booking_slot_claims')
        .values(claimBlocks(Date.parse(booking.start_at), Date.parse(booking.end_at)).map((block_start) => ({ specialist_id: specialistId, block_start, booking_id: booking.id })))
        .execute();
      // Another server process runs the same statement; only its own process hears of the change.
      if (how === 'this process') await markAvailabilityChanged(trx, specialistId);
      else await sql`update specialists set availability_version = availability_version + 1 where id = ${specialistId}`.execute(trx);
    });
  }

  it('answers a repeated question with the same object, equal to a fresh computation', async () => {
    const { question } = await setUp();
    const lister = createSlotLister({ db: db(), clock: fixedClock });
    const first = await lister.list(question);
    expect(await lister.list(question)).toBe(first);
    expect(first).toEqual(await listFreeSlots({ db: db(), clock: fixedClock }, question));
    expect(starts(first)).toContain(FREE_SLOT);
  });

  it('peeks at a held answer without the database: the same object while fresh, nothing once a change is noted', async () => {
    const { question, specialistId, serviceIds } = await setUp();
    const lister = createSlotLister({ db: db(), clock: fixedClock }, { recheckMs: 60_000 });
    expect(lister.peek(question)).toBeUndefined();
    const first = await lister.list(question);
    expect(lister.peek(question)).toBe(first);
    expect(lister.peek({ slug: question.slug, serviceId: question.serviceId })).toBeUndefined();
    expect(() => lister.peek({ ...question, to: question.from })).toThrow(expect.objectContaining({ code: 'validation_failed' }));
    await claim(specialistId, serviceIds[0]!, FREE_SLOT, 'this process');
    expect(lister.peek(question)).toBeUndefined();
    const after = await lister.list(question);
    expect(starts(after)).not.toContain(FREE_SLOT);
    // For recheckMs after a local change every answer is checked against the database, so peek stays out of it.
    expect(lister.peek(question)).toBeUndefined();
  });

  it('finds the same answer for a frozen question and an equal open one, and re-reads an open question that was changed', async () => {
    const { question } = await setUp();
    const lister = createSlotLister({ db: db(), clock: fixedClock }, { recheckMs: 60_000 });
    const first = await lister.list(question);
    const frozen = Object.freeze({ ...question });
    expect(lister.peek(frozen)).toBe(first);
    expect(lister.peek(frozen)).toBe(first);
    const open = { ...question };
    expect(lister.peek(open)).toBe(first);
    open.to = new Date(Date.parse(question.to!) + 86_400_000).toISOString();
    expect(lister.peek(open)).toBeUndefined();
    const wider = await lister.list(open);
    expect(wider.slots.length).toBeGreaterThan(first.slots.length);
    expect(lister.peek(open)).toBe(wider);
  });

  it("sees this process's changes at once: claims, weekly hours, a service's duration and state, the time zone", async () => {
    const { specialistId, serviceIds, question } = await setUp();
    const lister = createSlotLister({ db: db(), clock: fixedClock }, { recheckMs: 60_000 });
    const before = await lister.list(question);
    expect(starts(before)).toContain(FREE_SLOT);

    await claim(specialistId, serviceIds[0]!, FREE_SLOT, 'this process');
    const claimed = await lister.list(question);
    expect(starts(claimed)).not.toContain(FREE_SLOT);

    await replaceWeeklyHours(db(), specialistId, ['13:00-14:00', '', '', '', '', '', '']);
    const hours = await lister.list(question);
    expect(starts(hours)).toEqual(['2030-01-07T12:00:00.000Z', '2030-01-07T12:30:00.000Z']);

    await updateService(db(), specialistId, serviceIds[0]!, { title: 'Intro call', description: '', durationMinutes: '60', price: '', currency: 'EUR' });
    const longer = await lister.list(question);
    expect(longer.durationMinutes).toBe(60);
    expect(starts(longer)).toEqual(['2030-01-07T12:00:00.000Z']);

    await updateProfile(db(), fixedClock, specialistId, { name: 'Anna Berg', timeZone: 'Europe/London' });
    const london = await lister.list(question);
    expect(london.timeZone).toBe('Europe/London');
    expect(starts(london)).toEqual(['2030-01-07T13:00:00.000Z']);

    await setServiceActive(db(), specialistId, serviceIds[0]!, false);
    await expect(lister.list(question)).rejects.toMatchObject({ code: 'not_found' });
  });

  it("sees another process's writes within recheckMs, and not before", async () => {
    const { specialistId, serviceIds, question } = await setUp();
    const monotonic = createTestMonotonicClock();
    const lister = createSlotLister({ db: db(), clock: fixedClock }, { recheckMs: 150, monotonicNow: monotonic.now });
    const before = await lister.list(question);
    await claim(specialistId, serviceIds[0]!, FREE_SLOT, 'another process');
    // Within the recheck interval this process does not read the database.
    monotonic.advance(149);
    expect(await lister.list(question)).toBe(before);
    monotonic.advance(1);
    const after = await lister.list(question);
    expect(starts(after)).not.toContain(FREE_SLOT);
    expect(after.slots.length).toBe(before.slots.length - 1);
  });

  it('drops the first slot the moment the minimum notice reaches it, with no write', async () => {
    // Notice 60 minutes; the first slot is 08:00 UTC (09:00 Berlin): it may be booked until 07:00 exactly.
    // The range starts after 07:00, so it is the same question throughout (a range that has begun moves with the hour).
    const question = { ...(await setUp()).question, from: '2030-01-07T07:30:00.000Z' };
    const time = createTestClock();
    const lister = createSlotLister({ db: db(), clock: time.clock }, { recheckMs: 60_000 });
    const before = await lister.list(question);
    expect(starts(before)[0]).toBe('2030-01-07T08:00:00.000Z');
    time.advance(HOUR);
    expect(await lister.list(question)).toBe(before);
    time.advance(1);
    const after = await lister.list(question);
    expect(starts(after)[0]).toBe('2030-01-07T08:30:00.000Z');
  });

  it('adds a slot the moment the booking horizon reaches it, with no write', async () => {
    // A one-day horizon: Tuesday 08:00 UTC becomes bookable after Monday 08:00.
    const { question } = await setUp({ bookingHorizonDays: 1, minNoticeMinutes: 0 });
    const time = createTestClock();
    const lister = createSlotLister({ db: db(), clock: time.clock }, { recheckMs: 60_000 });
    const before = await lister.list(question);
    expect(starts(before)).not.toContain('2030-01-08T08:00:00.000Z');
    time.advance(2 * HOUR);
    const atEdge = await lister.list(question);
    expect(starts(atEdge)).not.toContain('2030-01-08T08:00:00.000Z');
    time.advance(1);
    expect(starts(await lister.list(question))).toContain('2030-01-08T08:00:00.000Z');
  });

  it('answers every question whose range began in this hour, with or without a from, with one cached answer from the hour', async () => {
    // Issue #18: the SDK's listSlots without a range, a from that has passed and the widget's hour-aligned question.
    const { slug, serviceIds } = await setUp();
    const serviceId = serviceIds[0]!;
    const time = createTestClock(new Date(NOW.getTime() + 20 * 60_000));
    const lister = createSlotLister({ db: db(), clock: time.clock }, { recheckMs: 60_000 });
    const hourStart = NOW.getTime();
    const first = await lister.list({ slug, serviceId });
    expect(first.from).toBe(iso(hourStart));
    expect(first.to).toBe(iso(hourStart + 14 * DAY));
    // Every slot as a computation from this very instant lists it.
    const fromNow = await listFreeSlots({ db: db(), clock: time.clock }, { slug, serviceId, from: iso(hourStart + 20 * 60_000), to: first.to });
    expect(first.slots).toEqual(fromNow.slots);

    time.advance(39 * 60_000); // 06:59
    expect(lister.peek({ slug, serviceId })).toBe(first);
    expect(await lister.list({ slug, serviceId })).toBe(first);
    expect(await lister.list({ slug, serviceId, from: iso(hourStart + 40 * 60_000) })).toBe(first);
    expect(await lister.list({ slug, serviceId, from: iso(hourStart - DAY) })).toBe(first);
    expect(await lister.list({ slug, serviceId, from: iso(hourStart), to: iso(hourStart + 14 * DAY) })).toBe(first);

    // A past from with its own "to" keeps the "to".
    const twoDays = await lister.list({ slug, serviceId, from: iso(hourStart - DAY), to: iso(hourStart + 2 * DAY) });
    expect(twoDays).toMatchObject({ from: iso(hourStart), to: iso(hourStart + 2 * DAY) });
    expect(await lister.list({ slug, serviceId, from: iso(hourStart + 30 * 60_000), to: iso(hourStart + 2 * DAY) })).toBe(twoDays);

    time.advance(60_000); // 07:00: the next hour's question
    const next = await lister.list({ slug, serviceId });
    expect(next).not.toBe(first);
    expect(next).toMatchObject({ from: iso(hourStart + HOUR), to: iso(hourStart + HOUR + 14 * DAY) });
  });

  it('never lists a slot before now or inside the minimum notice while the clock moves through the hour', async () => {
    // Notice 60 minutes; slots every 30 minutes from 08:00 UTC. At 07:00 the 08:00 slot is the first, then it goes.
    const { slug, serviceIds } = await setUp();
    const serviceId = serviceIds[0]!;
    const hourStart = NOW.getTime() + HOUR;
    const time = createTestClock(new Date(hourStart));
    const lister = createSlotLister({ db: db(), clock: time.clock }, { recheckMs: 60_000 });
    const questions = [{ slug, serviceId }, { slug, serviceId, from: iso(hourStart) }, { slug, serviceId, from: iso(hourStart - DAY) }];
    const firstStarts: string[] = [];
    for (const offset of [0, 1, 10 * 60_000, 30 * 60_000 - 1, 30 * 60_000, 30 * 60_000 + 1, 45 * 60_000, HOUR - 1]) {
      time.advance(hourStart + offset - time.clock().getTime());
      const now = time.clock().getTime();
      const answer = await lister.list(questions[0]!);
      for (const question of questions) expect(await lister.list(question)).toBe(answer);
      expect(answer.from).toBe(iso(hourStart));
      expect(answer.slots.every((slot) => Date.parse(slot.start) >= now + HOUR)).toBe(true);
      const fresh = await listFreeSlots({ db: db(), clock: time.clock }, { slug, serviceId, from: iso(now), to: answer.to });
      expect(answer.slots).toEqual(fresh.slots);
      firstStarts.push(answer.slots[0]!.start);
    }
    expect(firstStarts).toEqual([
      '2030-01-07T08:00:00.000Z',
      ...Array(3).fill('2030-01-07T08:30:00.000Z'),
      '2030-01-07T08:30:00.000Z',
      ...Array(3).fill('2030-01-07T09:00:00.000Z'),
    ]);
  });

  it('forgets the least recently used answers past maxSlots', async () => {
    const { slug, serviceIds, question } = await setUp();
    const sizeOfOne = (await listFreeSlots({ db: db(), clock: fixedClock }, question)).slots.length + 1;
    const lister = createSlotLister({ db: db(), clock: fixedClock }, { maxSlots: sizeOfOne + 5 });
    const a = await lister.list(question);
    expect(await lister.list(question)).toBe(a);
    await lister.list({ ...question, serviceId: serviceIds[1]!, slug });
    expect(await lister.list(question)).not.toBe(a);
  });
});

describe('slots over HTTP', () => {
  const database = useTestDatabase('sqlite');
  let server: TestServer;
  let anna: { specialistId: string; serviceIds: string[] };
  let bert: { specialistId: string; serviceIds: string[] };

  beforeAll(async () => {
    anna = await seedSpecialist(database().handle.db);
    bert = await seedSpecialist(database().handle.db, { slug: 'bert', email: 'bert@example.test' });
    server = await startTestServer({ db: database().handle.db, clock: fixedClock });
    await connectZoom(server, anna.specialistId);
  });
  afterAll(async () => {
    await server?.close();
  });

  const range = `from=${encodeURIComponent(iso(NOW.getTime()))}&to=${encodeURIComponent(iso(NOW.getTime() + DAY))}`;
  const slotsPath = (slug: string, serviceId: string) => `/api/v1/specialists/${slug}/services/${serviceId}/slots?${range}`;
  const listStarts = async (slug: string, serviceId: string) => starts(await (await fetch(server.url + slotsPath(slug, serviceId))).json());
  const book = (slug: string, serviceId: string) =>
    fetch(`${server.url}/api/v1/specialists/${slug}/bookings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(bookingBody(serviceId)) });

  it('a booking takes its slot off the very next list', async () => {
    expect(await listStarts('anna', anna.serviceIds[0]!)).toContain(FREE_SLOT);
    expect((await book('anna', anna.serviceIds[0]!)).status).toBe(201);
    expect(await listStarts('anna', anna.serviceIds[0]!)).not.toContain(FREE_SLOT);
  });

  it('a request held for re-authorization keeps its slot off the list; one released (no hold) puts it back at once', async () => {
    const before = await listStarts('bert', bert.serviceIds[0]!);
    expect(before).toContain(FREE_SLOT);
    const held = await book('bert', bert.serviceIds[0]!);
    expect(held.status).toBe(409);
    expect(await held.json()).toMatchObject({ success: false, code: 'requires_reauth', requiresReAuth: true, specialistNotified: true, hold: { expiresAt: expect.any(String) } });
    expect(await listStarts('bert', bert.serviceIds[0]!)).toEqual(before.filter((start) => start !== FREE_SLOT));

    // Bert holds nothing from now on; the held request goes (as an expiry would take it).
    const db = database().handle.db;
    await db.deleteFrom('bookings').where('specialist_id', '=', bert.specialistId).execute();
    await db.updateTable('specialists').set((eb) => ({ hold_window_minutes: 0, availability_version: eb('availability_version', '+', 1) })).where('id', '=', bert.specialistId).execute();
    const again = await listStarts('bert', bert.serviceIds[0]!);
    expect(again).toEqual(before);
    const released = await book('bert', bert.serviceIds[0]!);
    expect(released.status).toBe(409);
    expect((await released.json()).hold).toBeUndefined();
    expect(await listStarts('bert', bert.serviceIds[0]!)).toEqual(before);
  });

  const get = (path: string, acceptEncoding?: string) => rawGet(server.url + path, acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding });

  it('sends Brotli or gzip as the client accepts, each decoding to the same JSON', async () => {
    const path = slotsPath('anna', anna.serviceIds[0]!);
    const plain = await get(path);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers['content-type']).toBe('application/json');
    expect(plain.headers.vary).toBe('Origin, Accept-Encoding');
    const json = JSON.parse(plain.body.toString('utf8'));
    expect(json).toMatchObject({ success: true, serviceId: anna.serviceIds[0], timeZone: 'Europe/Berlin' });
    expect(json.slots.length).toBeGreaterThan(5);

    const br = await get(path, 'gzip, deflate, br, zstd');
    expect(br.headers['content-encoding']).toBe('br');
    expect(JSON.parse(brotliDecompressSync(br.body).toString('utf8'))).toEqual(json);
    expect(br.body.length).toBeLessThan(plain.body.length / 3);

    const gzip = await get(path, 'br;q=0, gzip');
    expect(gzip.headers['content-encoding']).toBe('gzip');
    expect(JSON.parse(gunzipSync(gzip.body).toString('utf8'))).toEqual(json);

    const identity = await get(path, 'identity');
    expect(identity.headers['content-encoding']).toBeUndefined();
    expect(identity.body.equals(plain.body)).toBe(true);
  });

  it('leaves a body under 1 KB uncompressed, whatever the client accepts', async () => {
    const empty = `/api/v1/specialists/anna/services/${anna.serviceIds[0]}/slots?from=2030-01-12T00:00:00Z&to=2030-01-13T00:00:00Z`; // a Saturday
    const res = await get(empty, 'gzip, deflate, br, zstd');
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(res.body.toString('utf8'))).toMatchObject({ success: true, slots: [] });
  });
});
