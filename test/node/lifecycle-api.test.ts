import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Booking } from '../../sdk/contract.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from './helpers/databases.js';
import { bookingBody, createTestClock, NOW, seedSpecialist } from './helpers/fixtures.js';
import { connectZoom, startTestServer, type TestServer } from './helpers/server.js';

const TUESDAY_SLOT = '2030-01-08T09:00:00.000Z';
const ALLOWED_ORIGIN = 'https://anna-coaching.example';

describe.each(DATABASE_KINDS)('booking manage API on %s', (kind) => {
  let database: TestDatabase;
  let server: TestServer;
  let serviceIds: string[];
  const time = createTestClock();
  const db = () => database.handle.db;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    const anna = await seedSpecialist(db());
    serviceIds = anna.serviceIds;
    server = await startTestServer({ db: db(), clock: time.clock });
    await connectZoom(server, anna.specialistId);
  });
  afterAll(async () => {
    await server?.close();
    await database?.destroy();
  });
  beforeEach(async () => {
    await db().deleteFrom('rate_limits').execute();
    await db().deleteFrom('jobs').execute();
    await db().deleteFrom('booking_slot_claims').execute();
    await db().deleteFrom('bookings').execute();
    time.advance(NOW.getTime() - time.clock().getTime());
  });

  async function book(start = TUESDAY_SLOT): Promise<{ id: string; token: string }> {
    const res = await fetch(`${server.url}/api/v1/specialists/anna/bookings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(bookingBody(serviceIds[0]!, start)),
    });
    expect(res.status).toBe(201);
    const { booking } = (await res.json()) as { booking: Booking };
    return { id: booking.id, token: server.services.manageTokens.issue(booking.id) };
  }
  const get = (id: string, query: string, headers: Record<string, string> = {}) => fetch(`${server.url}/api/v1/bookings/${id}${query}`, { headers });
  const post = (id: string, action: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.url}/api/v1/bookings/${id}/${action}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const row = (id: string) => db().selectFrom('bookings').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  /** The hits a limit bucket holds in its current window; 0 when it has none. */
  const changeHits = async (bucket: string) =>
    Number((await db().selectFrom('rate_limits').select('hits').where('bucket', '=', bucket).executeTakeFirst())?.hits ?? 0);

  describe('GET /bookings/{id}', () => {
    it('answers the booking for its token, and changes nothing', async () => {
      const { id, token } = await book();
      const before = await row(id);
      const res = await get(id, `?token=${token}`);
      expect(res.status).toBe(200);
      const body = await res.json();
      expect(body).toMatchObject({
        success: true,
        booking: {
          id,
          status: 'confirmed',
          start: TUESDAY_SLOT,
          end: '2030-01-08T09:30:00.000Z',
          service: { id: serviceIds[0], title: 'Intro call', durationMinutes: 30 },
          specialist: { slug: 'anna', name: 'Anna Berg', email: 'anna@example.test', timeZone: 'Europe/Berlin' },
          customer: { name: 'Carla Customer', email: 'carla@example.test', timeZone: null },
          changeWindow: { closesAt: '2030-01-07T09:00:00.000Z', isOpen: true, isLiftedByOffer: false },
          canCancel: true,
          canReschedule: true,
          cancellation: null,
          rescheduleOfferedAt: null,
        },
      });
      expect(JSON.stringify(body)).not.toMatch(/start_url|startUrl/);
      expect(await row(id)).toEqual(before);
    });

    it('answers 403 invalid_manage_token for a forged token, 400 without one, 404 for an unknown or malformed id', async () => {
      const { id } = await book();
      const forged = await get(id, '?token=forged');
      expect(forged.status).toBe(403);
      expect(await forged.json()).toMatchObject({ success: false, code: 'invalid_manage_token' });
      const missing = await get(id, '');
      expect(missing.status).toBe(400);
      expect(await missing.json()).toMatchObject({ code: 'validation_failed' });
      const ghost = 'no-such-booking';
      const unknown = await get(ghost, `?token=${server.services.manageTokens.issue(ghost)}`);
      expect(unknown.status).toBe(404);
      expect(await unknown.json()).toMatchObject({ code: 'not_found' });
      expect((await get('%3Cscript%3E', '?token=x')).status).toBe(404);
    });

    it('answers 410 manage_link_expired once the session has started', async () => {
      const { id, token } = await book();
      time.advance(Date.parse(TUESDAY_SLOT) - time.clock().getTime());
      const res = await get(id, `?token=${token}`);
      expect(res.status).toBe(410);
      expect(await res.json()).toMatchObject({ code: 'manage_link_expired' });
      const cancel = await post(id, 'cancel', { token });
      expect(cancel.status).toBe(410);
      expect((await row(id)).status).toBe('confirmed');
    });

    it("grants CORS to the booking's specialist's allowed origins only", async () => {
      const { id, token } = await book();
      const allowed = await get(id, `?token=${token}`, { origin: ALLOWED_ORIGIN });
      expect(allowed.status).toBe(200);
      expect(allowed.headers.get('access-control-allow-origin')).toBe(ALLOWED_ORIGIN);
      const foreign = await post(id, 'cancel', { token }, { origin: 'https://evil.example' });
      expect(foreign.status).toBe(403);
      expect(await foreign.json()).toMatchObject({ code: 'origin_not_allowed' });
      expect((await row(id)).status).toBe('confirmed');
      const preflight = await fetch(`${server.url}/api/v1/bookings/${id}/reschedule`, {
        method: 'OPTIONS',
        headers: { origin: ALLOWED_ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, idempotency-key' },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-headers')).toContain('Idempotency-Key');
    });
  });

  describe('POST /bookings/{id}/cancel', () => {
    it('cancels (200), and a repeat answers the same', async () => {
      const { id, token } = await book();
      const first = await post(id, 'cancel', { token, reason: '<b>Ill</b>' });
      expect(first.status).toBe(200);
      const body = await first.json();
      expect(body).toMatchObject({ success: true, booking: { id, status: 'cancelled', cancellation: { by: 'customer', reason: '<b>Ill</b>' }, canCancel: false } });
      const again = await post(id, 'cancel', { token });
      expect(again.status).toBe(200);
      expect(await again.json()).toEqual(body);
      expect(await db().selectFrom('jobs').select('kind').where('kind', '=', 'zoom.delete-meeting').execute()).toHaveLength(1);
    });

    it('answers 409 change_window_closed inside the window, naming the contact', async () => {
      const { id, token } = await book('2030-01-07T12:00:00.000Z');
      const res = await post(id, 'cancel', { token });
      expect(res.status).toBe(409);
      const body = (await res.json()) as { code: string; message: string };
      expect(body.code).toBe('change_window_closed');
      expect(body.message).toContain('anna@example.test');
      expect((await row(id)).status).toBe('confirmed');
    });

    it('refuses bad bodies with stable codes, never a 500', async () => {
      const { id, token } = await book();
      const cases: [unknown, number, string][] = [
        ['{not json', 400, 'invalid_json'],
        [{ token, reason: 'x'.repeat(1001) }, 400, 'validation_failed'],
        [{ token, reason: 'a\u202eb' }, 400, 'validation_failed'],
        [{ token, extra: 1 }, 400, 'validation_failed'],
        [{}, 400, 'validation_failed'],
        [{ token: 7 }, 400, 'validation_failed'],
      ];
      for (const [body, status, code] of cases) {
        const res = await post(id, 'cancel', body);
        expect(res.status, JSON.stringify(body)).toBe(status);
        expect(await res.json()).toMatchObject({ success: false, code });
      }
      const big = await post(id, 'cancel', { token, reason: 'x'.repeat(20_000) });
      expect(big.status).toBe(413);
      const text = await fetch(`${server.url}/api/v1/bookings/${id}/cancel`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
      expect(text.status).toBe(415);
      expect((await row(id)).status).toBe('confirmed');
    });

    it('limits the changes of one booking a day (429 rate_limited with Retry-After)', async () => {
      const { id, token } = await book();
      for (let i = 0; i < 10; i++) expect((await post(id, 'reschedule', { token, start: i % 2 ? TUESDAY_SLOT : '2030-01-08T12:00:00.000Z' })).status).toBe(200);
      const res = await post(id, 'cancel', { token });
      expect(res.status).toBe(429);
      expect(await res.json()).toMatchObject({ code: 'rate_limited' });
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await row(id)).status).toBe('confirmed');
      // The refused cancel rolled back with its hits: the window's counts stay where the changes left them.
      expect(await changeHits(`booking-change:booking:${id}`)).toBe(10);
      expect(await db().selectFrom('jobs').select('kind').where('kind', '=', 'zoom.delete-meeting').execute()).toEqual([]);
    });

    it("refuses forged tokens without using up the booking's budget of changes", async () => {
      const { id, token } = await book();
      for (let i = 0; i < 12; i++) {
        const forged = await post(id, 'cancel', { token: `forged-${i}` });
        expect(forged.status).toBe(403);
        expect(await forged.json()).toMatchObject({ code: 'invalid_manage_token' });
      }
      expect(await changeHits(`booking-change:booking:${id}`)).toBe(0);
      const real = await post(id, 'cancel', { token });
      expect(real.status).toBe(200);
      expect((await row(id)).status).toBe('cancelled');
      expect(await changeHits(`booking-change:booking:${id}`)).toBe(1);
    });

    it('counts only changes that happen: repeats and refused changes are free', async () => {
      const { id, token } = await book();
      const moved = await post(id, 'reschedule', { token, start: '2030-01-08T12:00:00.000Z' }, { 'idempotency-key': 'move-1' });
      expect(moved.status).toBe(200);
      await book('2030-01-08T10:00:00.000Z');
      for (let i = 0; i < 5; i++) {
        expect((await post(id, 'reschedule', { token, start: '2030-01-08T12:00:00.000Z' }, { 'idempotency-key': 'move-1' })).status).toBe(200);
        expect((await post(id, 'reschedule', { token, start: '2030-01-08T12:00:00.000Z' })).status).toBe(200);
        expect((await post(id, 'reschedule', { token, start: '2030-01-08T10:00:00.000Z' })).status).toBe(409);
      }
      expect(await changeHits(`booking-change:booking:${id}`)).toBe(1);
      expect(await changeHits('booking-change:address:127.0.0.1')).toBe(1);
      for (let i = 0; i < 8; i++) expect((await post(id, 'reschedule', { token, start: i % 2 ? '2030-01-08T12:00:00.000Z' : TUESDAY_SLOT })).status).toBe(200);
      expect((await post(id, 'cancel', { token })).status).toBe(200);
      expect(await changeHits(`booking-change:booking:${id}`)).toBe(10);
      const repeat = await post(id, 'cancel', { token });
      expect(repeat.status).toBe(200);
      expect(await repeat.json()).toMatchObject({ booking: { status: 'cancelled' } });
      expect(await changeHits(`booking-change:booking:${id}`)).toBe(10);
    });
  });

  describe('POST /bookings/{id}/reschedule', () => {
    it('moves the booking; the same Idempotency-Key replays, another start with it is refused', async () => {
      const { id, token } = await book();
      const headers = { 'idempotency-key': 'move-once' };
      const first = await post(id, 'reschedule', { token, start: '2030-01-08T12:00:00Z' }, headers);
      expect(first.status).toBe(200);
      const body = await first.json();
      expect(body).toMatchObject({ success: true, booking: { start: '2030-01-08T12:00:00.000Z', end: '2030-01-08T12:30:00.000Z' } });
      const replay = await post(id, 'reschedule', { token, start: '2030-01-08T12:00:00.000Z' }, headers);
      expect(replay.status).toBe(200);
      expect(await replay.json()).toEqual(body);
      const reused = await post(id, 'reschedule', { token, start: '2030-01-08T13:00:00.000Z' }, headers);
      expect(reused.status).toBe(422);
      expect(await reused.json()).toMatchObject({ code: 'idempotency_key_reused' });
      expect(await row(id)).toMatchObject({ start_at: '2030-01-08T12:00:00.000Z', calendar_sequence: 1 });
      const badKey = await post(id, 'reschedule', { token, start: '2030-01-08T13:00:00.000Z' }, { 'idempotency-key': 'has space' });
      expect(badKey.status).toBe(400);
    });

    it('answers 409 slot_taken for a taken time, 422 slot_unavailable for one not offered, 400 for a bad start', async () => {
      const { id, token } = await book();
      await book('2030-01-08T10:00:00.000Z');
      const taken = await post(id, 'reschedule', { token, start: '2030-01-08T10:00:00.000Z' });
      expect(taken.status).toBe(409);
      expect(await taken.json()).toMatchObject({ code: 'slot_taken' });
      const offHours = await post(id, 'reschedule', { token, start: '2030-01-08T03:00:00.000Z' });
      expect(offHours.status).toBe(422);
      expect(await offHours.json()).toMatchObject({ code: 'slot_unavailable' });
      const notATime = await post(id, 'reschedule', { token, start: 'tomorrow' });
      expect(notATime.status).toBe(400);
      expect(await row(id)).toMatchObject({ start_at: TUESDAY_SLOT, calendar_sequence: 0 });
    });

    it('answers 409 booking_not_changeable for a cancelled booking', async () => {
      const { id, token } = await book();
      expect((await post(id, 'cancel', { token })).status).toBe(200);
      const res = await post(id, 'reschedule', { token, start: '2030-01-08T12:00:00.000Z' });
      expect(res.status).toBe(409);
      expect(await res.json()).toMatchObject({ code: 'booking_not_changeable' });
    });
  });

  it('documents the three operations in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>; components: { schemas: Record<string, unknown> } };
    expect(doc.paths['/api/v1/bookings/{id}']!.get!.operationId).toBe('getBooking');
    expect(Object.keys(doc.paths['/api/v1/bookings/{id}/cancel']!.post!.responses)).toEqual(expect.arrayContaining(['200', '403', '404', '409', '410', '429']));
    expect(Object.keys(doc.paths['/api/v1/bookings/{id}/reschedule']!.post!.responses)).toEqual(expect.arrayContaining(['200', '409', '410', '422']));
    expect(doc.components.schemas).toHaveProperty('ManagedBooking');
    expect(doc.components.schemas).toHaveProperty('RescheduleBookingRequest');
  });

  it('documents withdrawing a held request, and the hold on requires_reauth (issue #17)', async () => {
    const text = await (await fetch(`${server.url}/openapi.json`)).text();
    const doc = JSON.parse(text) as {
      paths: Record<string, Record<string, { operationId: string; requestBody?: unknown; responses: Record<string, { description: string }> }>>;
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    };
    const withdraw = doc.paths['/api/v1/bookings/{id}/withdraw']!.post!;
    expect(withdraw.operationId).toBe('withdrawRequest');
    expect(withdraw.requestBody).toEqual({ required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/WithdrawRequest' } } } });
    expect(Object.keys(withdraw.responses)).toEqual(['200', '400', '403', '404', '409', '410', '413', '415', '429']);
    expect(withdraw.responses['409']!.description).toContain('booking_not_changeable');
    // Next to cancel, in the document's order.
    const paths = Object.keys(doc.paths);
    expect(paths.indexOf('/api/v1/bookings/{id}/withdraw')).toBe(paths.indexOf('/api/v1/bookings/{id}/cancel') + 1);
    expect(doc.components.schemas.WithdrawRequest!.properties).toHaveProperty('token');
    expect(doc.components.schemas.ErrorResponse!.properties!.hold).toMatchObject({ $ref: '#/components/schemas/Hold' });
    expect(Object.keys(doc.components.schemas.Hold!.properties!)).toEqual(['id', 'expiresAt']);
    expect(doc.components.schemas.ManagedBooking!.properties).toHaveProperty('canWithdraw');
    expect(doc.paths['/api/v1/specialists/{slug}/bookings']!.post!.responses['409']!.description).toMatch(/requires_reauth.*`hold` \(\{ id, expiresAt \}\)/);
    // Every reference resolves to a component.
    for (const [, id] of text.matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)) expect(doc.components.schemas, id).toHaveProperty(id!);
  });
});
