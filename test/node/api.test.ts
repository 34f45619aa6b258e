import { createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from './helpers/databases.js';
import { bookingBody, fixedClock, FREE_SLOT, seedSpecialist } from './helpers/fixtures.js';
import { connectZoom, startTestServer, type TestServer } from './helpers/server.js';

describe.each(DATABASE_KINDS)('public API on %s', (kind) => {
  let database: TestDatabase;
  let server: TestServer;
  let serviceIds: string[];
  const db = () => database.handle.db;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    const anna = await seedSpecialist(db());
    serviceIds = anna.serviceIds;
    const bert = await seedSpecialist(db(), { slug: 'bert', email: 'bert@example.test', allowedOrigins: [] });
    server = await startTestServer({ db: db(), clock: fixedClock });
    await connectZoom(server, anna.specialistId);
    await connectZoom(server, bert.specialistId);
  });
  afterAll(async () => {
    await server?.close();
    await database?.destroy();
  });
  beforeEach(async () => {
    await db().deleteFrom('booking_slot_claims').execute();
    await db().deleteFrom('bookings').execute();
  });

  const api = (path: string, init?: RequestInit) => fetch(`${server.url}/api/v1${path}`, init);
  const post = (body: unknown, headers: Record<string, string> = {}, slug = 'anna') =>
    api(`/specialists/${slug}/bookings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const rowCounts = async () => ({
    bookings: Number((await db().selectFrom('bookings').select(db().fn.countAll().as('n')).executeTakeFirstOrThrow()).n),
    claims: Number((await db().selectFrom('booking_slot_claims').select(db().fn.countAll().as('n')).executeTakeFirstOrThrow()).n),
  });

  describe('profile', () => {
    it('returns the public profile and active services, and nothing private', async () => {
      const res = await api('/specialists/anna');
      expect(res.status).toBe(200);
      const body = await res.json();
      expect(body).toEqual({
        success: true,
        specialist: { slug: 'anna', name: 'Anna Berg', timeZone: 'Europe/Berlin' },
        services: [
          { id: serviceIds[0], title: 'Intro call', description: 'Get to know each other', durationMinutes: 30, price: null },
          { id: serviceIds[1], title: 'Deep dive', description: 'A full session', durationMinutes: 60, price: { amountCents: 9000, currency: 'EUR' } },
        ],
      });
      expect(JSON.stringify(body)).not.toContain('anna@example.test');
    });

    it('answers 404 not_found for an unknown or malformed slug', async () => {
      for (const slug of ['nobody', 'NOT_A_SLUG', '%3Cscript%3E']) {
        const res = await api(`/specialists/${slug}`);
        expect(res.status).toBe(404);
        expect(await res.json()).toMatchObject({ success: false, code: 'not_found' });
      }
    });

    it('answers unknown endpoints with the error shape', async () => {
      const res = await fetch(`${server.url}/nope`);
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ success: false, code: 'not_found', message: 'There is no GET /nope endpoint.' });
    });
  });

  describe('slots', () => {
    it('lists free slots in UTC with the specialist time zone, after the minimum notice', async () => {
      const res = await api(`/specialists/anna/services/${serviceIds[1]}/slots?from=2030-01-07T00:00:00Z&to=2030-01-08T00:00:00Z`);
      expect(res.status).toBe(200);
      const body = await res.json();
      // Now is 07:00 Berlin with 60 minutes' notice: the 09:00 start is the first.
      expect(body.timeZone).toBe('Europe/Berlin');
      expect(body.durationMinutes).toBe(60);
      expect(body.slots.map((s: { start: string }) => s.start)).toEqual([
        '2030-01-07T08:00:00.000Z',
        '2030-01-07T08:30:00.000Z',
        '2030-01-07T09:00:00.000Z',
        '2030-01-07T09:30:00.000Z',
        '2030-01-07T10:00:00.000Z',
        '2030-01-07T12:00:00.000Z',
        '2030-01-07T12:30:00.000Z',
        '2030-01-07T13:00:00.000Z',
        '2030-01-07T13:30:00.000Z',
        '2030-01-07T14:00:00.000Z',
        '2030-01-07T14:30:00.000Z',
        '2030-01-07T15:00:00.000Z',
      ]);
    });

    it('leaves out slots that overlap a booking of another service', async () => {
      expect((await post(bookingBody(serviceIds[0]!))).status).toBe(201); // 09:00–09:30 UTC
      const res = await api(`/specialists/anna/services/${serviceIds[1]}/slots?from=2030-01-07T08:00:00Z&to=2030-01-07T11:00:00Z`);
      const starts = (await res.json()).slots.map((s: { start: string }) => s.start);
      expect(starts).toEqual(['2030-01-07T08:00:00.000Z', '2030-01-07T09:30:00.000Z', '2030-01-07T10:00:00.000Z']);
    });

    it('defaults to the next 14 days', async () => {
      const body = await (await api(`/specialists/anna/services/${serviceIds[0]}/slots`)).json();
      expect(body.from).toBe('2030-01-07T06:00:00.000Z');
      expect(body.to).toBe('2030-01-21T06:00:00.000Z');
      // 14 half-hour slots a day (09–12, 13–17) over 10 weekdays; 07:00 + 60 min notice cuts none.
      expect(body.slots.length).toBe(10 * 14);
    });

    it('answers a from that has passed as the default range, and reports the range it answered', async () => {
      // Now is 06:00 UTC, the start of the hour: the default range and any range that began before it start there.
      const url = (query: string) => `/specialists/anna/services/${serviceIds[0]}/slots${query}`;
      const byDefault = await (await api(url(''))).json();
      expect(await (await api(url('?from=2030-01-06T09:15:00Z'))).json()).toEqual(byDefault);
      const withTo = await (await api(url('?from=2030-01-06T09:15:00Z&to=2030-01-08T00:00:00Z'))).json();
      expect(withTo).toMatchObject({ from: '2030-01-07T06:00:00.000Z', to: '2030-01-08T00:00:00.000Z' });
      expect(withTo.slots).toEqual(byDefault.slots.filter((s: { start: string }) => s.start < '2030-01-08T00:00:00.000Z'));
      // A range that ended before this hour holds nothing and keeps its bounds.
      expect(await (await api(url('?from=2030-01-05T00:00:00Z&to=2030-01-06T00:00:00Z'))).json()).toMatchObject({
        success: true,
        from: '2030-01-05T00:00:00.000Z',
        to: '2030-01-06T00:00:00.000Z',
        slots: [],
      });
    });

    it.each([
      ['a year in one request', '?from=2030-01-07T00:00:00Z&to=2031-01-07T00:00:00Z', 'Ask for at most 62 days of slots at a time.'],
      ['a reversed range', '?from=2030-01-08T00:00:00Z&to=2030-01-07T00:00:00Z', '"to" must be after "from".'],
      ['a date without a time', '?from=2030-01-07', undefined],
      ['an unknown parameter', '?days=3', undefined],
    ])('refuses %s with 400 validation_failed', async (_name, query, message) => {
      const res = await api(`/specialists/anna/services/${serviceIds[0]}/slots${query}`);
      expect(res.status).toBe(400);
      const body = await res.json();
      expect(body).toMatchObject({ success: false, code: 'validation_failed' });
      if (message) expect(body.message).toBe(message);
      expect(body.errors.length).toBeGreaterThan(0);
    });

    it('answers each URL by its own query: the same question alike, another range differently, a refused URL again refused', async () => {
      const slotsUrl = (query: string) => `/specialists/anna/services/${serviceIds[1]}/slots${query}`;
      const morning = await (await api(slotsUrl('?from=2030-01-08T08:00:00Z&to=2030-01-08T11:00:00Z'))).json();
      const early = await (await api(slotsUrl('?from=2030-01-08T08:00:00Z&to=2030-01-08T10:00:00Z'))).json();
      expect(morning.to).toBe('2030-01-08T11:00:00.000Z');
      expect(early.to).toBe('2030-01-08T10:00:00.000Z');
      expect(early.slots.length).toBeLessThan(morning.slots.length);
      expect(await (await api(slotsUrl('?from=2030-01-08T08:00:00Z&to=2030-01-08T11:00:00Z'))).json()).toEqual(morning);
      // Another spelling of the same range is another URL, and the same answer.
      expect(await (await api(slotsUrl('?to=2030-01-08T11:00:00Z&from=2030-01-08T08:00:00Z'))).json()).toEqual(morning);
      for (let i = 0; i < 2; i++) expect((await api(slotsUrl('?from=2030-01-08T08:00:00Z&to=2030-01-08T07:00:00Z'))).status).toBe(400);
    });

    it('answers 404 for a service of another specialist', async () => {
      const res = await api(`/specialists/bert/services/${serviceIds[0]}/slots`);
      expect(res.status).toBe(404);
      expect((await res.json()).code).toBe('not_found');
    });
  });

  describe('bookings', () => {
    it('books a free slot and stores the booking and its claims', async () => {
      const res = await post(bookingBody(serviceIds[1]!, FREE_SLOT, { note: 'First time', timeZone: 'America/Chicago' }));
      expect(res.status).toBe(201);
      const { success, booking } = await res.json();
      expect(success).toBe(true);
      expect(booking).toMatchObject({
        status: 'confirmed',
        serviceId: serviceIds[1],
        serviceTitle: 'Deep dive',
        start: '2030-01-07T09:00:00.000Z',
        end: '2030-01-07T10:00:00.000Z',
        timeZone: 'Europe/Berlin',
        customer: { name: 'Carla Customer', email: 'carla@example.test', timeZone: 'America/Chicago' },
        zoomJoinUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/j\/\d+\?pwd=/),
        createdAt: '2030-01-07T06:00:00.000Z',
      });
      const row = await db().selectFrom('bookings').selectAll().where('id', '=', booking.id).executeTakeFirstOrThrow();
      expect(row).toMatchObject({ customer_note: 'First time', status: 'confirmed', start_at: booking.start, end_at: booking.end, idempotency_key: null });
      // Zoom was asked in the request that reserved the slot, recorded with the reservation.
      expect(row).toMatchObject({ meeting_requested_at: '2030-01-07T06:00:00.000Z', meeting_lock_until: null });
      expect(await rowCounts()).toEqual({ bookings: 1, claims: 12 });
    });

    it('accepts a start written with an offset', async () => {
      const res = await post(bookingBody(serviceIds[0]!, '2030-01-07T10:00:00+01:00'));
      expect(res.status).toBe(201);
      expect((await res.json()).booking.start).toBe(FREE_SLOT);
    });

    it('answers 409 slot_taken for an overlapping booking, and writes nothing', async () => {
      expect((await post(bookingBody(serviceIds[1]!))).status).toBe(201);
      const res = await post(bookingBody(serviceIds[0]!, '2030-01-07T09:30:00Z', { email: 'other@example.test' }));
      expect(res.status).toBe(409);
      expect(await res.json()).toEqual({
        success: false,
        code: 'slot_taken',
        message: 'Sorry, someone has just booked that time. Please pick another slot.',
      });
      expect(await rowCounts()).toEqual({ bookings: 1, claims: 12 });
    });

    it('replays a request with the same Idempotency-Key instead of booking twice', async () => {
      const headers = { 'idempotency-key': 'attempt-1' };
      const first = await post(bookingBody(serviceIds[0]!), headers);
      const second = await post(bookingBody(serviceIds[0]!), headers);
      expect(first.status).toBe(201);
      expect(second.status).toBe(201);
      expect(second.headers.get('idempotent-replayed')).toBe('true');
      expect(first.headers.get('idempotent-replayed')).toBeNull();
      expect((await second.json()).booking).toEqual((await first.json()).booking);
      expect(await rowCounts()).toEqual({ bookings: 1, claims: 6 });
    });

    it('refuses a reused Idempotency-Key with a different body', async () => {
      const headers = { 'idempotency-key': 'attempt-2' };
      expect((await post(bookingBody(serviceIds[0]!), headers)).status).toBe(201);
      const res = await post(bookingBody(serviceIds[0]!, '2030-01-07T10:00:00Z'), headers);
      expect(res.status).toBe(422);
      expect((await res.json()).code).toBe('idempotency_key_reused');
      expect(await rowCounts()).toEqual({ bookings: 1, claims: 6 });
    });

    it('keeps idempotency keys per specialist', async () => {
      const headers = { 'idempotency-key': 'shared-key' };
      expect((await post(bookingBody(serviceIds[0]!), headers)).status).toBe(201);
      const bert = await (await api('/specialists/bert')).json();
      const res = await post(bookingBody(bert.services[0].id), headers, 'bert');
      expect(res.status).toBe(201);
      expect(res.headers.get('idempotent-replayed')).toBeNull();
      expect(await rowCounts()).toEqual({ bookings: 2, claims: 12 });
    });
  });

  describe('bad input gets a 4xx with a stable code, and nothing is written', () => {
    const cases: [string, () => Promise<Response>, number, string, string?][] = [
      ['malformed JSON', () => post('{"serviceId": '), 400, 'invalid_json'],
      ['a body that is not JSON', () => api('/specialists/anna/bookings', { method: 'POST', body: 'name=x' }), 415, 'unsupported_media_type'],
      ['a JSON array', () => post('[]'), 400, 'validation_failed'],
      ['a wrong type', () => post({ ...bookingBody('x'), customer: { name: 42, email: 'a@b.test' } }), 400, 'validation_failed', 'customer.name'],
      ['a missing field', () => post({ serviceId: 'x', customer: { name: 'A', email: 'a@b.test' } }), 400, 'validation_failed', 'start'],
      ['an invalid email', () => post(bookingBody('x', FREE_SLOT, { email: 'not-an-email' })), 400, 'validation_failed', 'customer.email'],
      ['an empty name', () => post(bookingBody('x', FREE_SLOT, { name: '   ' })), 400, 'validation_failed', 'customer.name'],
      ['an unknown time zone', () => post(bookingBody('x', FREE_SLOT, { timeZone: 'Mars/Olympus' })), 400, 'validation_failed', 'customer.timeZone'],
      ['an unknown field', () => post({ ...bookingBody('x'), admin: true }), 400, 'validation_failed'],
      ['a start that is not a date', () => post(bookingBody('x', 'tomorrow')), 400, 'validation_failed', 'start'],
      ['an oversized body', () => post(bookingBody('x', FREE_SLOT, { note: 'x'.repeat(20_000) })), 413, 'payload_too_large'],
      ['a note over 2000 characters', () => post(bookingBody('x', FREE_SLOT, { note: 'x'.repeat(2001) })), 400, 'validation_failed', 'customer.note'],
      ['a bad Idempotency-Key', () => post(bookingBody('x'), { 'idempotency-key': 'has space' }), 400, 'validation_failed', 'Idempotency-Key'],
      ['an unknown service', () => post(bookingBody('0000-unknown')), 404, 'not_found'],
      ['an unknown specialist', () => post(bookingBody('x'), {}, 'nobody'), 404, 'not_found'],
    ];
    it.each(cases)('%s', async (_name, send, status, code, path) => {
      const res = await send();
      expect(res.status).toBe(status);
      const body = await res.json();
      expect(body).toMatchObject({ success: false, code });
      expect(typeof body.message).toBe('string');
      expect(body.message).not.toMatch(/\bat .*\.(ts|js):\d+/);
      if (path) expect(body.errors.map((e: { path: string }) => e.path)).toContain(path);
      expect(await rowCounts()).toEqual({ bookings: 0, claims: 0 });
    });

    /** A booking sent in chunks, with no Content-Length, as a streaming client sends it. */
    const postChunked = (chunks: string[]) =>
      new Promise<{ status: number; body: { success: boolean; code?: string } }>((resolve, reject) => {
        const req = httpRequest(`${server.url}/api/v1/specialists/anna/bookings`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
        });
        req.on('error', reject);
        for (const chunk of chunks) req.write(chunk);
        req.end();
      });

    it('refuses a chunked body that grows past the limit with 413, and books nothing', async () => {
      const json = JSON.stringify(bookingBody(serviceIds[0]!, FREE_SLOT, { note: 'x'.repeat(20_000) }));
      const res = await postChunked([json.slice(0, 8000), json.slice(8000, 16_000), json.slice(16_000)]);
      expect(res.status).toBe(413);
      expect(res.body).toMatchObject({ success: false, code: 'payload_too_large' });
      expect(await rowCounts()).toEqual({ bookings: 0, claims: 0 });
    });

    it('books from a chunked body within the limit', async () => {
      const json = JSON.stringify(bookingBody(serviceIds[0]!));
      const res = await postChunked([json.slice(0, 20), json.slice(20)]);
      expect(res.status).toBe(201);
      expect(res.body.success).toBe(true);
      expect(await rowCounts()).toEqual({ bookings: 1, claims: 6 });
    });

    it('words field errors the same way for a body, a query and a header', async () => {
      const body = await (await post({ serviceId: serviceIds[0], start: 'tomorrow', customer: { name: '', email: 'nope' } })).json();
      expect(body).toEqual({
        success: false,
        code: 'validation_failed',
        message: `Please check the request: start: ${body.errors[0].message} (and 2 more problems).`,
        errors: [
          { path: 'start', message: expect.any(String) },
          { path: 'customer.name', message: expect.any(String) },
          { path: 'customer.email', message: expect.any(String) },
        ],
      });
      expect(await (await post('[]')).json()).toEqual({
        success: false,
        code: 'validation_failed',
        message: 'Please check the request: Invalid input: expected object, received array.',
        errors: [{ path: '(body)', message: 'Invalid input: expected object, received array' }],
      });
      expect(await (await post(bookingBody(serviceIds[0]!), { 'idempotency-key': 'has space' })).json()).toEqual({
        success: false,
        code: 'validation_failed',
        message: 'Please check the Idempotency-Key header: Use printable ASCII without spaces.',
        errors: [{ path: 'Idempotency-Key', message: 'Use printable ASCII without spaces' }],
      });
      const query = await (await api(`/specialists/anna/services/${serviceIds[0]}/slots?days=3`)).json();
      expect(query).toMatchObject({ success: false, code: 'validation_failed', message: `Please check the request: ${query.errors[0].message}.` });
      expect(await rowCounts()).toEqual({ bookings: 0, claims: 0 });
    });

    /** Zoom's webhook, signed as Zoom signs it (v0, HMAC-SHA256 of "v0:<timestamp>:<body>"). */
    const postSignedWebhook = (body: string) => {
      const timestamp = String(Math.floor(fixedClock().getTime() / 1000));
      const signature = `v0=${createHmac('sha256', server.emulator.webhookSecret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
      return fetch(`${server.url}/webhooks/zoom`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-zm-request-timestamp': timestamp, 'x-zm-signature': signature },
        body,
      });
    };

    it("answers a signed Zoom webhook that is not JSON with 400 invalid_json, and JSON that is not an event with 204", async () => {
      const malformed = await postSignedWebhook('{"event": ');
      expect(malformed.status).toBe(400);
      expect(await malformed.json()).toEqual({ success: false, code: 'invalid_json', message: 'The request body is not valid JSON.' });
      for (const body of ['null', '7', '{}']) expect((await postSignedWebhook(body)).status).toBe(204);
    });

    const slotCases: [string, string, string][] = [
      ['a date in the past', '2029-12-31T09:00:00Z', 'That time has already passed. Please pick a time in the future.'],
      ['a time inside the minimum notice', '2030-01-07T06:30:00Z', "That time is too soon: bookings need at least 1 hours' notice."],
      ['a time outside availability', '2030-01-07T11:00:00Z', 'That time is not one of the available slots. Please pick a listed slot.'],
      ['a time off the slot grid', '2030-01-07T09:10:00Z', 'That time is not one of the available slots. Please pick a listed slot.'],
      ['a weekend', '2030-01-12T09:00:00Z', 'That time is not one of the available slots. Please pick a listed slot.'],
      ['a time beyond the horizon', '2030-06-03T09:00:00Z', 'That time is too far ahead: book at most 60 days in advance.'],
    ];
    it.each(slotCases)('%s gets 422 slot_unavailable', async (_name, start, message) => {
      const res = await post(bookingBody(serviceIds[0]!, start));
      expect(res.status).toBe(422);
      expect(await res.json()).toEqual({ success: false, code: 'slot_unavailable', message });
      expect(await rowCounts()).toEqual({ bookings: 0, claims: 0 });
    });
  });

  describe('CORS', () => {
    it("lets the specialist's allowed origin preflight and read answers", async () => {
      const pre = await api('/specialists/anna/bookings', {
        method: 'OPTIONS',
        headers: { origin: 'https://anna-coaching.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,idempotency-key' },
      });
      expect(pre.status).toBe(204);
      expect(pre.headers.get('access-control-allow-origin')).toBe('https://anna-coaching.example');
      expect(pre.headers.get('access-control-allow-headers')).toBe('Content-Type, Idempotency-Key');
      const res = await post(bookingBody(serviceIds[0]!), { origin: 'https://anna-coaching.example' });
      expect(res.status).toBe(201);
      expect(res.headers.get('access-control-allow-origin')).toBe('https://anna-coaching.example');
    });

    it('sends slot lists with the CORS headers, Vary on Origin and Accept-Encoding, and X-Request-Id', async () => {
      const res = await api(`/specialists/anna/services/${serviceIds[0]}/slots?from=2030-01-07T00:00:00Z&to=2030-01-08T00:00:00Z`, {
        headers: { origin: 'https://anna-coaching.example', 'accept-encoding': 'br' },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe('https://anna-coaching.example');
      expect(res.headers.get('access-control-expose-headers')).toBe('Idempotent-Replayed, Retry-After, X-Request-Id');
      expect(res.headers.get('vary')).toBe('Origin, Accept-Encoding');
      expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      expect((await res.json()).slots.length).toBeGreaterThan(0);
    });

    it("allows the server's own origin", async () => {
      const res = await api('/specialists/bert', { headers: { origin: server.url } });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe(server.url);
    });

    it('refuses other origins with 403 origin_not_allowed, even on a simple POST, and books nothing', async () => {
      const pre = await api('/specialists/anna/bookings', {
        method: 'OPTIONS',
        headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
      });
      expect(pre.status).toBe(403);
      expect(pre.headers.get('access-control-allow-origin')).toBeNull();
      const simple = await api('/specialists/anna/bookings', {
        method: 'POST',
        headers: { origin: 'https://evil.example', 'content-type': 'text/plain' },
        body: JSON.stringify(bookingBody(serviceIds[0]!)),
      });
      expect(simple.status).toBe(403);
      expect((await simple.json()).code).toBe('origin_not_allowed');
      // Another specialist's origin is not this specialist's.
      const other = await api('/specialists/bert', { headers: { origin: 'https://anna-coaching.example' } });
      expect(other.status).toBe(403);
      expect(await rowCounts()).toEqual({ bookings: 0, claims: 0 });
    });
  });

  describe('health and documentation', () => {
    it('answers /healthz and /readyz', async () => {
      expect(await (await fetch(`${server.url}/healthz`)).json()).toEqual({ success: true, status: 'ok' });
      const ready = await fetch(`${server.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ success: true, status: 'ok' });
    });

    it('serves an OpenAPI 3.1 document whose references all resolve', async () => {
      const doc = await (await fetch(`${server.url}/openapi.json`)).json();
      expect(doc.openapi).toBe('3.1.0');
      expect(Object.keys(doc.paths)).toEqual([
        '/api/v1/specialists/{slug}',
        '/api/v1/specialists/{slug}/services/{serviceId}/slots',
        '/api/v1/specialists/{slug}/bookings',
        '/api/v1/bookings/{id}',
        '/api/v1/bookings/{id}/cancel',
        '/api/v1/bookings/{id}/withdraw',
        '/api/v1/bookings/{id}/reschedule',
        '/healthz',
        '/readyz',
      ]);
      const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]!);
      expect(refs.length).toBeGreaterThan(10);
      for (const name of refs) expect(doc.components.schemas, name).toHaveProperty(name);
      const request = doc.components.schemas.CreateBookingRequest;
      expect(request.required).toEqual(['serviceId', 'start', 'customer']);
      expect(request.properties.customer.properties.email.format).toBe('email');
      expect(doc.components.schemas.ErrorResponse.properties.code.enum).toContain('slot_taken');
      expect(doc.components.schemas.ErrorResponse.properties.retryAfterSeconds.type).toBe('integer');
      for (const path of ['/api/v1/specialists/{slug}/services/{serviceId}/slots', '/api/v1/specialists/{slug}/bookings']) {
        const operation = Object.values(doc.paths[path])[0] as { responses: Record<string, { headers?: Record<string, unknown> }> };
        expect(operation.responses['429']?.headers).toHaveProperty('Retry-After');
      }
      expect(doc.paths['/api/v1/specialists/{slug}/bookings'].post.responses['503'].headers).toHaveProperty('Retry-After');
      expect(doc.paths['/readyz'].get.responses['503'].headers).toHaveProperty('Retry-After');
    });

    it('serves a readable reference page', async () => {
      const res = await fetch(`${server.url}/docs`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/html');
      const html = await res.text();
      expect(html).toContain('<h1>specialist-booking API</h1>');
      expect(html).toContain('<code>/api/v1/specialists/{slug}/bookings</code>');
      expect(html).toContain('id="schema-CreateBookingRequest"');
    });
  });
});

describe('readiness', () => {
  it('answers 503 database_unavailable when the database is gone', async () => {
    const database = await createTestDatabase('sqlite');
    const server = await startTestServer({ db: database.handle.db, clock: fixedClock });
    await database.handle.close();
    const res = await fetch(`${server.url}/readyz`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('30');
    expect(await res.json()).toEqual({ success: false, code: 'database_unavailable', message: 'The database is not answering.', retryAfterSeconds: 30 });
    await server.close();
    await database.destroy().catch(() => undefined);
  });
});
