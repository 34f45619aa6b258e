import { createHmac } from 'node:crypto';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { resumeStalePendingBookings } from '../../server/bookings/index.js';
import { createZoomClient } from '../../server/zoom/client.js';
import { ZoomApiError, ZoomMalformedAnswerError, ZoomMeetingNotFoundError } from '../../server/zoom/errors.js';
import { bookingMarker } from '../../server/zoom/meetings.js';
import { DATABASE_KINDS, useTestDatabase } from './helpers/databases.js';
import { bookingBody, createTestClock, FREE_SLOT, NOW, seedSpecialist } from './helpers/fixtures.js';
import { allowOnConsentPage, connectZoom, signInCookie, startConnectingZoom, startTestServer, type TestServer } from './helpers/server.js';

const HOUR = 3_600_000;

describe.each(DATABASE_KINDS)('Zoom on %s', (kind) => {
  const database = useTestDatabase(kind);
  let server: TestServer;
  let time: ReturnType<typeof createTestClock>;
  let specialistId: string;
  let serviceIds: string[];
  let zoomUserId: string;
  const db = () => database().handle.db;

  beforeEach(async () => {
    await db().deleteFrom('specialists').execute();
    ({ specialistId, serviceIds } = await seedSpecialist(db()));
    time = createTestClock(NOW);
    await server?.close();
    server = await startTestServer({ db: db(), clock: time.clock, zoomThroughProxy: true });
    zoomUserId = await connectZoom(server, specialistId);
  });
  afterAll(async () => {
    await server?.close();
  });

  const book = (start = FREE_SLOT, serviceId = serviceIds[0]!, headers: Record<string, string> = {}) =>
    fetch(`${server.url}/api/v1/specialists/anna/bookings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(bookingBody(serviceId, start)),
    });
  const connection = () => db().selectFrom('zoom_connections').selectAll().where('specialist_id', '=', specialistId).executeTakeFirstOrThrow();
  const counts = async () => ({
    bookings: (await db().selectFrom('bookings').select('id').execute()).length,
    claims: (await db().selectFrom('booking_slot_claims').select('block_start').execute()).length,
    meetings: server.emulator.controls.meetings().length,
  });
  const refreshes = () => server.emulator.controls.tokenRequests().filter((r) => r.grantType === 'refresh_token');
  const currentAccessToken = async () => {
    const token = await server.services.connections.getAccessToken(specialistId);
    if (token.kind !== 'token') throw new Error(`no token: ${token.kind}`);
    return token.accessToken;
  };
  /** The next Zoom call gets this JSON answer from the proxy instead of Zoom's. */
  const answerNextZoomCall = (status: number, body: string) =>
    server.zoomProxy!.faults.push({ kind: 'respond', status, headers: { 'content-type': 'application/json' }, body });
  /** Makes the stored access token expired, for the server and for Zoom alike. */
  const expireAccessToken = async () => {
    await db().updateTable('zoom_connections').set({ access_token_expires_at: new Date(NOW.getTime() - 1000).toISOString() }).execute();
    server.emulator.controls.expireAccessTokens(zoomUserId);
  };

  describe("the seed's four scenarios", () => {
    it('valid token: creates the meeting and confirms the booking', async () => {
      const res = await book(FREE_SLOT, serviceIds[1]);
      expect(res.status).toBe(201);
      const { booking } = await res.json();
      const [meeting] = server.emulator.controls.meetings(zoomUserId);
      expect(meeting).toMatchObject({
        topic: 'Deep dive with Carla Customer',
        type: 2,
        start_time: '2030-01-07T09:00:00Z',
        duration: 60,
        timezone: 'Europe/Berlin',
      });
      expect(meeting!.agenda).toContain('Carla Customer');
      expect(meeting!.agenda).toContain(bookingMarker(booking.id));
      expect(booking.zoomJoinUrl).toBe(meeting!.join_url);
      const row = await db().selectFrom('bookings').selectAll().where('id', '=', booking.id).executeTakeFirstOrThrow();
      expect(row).toMatchObject({ status: 'confirmed', zoom_meeting_id: String(meeting!.id), zoom_join_url: meeting!.join_url, meeting_lock_until: null });
      expect(row.zoom_start_url_enc).not.toContain('zak');
      expect(server.cipher.decrypt(row.zoom_start_url_enc!, `${booking.id}:start_url`)).toBe(meeting!.start_url);
      expect(JSON.stringify(booking)).not.toContain(meeting!.start_url);
      expect(refreshes()).toHaveLength(0);
      expect(server.reauthEvents).toHaveLength(0);
    });

    it('no token: answers requires_reauth, notifies once, and holds the slot for the customer', async () => {
      await db().deleteFrom('zoom_connections').execute();
      const res = await book();
      expect(res.status).toBe(409);
      const body = await res.json();
      // The seed's answer, word for word, and the hold (issue #17): 24 h by default, cut to end an hour
      // (the minimum notice) before the 09:00 slot.
      expect(body).toEqual({
        success: false,
        code: 'requires_reauth',
        requiresReAuth: true,
        specialistNotified: true,
        message:
          'Failed to create Zoom meeting: the specialist has not connected a Zoom account yet. A notification has been sent to the specialist to re-authorize their Zoom account.',
        hold: { id: expect.any(String), expiresAt: '2030-01-07T08:00:00.000Z' },
      });
      expect(server.reauthEvents).toEqual([
        {
          trigger: 'booking_attempt',
          specialist: { id: specialistId, name: 'Anna Berg', email: 'anna@example.test', timeZone: 'Europe/Berlin' },
          service: { id: serviceIds[0], title: 'Intro call' },
          customer: { name: 'Carla Customer', email: 'carla@example.test' },
          start: new Date(FREE_SLOT),
          attemptedAt: NOW,
          holdExpiresAt: new Date('2030-01-07T08:00:00.000Z'),
          reason: 'not_connected',
        },
      ]);
      const row = await db().selectFrom('bookings').selectAll().where('id', '=', body.hold.id).executeTakeFirstOrThrow();
      expect(row).toMatchObject({ status: 'held', hold_expires_at: '2030-01-07T08:00:00.000Z', meeting_lock_token: null, zoom_meeting_id: null });
      expect(await counts()).toEqual({ bookings: 1, claims: 6, meetings: 0 });
    });

    it('no token and a hold window of 0: answers as the seed did and releases the slot', async () => {
      await db().deleteFrom('zoom_connections').execute();
      await db().updateTable('specialists').set({ hold_window_minutes: 0 }).where('id', '=', specialistId).execute();
      const res = await book();
      expect(res.status).toBe(409);
      expect(await res.json()).toEqual({
        success: false,
        code: 'requires_reauth',
        requiresReAuth: true,
        specialistNotified: true,
        message:
          'Failed to create Zoom meeting: the specialist has not connected a Zoom account yet. A notification has been sent to the specialist to re-authorize their Zoom account.',
      });
      expect(server.reauthEvents.map((e) => e.trigger === 'booking_attempt' && e.holdExpiresAt)).toEqual([undefined]);
      expect(await counts()).toEqual({ bookings: 0, claims: 0, meetings: 0 });
    });

    it('expired access token, good refresh token: refreshes silently and confirms', async () => {
      await expireAccessToken();
      const res = await book();
      expect(res.status).toBe(201);
      expect(refreshes()).toEqual([expect.objectContaining({ outcome: 'ok' })]);
      const row = await connection();
      expect(row).toMatchObject({ status: 'active', version: 2, refresh_lock_owner: null });
      expect(Date.parse(row.access_token_expires_at)).toBeGreaterThan(NOW.getTime() + 50 * 60_000);
      expect(server.reauthEvents).toHaveLength(0);
      expect(await counts()).toMatchObject({ bookings: 1, meetings: 1 });
    });

    it('refresh fails: marks the connection invalid, answers requires_reauth and notifies', async () => {
      server.emulator.controls.revokeAllTokens(zoomUserId);
      const res = await book();
      expect(res.status).toBe(409);
      const body = await res.json();
      expect(body).toEqual({
        success: false,
        code: 'requires_reauth',
        requiresReAuth: true,
        specialistNotified: true,
        message:
          'Failed to create Zoom meeting: the specialist’s Zoom authorization has expired or was revoked. A notification has been sent to the specialist to re-authorize their Zoom account.',
        hold: { id: expect.any(String), expiresAt: '2030-01-07T08:00:00.000Z' },
      });
      expect(refreshes().map((r) => r.outcome)).toEqual(['invalid_grant']);
      expect(await connection()).toMatchObject({
        status: 'invalid',
        invalid_reason: 'refresh_token_rejected',
        invalid_since: NOW.toISOString(),
        failed_booking_attempts: 1,
      });
      expect(server.reauthEvents.map((e) => e.reason)).toEqual(['refresh_token_rejected']);
      expect(await counts()).toEqual({ bookings: 1, claims: 6, meetings: 0 });

      // A second attempt does not even try Zoom: the connection is known dead.
      expect((await book('2030-01-07T10:00:00Z')).status).toBe(409);
      expect(refreshes()).toHaveLength(1);
      expect((await connection()).failed_booking_attempts).toBe(2);

      // Re-authorizing makes it valid again, and customers can book (the two held times wait for their job).
      await connectZoom(server, specialistId, server.emulator.controls.users().find((u) => u.id === zoomUserId));
      expect(await connection()).toMatchObject({ status: 'active', invalid_reason: null, invalid_since: null, failed_booking_attempts: 0 });
      expect((await book('2030-01-07T12:00:00Z')).status).toBe(201);
    });
  });

  it('refreshes before use when the access token expires within minutes, without a 401 first', async () => {
    time.advance(HOUR - 2 * 60_000);
    expect((await book()).status).toBe(201);
    expect(refreshes()).toHaveLength(1);
    expect((await connection()).version).toBe(2);
  });

  it('20 concurrent bookings with an expired access token refresh exactly once, and all confirm', async () => {
    await expireAccessToken();
    const starts = Array.from({ length: 20 }, (_, i) => new Date(Date.parse('2030-01-08T08:00:00Z') + Math.floor(i / 6) * 86_400_000 + (i % 6) * 30 * 60_000).toISOString());
    const responses = await Promise.all(starts.map((start) => book(start)));
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(201));
    expect(refreshes()).toEqual([expect.objectContaining({ outcome: 'ok' })]);
    expect(await connection()).toMatchObject({ status: 'active', version: 2, refresh_lock_owner: null, refresh_lock_until: null });
    expect(server.emulator.controls.meetings()).toHaveLength(20);
  });

  it('a 429 storm ends as zoom_unavailable, not re-auth, and a short one is retried through', async () => {
    server.emulator.controls.failNext(2, { status: 429, rateLimitType: 'QPS' });
    expect((await book()).status).toBe(201);

    server.emulator.controls.failNext(20, { status: 429, rateLimitType: 'QPS' });
    const res = await book('2030-01-07T10:00:00Z');
    expect(res.status).toBe(503);
    const body = await res.json();
    expect(body).toMatchObject({ success: false, code: 'zoom_unavailable' });
    expect(body.message).toBe(
      'Failed to create Zoom meeting: Zoom is not accepting new meetings right now. Your time was not booked; please try again in a few minutes.',
    );
    expect(body).not.toHaveProperty('requiresReAuth');
    expect(await connection()).toMatchObject({ status: 'active', failed_booking_attempts: 0 });
    expect(server.reauthEvents).toHaveLength(0);
    expect(await counts()).toEqual({ bookings: 1, claims: 6, meetings: 1 });
  });

  it('a 5xx from Zoom is retried, and a daily limit is not', async () => {
    server.emulator.controls.failNext(1, { status: 503, body: '<html>Service Unavailable</html>' });
    expect((await book()).status).toBe(201);
    server.emulator.controls.failNext(1, { status: 429, rateLimitType: 'Daily-limit', retryAfter: '2030-01-08T00:00:00Z' });
    expect((await book('2030-01-07T10:00:00Z')).status).toBe(503);
    expect(await counts()).toMatchObject({ bookings: 1, meetings: 1 });
  });

  it('a lost refresh response leaves the connection unusable: the next booking asks for re-auth', async () => {
    await expireAccessToken();
    server.emulator.controls.dropNextRefreshResponses(1);
    const first = await book();
    expect(first.status).toBe(503);
    expect((await first.json()).code).toBe('zoom_unavailable');
    expect(server.reauthEvents).toHaveLength(0);
    // Zoom rotated the pair but we never saw it: the stored refresh token is dead.
    const second = await book();
    expect(second.status).toBe(409);
    expect((await second.json()).code).toBe('requires_reauth');
    expect(await connection()).toMatchObject({ status: 'invalid', invalid_reason: 'refresh_token_rejected' });
    expect(server.reauthEvents).toHaveLength(1);
  });

  describe("answers that break Zoom's contract", () => {
    const expectZoomUnavailable = async (res: Response, reason: string) => {
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('30');
      expect(await res.json()).toEqual({
        success: false,
        code: 'zoom_unavailable',
        message: `Failed to create Zoom meeting: ${reason} Your time was not booked; please try again in a few minutes.`,
        retryAfterSeconds: 30,
      });
    };
    const meetingAnswers: [string, Record<string, unknown> | string][] = [
      ['no meeting id', { uuid: 'u1', topic: 'Intro call', join_url: 'http://127.0.0.1:9/j/1', start_url: 'http://127.0.0.1:9/s/1', agenda: '' }],
      ['an empty join URL', { id: 85746065432, join_url: '', start_url: 'http://127.0.0.1:9/s/85746065432', agenda: '' }],
      ['no start URL', { id: 85746065432, join_url: 'http://127.0.0.1:9/j/85746065432', agenda: '' }],
      ['a body that is not JSON', 'Created'],
    ];
    it.each(meetingAnswers)('a 201 with %s is zoom_unavailable: no booking, the slot free again', async (_, answer) => {
      answerNextZoomCall(201, typeof answer === 'string' ? answer : JSON.stringify(answer));
      await expectZoomUnavailable(await book(), 'Zoom sent an answer that could not be used.');
      expect(server.zoomProxy!.requests.map((r) => `${r.method} ${r.path}`).slice(-1)).toEqual(['POST /v2/users/me/meetings']);
      expect(await counts()).toEqual({ bookings: 0, claims: 0, meetings: 0 });
      expect(await connection()).toMatchObject({ status: 'active', failed_booking_attempts: 0 });
      expect(server.reauthEvents).toHaveLength(0);
      expect((await book()).status).toBe(201);
    });

    const tokenAnswers: [string, Record<string, unknown>][] = [
      ['no refresh token', { access_token: 'eyJnew.access', token_type: 'bearer', expires_in: 3599, scope: 'meeting:write user:read' }],
      ['an empty refresh token', { access_token: 'eyJnew.access', token_type: 'bearer', refresh_token: '', expires_in: 3599, scope: 'meeting:write user:read' }],
      ['no expires_in', { access_token: 'eyJnew.access', token_type: 'bearer', refresh_token: 'eyJnew.refresh', scope: 'meeting:write user:read' }],
    ];
    it.each(tokenAnswers)('a refresh answered 200 with %s is zoom_unavailable and keeps the stored tokens', async (_, answer) => {
      await expireAccessToken();
      const before = await connection();
      answerNextZoomCall(200, JSON.stringify(answer));
      await expectZoomUnavailable(await book(), 'Zoom could not be reached to renew the connection.');
      expect(await connection()).toEqual(before);
      expect(await counts()).toEqual({ bookings: 0, claims: 0, meetings: 0 });
      expect(server.reauthEvents).toHaveLength(0);
      // Zoom never saw that refresh: the stored pair still works.
      expect((await book()).status).toBe(201);
      expect(refreshes().map((r) => r.outcome)).toEqual(['ok']);
    });

    it('a code exchange answered 200 with an empty refresh token connects nothing', async () => {
      const cookie = await signInCookie(server, specialistId);
      const before = await connection();
      const back = await allowOnConsentPage(await startConnectingZoom(server.url, cookie), zoomUserId);
      // A live access token, so that only the answer's missing refresh token can stop the connection.
      answerNextZoomCall(200, JSON.stringify({ ...tokenAnswers[1]![1], access_token: await currentAccessToken() }));
      const callback = await fetch(back, { headers: { cookie } });
      expect(callback.status).toBe(400);
      expect(await callback.text()).toContain('Zoom did not accept the authorization. Please try connecting again.');
      expect(await connection()).toEqual(before);
    });

    it('a /users/me answered 200 without the user id connects nothing', async () => {
      const cookie = await signInCookie(server, specialistId);
      const before = await connection();
      const back = await allowOnConsentPage(await startConnectingZoom(server.url, cookie), zoomUserId);
      // The code exchange goes through to Zoom; the user lookup after it gets the broken answer.
      server.zoomProxy!.faults.push({ kind: 'delay', ms: 0 });
      answerNextZoomCall(200, JSON.stringify({ email: 'zoom-user@example.test', first_name: 'Zoom', last_name: 'User', account_id: 'acct_1' }));
      const callback = await fetch(back, { headers: { cookie } });
      expect(server.zoomProxy!.requests.map((r) => `${r.method} ${r.path}`).slice(-2)).toEqual(['POST /oauth/token', 'GET /v2/users/me']);
      expect(callback.status).toBe(400);
      expect(await callback.text()).toContain('Zoom did not accept the authorization. Please try connecting again.');
      expect(await connection()).toEqual(before);
    });
  });

  describe('at most one meeting per booking', () => {
    it('a retried request with the same key returns the same booking and meeting', async () => {
      const headers = { 'idempotency-key': 'same-attempt' };
      const [a, b] = await Promise.all([book(FREE_SLOT, serviceIds[0], headers), book(FREE_SLOT, serviceIds[0], headers)]);
      expect([a.status, b.status]).toEqual([201, 201]);
      expect((await a.json()).booking).toEqual((await b.json()).booking);
      expect(await counts()).toEqual({ bookings: 1, claims: 6, meetings: 1 });
    });

    const interruptedBookingId = '11111111-2222-4333-8444-555555555555';
    /**
     * What a process that died mid-way leaves behind: a pending booking whose
     * meeting request was sent, an expired lock, and the meeting at Zoom.
     */
    async function leaveInterruptedBooking() {
      const start = Date.parse(FREE_SLOT);
      await db().transaction().execute(async (trx) => {
        await trx
          .insertInto('bookings')
          .values({
            id: interruptedBookingId,
            specialist_id: specialistId,
            service_id: serviceIds[0]!,
            customer_name: 'Carla Customer',
            customer_email: 'carla@example.test',
            customer_note: null,
            customer_time_zone: null,
            start_at: FREE_SLOT,
            end_at: new Date(start + 30 * 60_000).toISOString(),
            status: 'pending',
            zoom_meeting_id: null,
            zoom_join_url: null,
            zoom_start_url_enc: null,
            idempotency_key: 'crashed-attempt',
            request_fingerprint: 'x',
            meeting_lock_until: new Date(NOW.getTime() - 1000).toISOString(),
            meeting_requested_at: new Date(NOW.getTime() - 5000).toISOString(),
            created_at: NOW.toISOString(),
            updated_at: NOW.toISOString(),
          })
          .execute();
        await trx
          .insertInto('booking_slot_claims')
          .values([0, 5, 10, 15, 20, 25].map((m) => ({ specialist_id: specialistId, block_start: start / 60_000 + m, booking_id: interruptedBookingId })))
          .execute();
      });
      return server.core.zoom.createMeeting(await currentAccessToken(), {
        topic: 'Intro call with Carla Customer',
        startTime: new Date(FREE_SLOT),
        durationMinutes: 30,
        timeZone: 'Europe/Berlin',
        agenda: `Session with Carla Customer.\n\n${bookingMarker(interruptedBookingId)}`,
      });
    }

    it('after a crash between creating the meeting and saving it, recovery adopts that meeting', async () => {
      const orphan = await leaveInterruptedBooking();
      expect(await resumeStalePendingBookings(server.services.bookings)).toBe(1);
      const row = await db().selectFrom('bookings').selectAll().where('id', '=', interruptedBookingId).executeTakeFirstOrThrow();
      expect(row).toMatchObject({ status: 'confirmed', zoom_meeting_id: orphan.id, zoom_join_url: orphan.joinUrl });
      expect(await counts()).toEqual({ bookings: 1, claims: 6, meetings: 1 });
      expect(await resumeStalePendingBookings(server.services.bookings)).toBe(0);
    });

    it("recovery finds the earlier attempt's meeting on the third page of Zoom's list, and creates none", async () => {
      server.emulator.controls.setDailyMeetingLimit(1000);
      const accessToken = await currentAccessToken();
      // 600 meetings of other bookings fill the first two pages of 300.
      for (let batch = 0; batch < 30; batch++) {
        await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            server.core.zoom.createMeeting(accessToken, {
              topic: `Meeting ${batch * 20 + i}`,
              startTime: new Date('2030-01-08T09:00:00Z'),
              durationMinutes: 30,
              timeZone: 'Europe/Berlin',
              agenda: bookingMarker(`other-${batch * 20 + i}`),
            }),
          ),
        );
      }
      const orphan = await leaveInterruptedBooking();
      const callsBefore = server.zoomProxy!.requests.length;

      expect(await resumeStalePendingBookings(server.services.bookings)).toBe(1);
      const calls = server.zoomProxy!.requests.slice(callsBefore).map((r) => `${r.method} ${r.path.replace(/next_page_token=[\w-]+/, 'next_page_token=…')}`);
      expect(calls).toEqual([
        'GET /v2/users/me/meetings?type=scheduled&page_size=300',
        'GET /v2/users/me/meetings?type=scheduled&page_size=300&next_page_token=…',
        'GET /v2/users/me/meetings?type=scheduled&page_size=300&next_page_token=…',
        `GET /v2/meetings/${orphan.id}`,
      ]);
      const row = await db().selectFrom('bookings').selectAll().where('id', '=', interruptedBookingId).executeTakeFirstOrThrow();
      expect(row).toMatchObject({ status: 'confirmed', zoom_meeting_id: orphan.id, zoom_join_url: orphan.joinUrl });
      expect(server.emulator.controls.meetings()).toHaveLength(601);
    });

    it('a meeting list that hands out one page token twice is refused as malformed, not paged for ever', async () => {
      const accessToken = await currentAccessToken();
      const looping = { kind: 'respond' as const, status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ page_size: 300, total_records: 900, next_page_token: 'again', meetings: [] }) };
      server.zoomProxy!.faults.push(looping, looping, looping);
      const callsBefore = server.zoomProxy!.requests.length;
      const error = await server.core.zoom.findMeetingsByAgendaMarker(accessToken, bookingMarker('lost')).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ZoomMalformedAnswerError);
      expect((error as Error).message).toBe("Zoom's list_meetings answer breaks its contract: a page token came back twice");
      expect(server.zoomProxy!.requests.length - callsBefore).toBe(2);
      server.zoomProxy!.faults.length = 0;
    });

    it('a stale pending booking whose meeting was never created gets one on recovery', async () => {
      const res = await book();
      const { booking } = await res.json();
      await db().updateTable('bookings').set({ status: 'pending', zoom_meeting_id: null, meeting_lock_until: null, meeting_requested_at: null }).execute();
      await server.core.zoom.deleteMeeting(
        ((await server.services.connections.getAccessToken(specialistId)) as { accessToken: string }).accessToken,
        String(server.emulator.controls.meetings()[0]!.id),
      );
      // A sweep of a server shutting down leaves it for another instance.
      expect(await resumeStalePendingBookings(server.services.bookings, AbortSignal.abort())).toBe(0);
      expect(server.emulator.controls.meetings()).toHaveLength(0);
      expect(await resumeStalePendingBookings(server.services.bookings)).toBe(1);
      expect(server.emulator.controls.meetings()).toHaveLength(1);
      const row = await db().selectFrom('bookings').selectAll().where('id', '=', booking.id).executeTakeFirstOrThrow();
      expect(row.status).toBe('confirmed');
      expect(row.zoom_meeting_id).toBe(String(server.emulator.controls.meetings()[0]!.id));
    });
  });

  describe('calls the caller may stop (issue #15)', () => {
    it('deleteMeeting counts a meeting Zoom no longer knows (404 code 3001) as deleted', async () => {
      expect((await book()).status).toBe(201);
      const id = String(server.emulator.controls.meetings()[0]!.id);
      const token = await currentAccessToken();
      await server.core.zoom.deleteMeeting(token, id);
      expect(server.emulator.controls.meetings()).toEqual([]);
      await expect(server.core.zoom.deleteMeeting(token, id)).resolves.toBeUndefined();
      // Another refusal is still an error.
      answerNextZoomCall(400, JSON.stringify({ code: 300, message: 'Invalid meeting id.' }));
      await expect(server.core.zoom.deleteMeeting(token, id)).rejects.toMatchObject({ status: 400, code: 300 });
    });

    it('an abort ends a create call Zoom is slow to answer, with the signal’s reason, not a network error', async () => {
      const token = await currentAccessToken();
      const input = { topic: 'Intro call', startTime: new Date(FREE_SLOT), durationMinutes: 30, timeZone: 'Europe/Berlin', agenda: 'x' };
      const controller = new AbortController();
      let release!: () => void;
      server.zoomProxy!.faults.push({ kind: 'hold', release: new Promise<void>((resolve) => (release = resolve)) });
      const call = server.core.zoom.createMeeting(token, input, { signal: controller.signal });
      await vi.waitFor(() => expect(server.zoomProxy!.requests.filter((r) => r.path === '/v2/users/me/meetings')).toHaveLength(1), { interval: 5 });
      const reason = new Error('deadline');
      controller.abort(reason);
      await expect(call).rejects.toBe(reason);
      release();
    });

    it('an abort during the wait before a retry ends the call at once', async () => {
      let startWait!: () => void;
      const waiting = new Promise<void>((resolve) => (startWait = resolve));
      // A client whose waits between attempts never end by themselves: only the abort can end this one.
      const zoom = createZoomClient({
        clientId: server.emulator.clientId,
        clientSecret: server.emulator.clientSecret,
        redirectUri: `${server.url}/oauth/zoom/callback`,
        apiBaseUrl: `${server.emulator.url}/v2`,
        sleep: () => {
          startWait();
          return new Promise<void>(() => {});
        },
      });
      server.emulator.controls.failNext(1, { status: 429, rateLimitType: 'QPS' });
      const controller = new AbortController();
      const input = { topic: 'Intro call', startTime: new Date(FREE_SLOT), durationMinutes: 30, timeZone: 'Europe/Berlin', agenda: 'x' };
      const call = zoom.createMeeting(await currentAccessToken(), input, { signal: controller.signal });
      await waiting;
      const reason = new Error('lease lost');
      controller.abort(reason);
      await expect(call).rejects.toBe(reason);
      expect(server.emulator.controls.meetings()).toEqual([]);
    });
  });

  describe('moving a meeting (issue #16)', () => {
    const change = { startTime: new Date('2030-01-08T13:00:00Z'), durationMinutes: 45, timeZone: 'America/New_York' };
    const bookedMeeting = async () => {
      expect((await book()).status).toBe(201);
      return server.emulator.controls.meetings(zoomUserId)[0]!;
    };
    const patches = () => server.zoomProxy!.requests.filter((r) => r.method === 'PATCH');

    it('updateMeeting moves the meeting with one PATCH; it keeps its id and join link; metrics name it update_meeting', async () => {
      const before = await bookedMeeting();
      await expect(server.core.zoom.updateMeeting(await currentAccessToken(), String(before.id), change)).resolves.toBeUndefined();
      expect(server.emulator.controls.meetings(zoomUserId)).toEqual([{ ...before, start_time: '2030-01-08T13:00:00Z', duration: 45, timezone: 'America/New_York' }]);
      expect(patches().map((r) => r.path)).toEqual([`/v2/meetings/${before.id}`]);
      const scrape = await server.metrics.scrape();
      expect(scrape).toMatch(/zoom_request_duration_seconds_count\{operation="update_meeting"\} 1\n/);
      expect(scrape).not.toMatch(/zoom_errors_total\{operation="update_meeting"/);
    });

    it('updateMeeting on a meeting Zoom no longer knows throws ZoomMeetingNotFoundError; other refusals stay plain ZoomApiErrors', async () => {
      const meeting = await bookedMeeting();
      const token = await currentAccessToken();
      await server.core.zoom.deleteMeeting(token, String(meeting.id));
      const gone = await server.core.zoom.updateMeeting(token, String(meeting.id), change).catch((error: unknown) => error);
      expect(gone).toBeInstanceOf(ZoomMeetingNotFoundError);
      expect(gone).toBeInstanceOf(ZoomApiError);
      expect(gone).toMatchObject({ meetingId: String(meeting.id), status: 404, code: 3001, message: `Meeting does not exist: ${meeting.id}.` });

      answerNextZoomCall(404, JSON.stringify({ code: 1001, message: 'User does not exist.' }));
      const otherNotFound = await server.core.zoom.updateMeeting(token, String(meeting.id), change).catch((error: unknown) => error);
      expect(otherNotFound).toBeInstanceOf(ZoomApiError);
      expect(otherNotFound).not.toBeInstanceOf(ZoomMeetingNotFoundError);
      expect(otherNotFound).toMatchObject({ status: 404, code: 1001 });
    });

    it('updateMeeting refuses invalid fields with code 300 and no retry', async () => {
      const meeting = await bookedMeeting();
      const token = await currentAccessToken();
      const invalid = await server.core.zoom.updateMeeting(token, String(meeting.id), { ...change, timeZone: 'Mars/Olympus' }).catch((error: unknown) => error);
      expect(invalid).toBeInstanceOf(ZoomApiError);
      expect(invalid).not.toBeInstanceOf(ZoomMeetingNotFoundError);
      expect(invalid).toMatchObject({ status: 400, code: 300 });
      expect(patches()).toHaveLength(1);
      expect(server.emulator.controls.meetings(zoomUserId)).toEqual([meeting]);
    });

    it('updateMeeting retries a 5xx and a QPS 429 through, and does not retry a daily limit', async () => {
      const meeting = await bookedMeeting();
      const token = await currentAccessToken();
      server.emulator.controls.failNext(1, { status: 503, body: '<html>Service Unavailable</html>' });
      server.emulator.controls.failNext(1, { status: 429, rateLimitType: 'QPS' });
      await server.core.zoom.updateMeeting(token, String(meeting.id), change);
      expect(patches()).toHaveLength(3);
      expect(server.emulator.controls.meetings(zoomUserId)[0]).toMatchObject({ start_time: '2030-01-08T13:00:00Z' });
      expect(await server.metrics.scrape()).toMatch(/zoom_errors_total\{operation="update_meeting",kind="5xx"\} 1\n/);

      server.emulator.controls.failNext(1, { status: 429, rateLimitType: 'Daily-limit', retryAfter: '2030-01-08T00:00:00Z' });
      await expect(server.core.zoom.updateMeeting(token, String(meeting.id), { ...change, durationMinutes: 90 })).rejects.toMatchObject({ status: 429, rateLimitType: 'Daily-limit' });
      expect(patches()).toHaveLength(4);
      expect(server.emulator.controls.meetings(zoomUserId)[0]).toMatchObject({ duration: 45 });
    });

    it('an abort ends an update Zoom is slow to answer, with the signal’s reason', async () => {
      const meeting = await bookedMeeting();
      const token = await currentAccessToken();
      const controller = new AbortController();
      let release!: () => void;
      server.zoomProxy!.faults.push({ kind: 'hold', release: new Promise<void>((resolve) => (release = resolve)) });
      const call = server.core.zoom.updateMeeting(token, String(meeting.id), change, { signal: controller.signal });
      await vi.waitFor(() => expect(patches()).toHaveLength(1), { interval: 5 });
      const reason = new Error('lease lost');
      controller.abort(reason);
      await expect(call).rejects.toBe(reason);
      release();
    });
  });

  describe('connecting', () => {
    it('stores tokens encrypted; no token appears in API answers or pages', async () => {
      const row = await connection();
      const accessToken = server.cipher.decrypt(row.access_token_enc, `${specialistId}:access`);
      const refreshToken = server.cipher.decrypt(row.refresh_token_enc, `${specialistId}:refresh`);
      expect(accessToken.length).toBeGreaterThan(30);
      expect(row.access_token_enc).not.toContain(accessToken);
      expect(row.refresh_token_enc).not.toContain(refreshToken);
      // The ciphertext is bound to its row: it does not decrypt for another specialist.
      expect(() => server.cipher.decrypt(row.access_token_enc, 'someone-else:access')).toThrow();
      const cookie = await signInCookie(server, specialistId);
      const page = await (await fetch(`${server.url}/settings`, { headers: { cookie } })).text();
      const booking = await (await book()).text();
      for (const text of [page, booking]) {
        expect(text).not.toContain(accessToken);
        expect(text).not.toContain(refreshToken);
      }
      expect(page).toContain('Healthy');
      expect(page).toContain(row.zoom_email);
    });

    it('a denied consent lands on the settings page with a clear message', async () => {
      const cookie = await signInCookie(server, specialistId);
      const back = await allowOnConsentPage(await startConnectingZoom(server.url, cookie), zoomUserId, 'deny');
      expect(back).toMatch(/error=access_denied/);
      const callback = await fetch(back, { headers: { cookie }, redirect: 'manual' });
      expect(callback.status).toBe(303);
      expect(callback.headers.get('location')).toBe('/settings?zoom=denied#zoom');
      const page = await (await fetch(`${server.url}/settings?zoom=denied`, { headers: { cookie } })).text();
      expect(page).toContain('Zoom was not connected: the authorization was declined on Zoom’s page.');
    });

    it('refuses a bad, reused, expired or foreign state with a clear page and changes nothing', async () => {
      const cookie = await signInCookie(server, specialistId);
      const before = await connection();
      const bad = await fetch(`${server.url}/oauth/zoom/callback?code=x&state=forged`, { headers: { cookie } });
      expect(bad.status).toBe(400);
      const badPage = await bad.text();
      expect(badPage).toContain('This Zoom authorization is not one we started. Please start connecting again.');
      expect(badPage).not.toMatch(/at .*\.ts:\d+/);

      const back = await allowOnConsentPage(await startConnectingZoom(server.url, cookie), zoomUserId);
      const other = await seedSpecialist(db(), { slug: 'olga', email: 'olga@example.test' });
      const foreign = await fetch(back, { headers: { cookie: await signInCookie(server, other.specialistId) } });
      expect(foreign.status).toBe(400);
      expect(await foreign.text()).toContain('started in another session');
      expect((await fetch(back, { headers: { cookie }, redirect: 'manual' })).status).toBe(303);
      const reused = await fetch(back, { headers: { cookie } });
      expect(reused.status).toBe(400);
      expect(await reused.text()).toContain('has expired or was already used');

      const lateBack = await allowOnConsentPage(await startConnectingZoom(server.url, cookie), zoomUserId);
      time.advance(11 * 60_000);
      const expired = await fetch(lateBack, { headers: { cookie } });
      expect(expired.status).toBe(400);
      // Only the one legitimate callback changed the connection.
      expect((await connection()).version).toBe(before.version + 1);
      expect(await db().selectFrom('zoom_connections').select('specialist_id').where('specialist_id', '=', other.specialistId).execute()).toEqual([]);
    });

    it('starts the flow only on a POST with the session’s CSRF token; a signed-out visitor is asked to sign in', async () => {
      const cookie = await signInCookie(server, specialistId);
      const states = () => db().selectFrom('oauth_states').select('state_hash').execute();
      const before = (await states()).length;
      const post = (headers: Record<string, string>, body: string) =>
        fetch(`${server.url}/settings/zoom/connect`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body, redirect: 'manual' });
      // A GET changes nothing any more (it used to start the flow).
      expect((await fetch(`${server.url}/settings/zoom/connect`, { headers: { cookie }, redirect: 'manual' })).status).toBe(404);
      const forged = await post({ cookie }, '_csrf=wrong');
      expect(forged.status).toBe(403);
      expect(await forged.text()).toContain('This form has expired');
      const signedOut = await post({}, '_csrf=wrong');
      expect(signedOut.status).toBe(303);
      expect(signedOut.headers.get('location')).toBe('/sign-in?next=%2Fsettings%23zoom');
      expect((await states()).length).toBe(before);
      expect(await startConnectingZoom(server.url, cookie)).toMatch(new RegExp(`^${server.zoomProxy!.url}/oauth/authorize\\?`));
      expect((await states()).length).toBe(before + 1);
    });

    it('disconnect revokes the token at Zoom and forgets the connection; it needs the CSRF token', async () => {
      const cookie = await signInCookie(server, specialistId);
      const row = await connection();
      const accessToken = server.cipher.decrypt(row.access_token_enc, `${specialistId}:access`);
      const forged = await fetch(`${server.url}/settings/zoom/disconnect`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: '_csrf=wrong',
        redirect: 'manual',
      });
      expect(forged.status).toBe(403);
      expect(await db().selectFrom('zoom_connections').select('status').execute()).toHaveLength(1);
      const page = await (await fetch(`${server.url}/settings`, { headers: { cookie } })).text();
      const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1]!;
      const res = await fetch(`${server.url}/settings/zoom/disconnect`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: csrf }),
        redirect: 'manual',
      });
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe('/settings?zoom=disconnected#zoom');
      expect(await db().selectFrom('zoom_connections').select('status').execute()).toEqual([]);
      const me = await fetch(`${server.emulator.apiBaseUrl}/users/me`, { headers: { authorization: `Bearer ${accessToken}` } });
      expect(me.status).toBe(401);
    });
  });

  describe('deauthorization webhook', () => {
    const post = (body: string, headers: Record<string, string>) =>
      fetch(`${server.url}/webhooks/zoom`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

    it("marks the Zoom user's connection revoked on a signed app_deauthorized, idempotently", async () => {
      const res = await server.emulator.controls.sendDeauthorization(zoomUserId, `${server.url}/webhooks/zoom`);
      expect(res.status).toBe(204);
      expect(await connection()).toMatchObject({ status: 'revoked', invalid_reason: 'deauthorized_in_zoom' });
      const again = await server.emulator.controls.sendDeauthorization(zoomUserId, `${server.url}/webhooks/zoom`);
      expect(again.status).toBe(204);
      expect((await connection()).status).toBe('revoked');
      const booking = await book();
      expect(booking.status).toBe(409);
      expect((await booking.json()).message).toContain('the specialist’s Zoom connection was removed in Zoom');
      expect(server.reauthEvents.map((e) => e.reason)).toEqual(['deauthorized_in_zoom']);
    });

    it('refuses a forged or stale signature with 401 and changes nothing', async () => {
      const body = JSON.stringify({ event: 'app_deauthorized', payload: { user_id: zoomUserId, account_id: 'a' } });
      const ts = String(Math.floor(NOW.getTime() / 1000));
      const forged = `v0=${createHmac('sha256', 'not-the-secret').update(`v0:${ts}:${body}`).digest('hex')}`;
      const res = await post(body, { 'x-zm-request-timestamp': ts, 'x-zm-signature': forged });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ success: false, code: 'invalid_signature', message: 'The webhook signature is missing, wrong, or outside the 5-minute window.' });
      const stale = server.emulator.controls.signWebhook(body, Math.floor(NOW.getTime() / 1000) - 600);
      expect((await post(body, stale)).status).toBe(401);
      const tampered = server.emulator.controls.signWebhook(body, Number(ts));
      expect((await post(body.replace(zoomUserId, 'someone'), tampered)).status).toBe(401);
      expect((await post(body, {})).status).toBe(401);
      expect((await connection()).status).toBe('active');
    });

    it('refuses timestamps more than 5 minutes from now in either direction, past or future', async () => {
      const body = JSON.stringify({ event: 'endpoint.url_validation', payload: { plainToken: 'abc123' }, event_ts: NOW.getTime() });
      const now = Math.floor(NOW.getTime() / 1000);
      const statusAt = async (offsetSeconds: number) => (await post(body, server.emulator.controls.signWebhook(body, now + offsetSeconds))).status;
      expect(await statusAt(301)).toBe(401);
      expect(await statusAt(3600)).toBe(401);
      expect(await statusAt(-301)).toBe(401);
      expect(await statusAt(300)).toBe(200);
      expect(await statusAt(-300)).toBe(200);
      const future = await post(body, server.emulator.controls.signWebhook(body, now + 301));
      expect(await future.json()).toEqual({ success: false, code: 'invalid_signature', message: 'The webhook signature is missing, wrong, or outside the 5-minute window.' });
    });

    it("answers Zoom's URL validation challenge", async () => {
      const body = JSON.stringify({ event: 'endpoint.url_validation', payload: { plainToken: 'abc123' }, event_ts: NOW.getTime() });
      const res = await post(body, server.emulator.controls.signWebhook(body, Math.floor(NOW.getTime() / 1000)));
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        plainToken: 'abc123',
        encryptedToken: createHmac('sha256', server.emulator.webhookSecret).update('abc123').digest('hex'),
      });
    });
  });
});
