/**
 * The Zoom emulator follows ../shared/zoom-contract.md, checked over real
 * HTTP, so the rest of the project can trust it as a stand-in for Zoom.
 */
import { createHash, createHmac } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startZoomEmulator, type RunningZoomEmulator } from '../../server/zoom-emulator/index.js';
import { createTestClock, NOW } from './helpers/fixtures.js';
import { allowOnConsentPage } from './helpers/server.js';

const REDIRECT = 'http://127.0.0.1:9/callback';

describe('Zoom emulator', () => {
  let zoom: RunningZoomEmulator;
  let time: ReturnType<typeof createTestClock>;
  let userId: string;

  beforeEach(async () => {
    time = createTestClock(NOW);
    zoom = await startZoomEmulator({ clock: time.clock, dailyMeetingLimit: 3 });
    userId = zoom.controls.addUser({ first_name: 'Ada', last_name: 'Host', display_name: 'Ada Host', email: 'ada@zoom.test' }).id;
  });
  afterEach(() => zoom.close());

  const basic = () => `Basic ${Buffer.from(`${zoom.clientId}:${zoom.clientSecret}`).toString('base64')}`;
  const tokenCall = (params: Record<string, string>, auth = basic()) =>
    fetch(`${zoom.url}/oauth/token`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params),
    });
  const api = (path: string, token: string, init: RequestInit = {}) =>
    fetch(`${zoom.apiBaseUrl}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers } });
  const authorizeUrl = (extra: Record<string, string> = {}) =>
    `${zoom.url}/oauth/authorize?${new URLSearchParams({ response_type: 'code', client_id: zoom.clientId, redirect_uri: REDIRECT, state: 's1', ...extra })}`;

  async function authorize(verifier = 'v'.repeat(50)): Promise<{ code: string; verifier: string }> {
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const location = await allowOnConsentPage(authorizeUrl({ code_challenge: challenge, code_challenge_method: 'S256' }), userId);
    const url = new URL(location);
    expect(url.origin + url.pathname).toBe(REDIRECT);
    expect(url.searchParams.get('state')).toBe('s1');
    return { code: url.searchParams.get('code')!, verifier };
  }
  async function tokens() {
    const { code, verifier } = await authorize();
    const res = await tokenCall({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier });
    expect(res.status).toBe(200);
    return (await res.json()) as { access_token: string; refresh_token: string };
  }

  describe('OAuth', () => {
    it('runs the PKCE code flow through a real consent page', async () => {
      const page = await (await fetch(authorizeUrl())).text();
      expect(page).toContain('<html lang="en">');
      expect(page).toContain('<label for="user_id">Zoom account</label>');
      expect(page).toContain('<button class="allow" type="submit" name="decision" value="allow">Allow</button>');
      expect(page).toContain('Ada Host (ada@zoom.test)');
      const { code, verifier } = await authorize();
      const res = await tokenCall({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier });
      const body = await res.json();
      expect(body).toEqual({
        access_token: expect.any(String),
        token_type: 'bearer',
        refresh_token: expect.any(String),
        expires_in: 3599,
        scope: 'meeting:write user:read',
      });
      expect(body.access_token.length).toBeGreaterThan(40);
    });

    it('refuses a wrong verifier, a reused code, an expired code and a bad client', async () => {
      const first = await authorize();
      const wrong = await tokenCall({ grant_type: 'authorization_code', code: first.code, redirect_uri: REDIRECT, code_verifier: 'x'.repeat(50) });
      expect(wrong.status).toBe(400);
      expect(await wrong.json()).toEqual({ reason: `Invalid authorization code ${first.code}`, error: 'invalid_grant' });

      const second = await authorize();
      const ok = { grant_type: 'authorization_code', code: second.code, redirect_uri: REDIRECT, code_verifier: second.verifier };
      expect((await tokenCall(ok)).status).toBe(200);
      expect((await (await tokenCall(ok)).json()).error).toBe('invalid_grant');

      const third = await authorize();
      time.advance(5 * 60_000 + 1);
      expect((await (await tokenCall({ grant_type: 'authorization_code', code: third.code, redirect_uri: REDIRECT, code_verifier: third.verifier })).json()).error).toBe('invalid_grant');

      const bad = await tokenCall(ok, `Basic ${Buffer.from(`${zoom.clientId}:nope`).toString('base64')}`);
      expect(bad.status).toBe(400);
      expect(await bad.json()).toEqual({ reason: 'Invalid client_id or client_secret', error: 'invalid_client' });
    });

    it('accepts the parameters in the query string too', async () => {
      const { code, verifier } = await authorize();
      const qs = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier });
      const res = await fetch(`${zoom.url}/oauth/token?${qs}`, { method: 'POST', headers: { authorization: basic() } });
      expect(res.status).toBe(200);
    });

    it('redirects with error=access_denied on Deny', async () => {
      const location = new URL(await allowOnConsentPage(authorizeUrl(), userId, 'deny'));
      expect(location.searchParams.get('error')).toBe('access_denied');
      expect(location.searchParams.get('state')).toBe('s1');
      expect(location.searchParams.get('code')).toBeNull();
    });

    it('shows an error page, not a redirect, for a bad client or redirect URI, and escapes what it echoes', async () => {
      const bad = await fetch(authorizeUrl({ client_id: 'unknown' }), { redirect: 'manual' });
      expect(bad.status).toBe(400);
      expect(await bad.text()).toContain('Invalid client_id.');
      expect((await fetch(authorizeUrl({ redirect_uri: 'javascript:alert(1)' }), { redirect: 'manual' })).status).toBe(400);
      const hostile = await (await fetch(authorizeUrl({ state: '"><script>alert(1)</script>' }))).text();
      expect(hostile).not.toContain('<script>alert(1)</script>');
      expect(hostile).toContain('value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"');
    });

    it('rotates refresh tokens: the old one is dead at once, the old access token lives on', async () => {
      const first = await tokens();
      const refreshed = await tokenCall({ grant_type: 'refresh_token', refresh_token: first.refresh_token });
      expect(refreshed.status).toBe(200);
      const second = await refreshed.json();
      expect(second.refresh_token).not.toBe(first.refresh_token);
      const reused = await tokenCall({ grant_type: 'refresh_token', refresh_token: first.refresh_token });
      expect(reused.status).toBe(400);
      expect(await reused.json()).toEqual({ reason: 'Invalid Token!', error: 'invalid_grant' });
      expect((await api('/users/me', first.access_token)).status).toBe(200);
      expect((await api('/users/me', second.access_token)).status).toBe(200);
    });

    it("a new authorization invalidates the user's earlier tokens", async () => {
      const first = await tokens();
      await tokens();
      expect(await (await api('/users/me', first.access_token)).json()).toEqual({ code: 124, message: 'Invalid access token.' });
      expect((await (await tokenCall({ grant_type: 'refresh_token', refresh_token: first.refresh_token })).json()).error).toBe('invalid_grant');
    });

    it('revokes an access token and its refresh token', async () => {
      const pair = await tokens();
      const res = await fetch(`${zoom.url}/oauth/revoke`, {
        method: 'POST',
        headers: { authorization: basic(), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: pair.access_token }),
      });
      expect(await res.json()).toEqual({ status: 'success' });
      expect((await api('/users/me', pair.access_token)).status).toBe(401);
      expect((await (await tokenCall({ grant_type: 'refresh_token', refresh_token: pair.refresh_token })).json()).error).toBe('invalid_grant');
    });

    it('drops a refresh response after rotating: the lost-response case', async () => {
      const pair = await tokens();
      zoom.controls.dropNextRefreshResponses(1);
      await expect(tokenCall({ grant_type: 'refresh_token', refresh_token: pair.refresh_token })).rejects.toThrow();
      expect((await (await tokenCall({ grant_type: 'refresh_token', refresh_token: pair.refresh_token })).json()).error).toBe('invalid_grant');
      expect(zoom.controls.tokenRequests().map((r) => `${r.grantType}:${r.outcome}`)).toEqual([
        'authorization_code:ok',
        'refresh_token:dropped',
        'refresh_token:invalid_grant',
      ]);
    });
  });

  describe('REST API', () => {
    it('answers /users/me', async () => {
      const { access_token } = await tokens();
      expect(await (await api('/users/me', access_token)).json()).toMatchObject({ id: userId, email: 'ada@zoom.test', display_name: 'Ada Host', type: 2, status: 'active' });
    });

    it('creates (201), lists, reads and deletes (204) meetings, then 404 code 3001', async () => {
      const { access_token } = await tokens();
      const created = await api('/users/me/meetings', access_token, {
        method: 'POST',
        body: JSON.stringify({ topic: 'Intro', type: 2, start_time: '2030-01-08T09:00:00Z', duration: 30, timezone: 'Europe/Berlin', agenda: 'Ref 42' }),
      });
      expect(created.status).toBe(201);
      const meeting = await created.json();
      expect(meeting).toMatchObject({ topic: 'Intro', type: 2, start_time: '2030-01-08T09:00:00Z', duration: 30, timezone: 'Europe/Berlin', agenda: 'Ref 42', host_id: userId, host_email: 'ada@zoom.test', created_at: '2030-01-07T06:00:00Z' });
      expect(meeting.id).toBeTypeOf('number');
      expect(meeting.join_url).toMatch(new RegExp(`^${zoom.url}/j/${meeting.id}\\?pwd=`));
      expect(meeting.start_url).toMatch(/\/s\/\d+\?zak=/);
      const list = await (await api('/users/me/meetings?type=scheduled&page_size=300', access_token)).json();
      expect(list).toMatchObject({ total_records: 1, page_size: 300, meetings: [{ id: meeting.id, agenda: 'Ref 42', join_url: meeting.join_url }] });
      expect((await api(`/meetings/${meeting.id}`, access_token)).status).toBe(200);
      expect((await api(`/meetings/${meeting.id}`, access_token, { method: 'DELETE' })).status).toBe(204);
      const gone = await api(`/meetings/${meeting.id}`, access_token, { method: 'DELETE' });
      expect(gone.status).toBe(404);
      expect(await gone.json()).toEqual({ code: 3001, message: `Meeting does not exist: ${meeting.id}.` });
    });

    it('validates meetings with code 300 and field errors', async () => {
      const { access_token } = await tokens();
      const res = await api('/users/me/meetings', access_token, { method: 'POST', body: JSON.stringify({ topic: 'x'.repeat(201), start_time: 'soon', duration: 0 }) });
      expect(res.status).toBe(400);
      const body = await res.json();
      expect(body.code).toBe(300);
      expect(body.errors.map((e: { field: string }) => e.field)).toEqual(['topic', 'start_time', 'duration']);
    });

    it('answers 401 code 124 for expired, revoked, missing or query-string tokens', async () => {
      const { access_token } = await tokens();
      zoom.controls.expireAccessTokens(userId);
      const expired = await api('/users/me', access_token);
      expect(expired.status).toBe(401);
      expect(await expired.json()).toEqual({ code: 124, message: 'Access token is expired.' });
      const fresh = await tokens();
      zoom.controls.revokeAllTokens(userId);
      expect(await (await api('/users/me', fresh.access_token)).json()).toEqual({ code: 124, message: 'Invalid access token.' });
      expect((await fetch(`${zoom.apiBaseUrl}/users/me`)).status).toBe(401);
      const third = await tokens();
      expect((await fetch(`${zoom.apiBaseUrl}/users/me?access_token=${third.access_token}`)).status).toBe(401);
    });

    it('expires access tokens by the clock and the configured lifetime', async () => {
      zoom.controls.setTokenLifetimes({ accessTokenSeconds: 60 });
      const { access_token } = await tokens();
      time.advance(59_000);
      expect((await api('/users/me', access_token)).status).toBe(200);
      time.advance(2_000);
      expect((await api('/users/me', access_token)).status).toBe(401);
    });

    it('fails the next calls on demand: 5xx (even non-JSON) and 429 with Zoom headers', async () => {
      const { access_token } = await tokens();
      zoom.controls.failNext(1, { status: 503, body: '<html>Service Unavailable</html>' });
      zoom.controls.failNext(1, { status: 429 });
      const down = await api('/users/me', access_token);
      expect(down.status).toBe(503);
      expect(await down.text()).toBe('<html>Service Unavailable</html>');
      const limited = await api('/users/me', access_token);
      expect(limited.status).toBe(429);
      expect(limited.headers.get('x-ratelimit-type')).toBe('QPS');
      expect(await limited.json()).toEqual({ code: 429, message: 'You have reached the maximum per-second rate limit for this API. Try again later.' });
      expect((await api('/users/me', access_token)).status).toBe(200);
    });

    it('enforces the daily meeting-create limit with Daily-limit headers and an ISO Retry-After', async () => {
      zoom.controls.setTokenLifetimes({ accessTokenSeconds: 2 * 86_400 });
      const { access_token } = await tokens();
      const create = () => api('/users/me/meetings', access_token, { method: 'POST', body: JSON.stringify({ topic: 't', type: 2, start_time: '2030-01-08T09:00:00Z', duration: 30 }) });
      for (let i = 0; i < 3; i++) expect((await create()).status).toBe(201);
      const limited = await create();
      expect(limited.status).toBe(429);
      expect(limited.headers.get('x-ratelimit-type')).toBe('Daily-limit');
      expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');
      expect(limited.headers.get('retry-after')).toBe('2030-01-08T00:00:00Z');
      expect((await limited.json()).message).toContain('daily rate limit (3)');
      time.advance(18 * 3_600_000);
      expect((await create()).status).toBe(201);
    });
  });

  describe('webhooks', () => {
    it('sends a signed app_deauthorized event and revokes the user tokens', async () => {
      const pair = await tokens();
      const received: { headers: http.IncomingHttpHeaders; body: string }[] = [];
      const receiver = http.createServer((req, res) => {
        let body = '';
        req.on('data', (c) => (body += c));
        req.on('end', () => {
          received.push({ headers: req.headers, body });
          res.writeHead(204).end();
        });
      });
      receiver.listen(0, '127.0.0.1');
      await once(receiver, 'listening');
      try {
        const res = await zoom.controls.sendDeauthorization(userId, `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`);
        expect(res.status).toBe(204);
        const [{ headers, body }] = received as [{ headers: http.IncomingHttpHeaders; body: string }];
        const ts = headers['x-zm-request-timestamp'] as string;
        expect(ts).toBe(String(Math.floor(NOW.getTime() / 1000)));
        expect(headers['x-zm-signature']).toBe(`v0=${createHmac('sha256', zoom.webhookSecret).update(`v0:${ts}:${body}`).digest('hex')}`);
        const event = JSON.parse(body);
        expect(event).toMatchObject({ event: 'app_deauthorized', event_ts: NOW.getTime(), payload: { user_id: userId, client_id: zoom.clientId, deauthorization_time: NOW.toISOString() } });
        expect((await api('/users/me', pair.access_token)).status).toBe(401);
      } finally {
        receiver.close();
      }
    });

    it('signs bodies as Zoom does', () => {
      const headers = zoom.controls.signWebhook('{"a":1}', 1_700_000_000);
      expect(headers).toEqual({
        'x-zm-request-timestamp': '1700000000',
        'x-zm-signature': `v0=${createHmac('sha256', zoom.webhookSecret).update('v0:1700000000:{"a":1}').digest('hex')}`,
      });
    });
  });

  it('offers demo controls over HTTP', async () => {
    const pair = await tokens();
    const page = await (await fetch(`${zoom.url}/__emulator`)).text();
    expect(page).toContain('Ada Host');
    const revoke = await fetch(`${zoom.url}/__emulator/users/${userId}/revoke`, { method: 'POST', redirect: 'manual' });
    expect(revoke.status).toBe(303);
    expect((await api('/users/me', pair.access_token)).status).toBe(401);
  });
});
