/**
 * The Zoom emulator, driven like a browser and a Zoom client would: over real
 * HTTP with global fetch, exact statuses and bodies, a controllable clock.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createZoomEmulator, startZoomEmulator, type EmulatorUser, type RunningZoomEmulator } from '../../server/zoom-emulator/index.js';
import { createTestClock, NOW } from './helpers/fixtures.js';

const REDIRECT = 'http://127.0.0.1:9/oauth/zoom/callback';
const SCOPE = 'meeting:write user:read';
const VERIFIER = 'a-long-enough-pkce-verifier-0123456789-abcdefghijklmn';
const S256 = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');

interface Tokens {
  access_token: string;
  refresh_token: string;
}

function decodeEntities(value: string): string {
  return value.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** The hidden inputs of the consent page's form, decoded as a browser would. */
function hiddenInputs(html: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [input] of html.matchAll(/<input[^>]*type="hidden"[^>]*>/g)) {
    const name = /name="([^"]*)"/.exec(input)?.[1];
    if (name) fields[decodeEntities(name)] = decodeEntities(/value="([^"]*)"/.exec(input)?.[1] ?? '');
  }
  return fields;
}

/** What a browser sends with a request from a page of another site, or another origin on this one. */
const CROSS_SITE: Record<string, string>[] = [
  { origin: 'https://attacker.example', 'sec-fetch-site': 'cross-site' },
  { origin: 'https://attacker.example' },
  { 'sec-fetch-site': 'cross-site' },
  // Another origin on the same site (the app on localhost:3000, the emulator on :3001) is not the emulator's own page either.
  { origin: 'http://127.0.0.1:9', 'sec-fetch-site': 'same-site' },
  { origin: 'null' },
];

describe('Zoom emulator over HTTP', () => {
  let zoom: RunningZoomEmulator;
  let time: ReturnType<typeof createTestClock>;
  let ada: EmulatorUser;

  beforeEach(async () => {
    time = createTestClock(NOW);
    zoom = await startZoomEmulator({ redirectUri: REDIRECT, clock: time.clock, dailyMeetingLimit: 5, clientId: 'client-1', clientSecret: 'secret-1', webhookSecret: 'whsec-1' });
    ada = zoom.controls.addUser({ first_name: 'Ada', last_name: 'Host', display_name: 'Ada Host', email: 'ada@zoom.test', timezone: 'Europe/Berlin' });
  });
  afterEach(() => zoom.close());

  const basic = (id = zoom.clientId, secret = zoom.clientSecret) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
  const form = (path: string, params: Record<string, string>, auth = basic()) =>
    fetch(`${zoom.url}${path}`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(params) });
  const token = (params: Record<string, string>, auth?: string) => form('/oauth/token', params, auth);
  const api = (path: string, accessToken: string, init: RequestInit = {}) =>
    fetch(`${zoom.apiBaseUrl}${path}`, { ...init, headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json', ...init.headers } });
  const pkce = { code_challenge: S256(VERIFIER), code_challenge_method: 'S256' };
  const authorizeUrl = (params: Record<string, string> = {}) =>
    `${zoom.url}/oauth/authorize?${new URLSearchParams({ response_type: 'code', client_id: zoom.clientId, redirect_uri: REDIRECT, state: 'st-1', ...pkce, ...params })}`;

  /** Opens the consent page, submits its form like a browser, returns the redirect's URL (not followed). */
  async function consent(params: Record<string, string> = {}, decision: 'allow' | 'deny' = 'allow', userId = ada.id): Promise<URL> {
    const page = await fetch(authorizeUrl(params));
    expect(page.status).toBe(200);
    const html = await page.text();
    const action = decodeEntities(/<form method="post" action="([^"]*)"/.exec(html)![1]!);
    const submitted = await fetch(new URL(action, zoom.url), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...hiddenInputs(html), user_id: userId, decision }),
      redirect: 'manual',
    });
    expect(submitted.status).toBe(302);
    return new URL(submitted.headers.get('location')!);
  }

  async function authorizeCode(verifier = VERIFIER, userId = ada.id): Promise<string> {
    const back = await consent({ code_challenge: S256(verifier), code_challenge_method: 'S256' }, 'allow', userId);
    return back.searchParams.get('code')!;
  }

  async function connect(userId = ada.id): Promise<Tokens> {
    const res = await token({ grant_type: 'authorization_code', code: await authorizeCode(VERIFIER, userId), redirect_uri: REDIRECT, code_verifier: VERIFIER });
    expect(res.status).toBe(200);
    return (await res.json()) as Tokens;
  }

  const invalidCode = (code: string) => ({ reason: `Invalid authorization code ${code}`, error: 'invalid_grant' });
  const INVALID_TOKEN = { reason: 'Invalid Token!', error: 'invalid_grant' };
  const INVALID_ACCESS = { code: 124, message: 'Invalid access token.' };
  const EXPIRED_ACCESS = { code: 124, message: 'Access token is expired.' };

  describe('consent page', () => {
    it('is an accessible page offering the app, its scopes and the accounts', async () => {
      const res = await fetch(authorizeUrl({ code_challenge: S256(VERIFIER), code_challenge_method: 'S256' }));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/html');
      const html = await res.text();
      expect(html).toContain('<html lang="en">');
      expect(html).toMatch(/<title>[^<]*specialist-booking[^<]*<\/title>/);
      expect(html).toMatch(/<h1>specialist-booking would like to access your Zoom account<\/h1>/);
      expect(html).toContain('<li><code>meeting:write</code></li><li><code>user:read</code></li>');
      expect(html).toContain('<label for="user_id">Zoom account</label>');
      expect(html).toContain('<select id="user_id" name="user_id">');
      expect(html).toContain(`<option value="${ada.id}">Ada Host (ada@zoom.test)</option>`);
      expect(html).toMatch(/<button[^>]*name="decision" value="allow">Allow<\/button>/);
      expect(html).toMatch(/<button[^>]*name="decision" value="deny">Deny<\/button>/);
      expect(html).toMatch(/:focus-visible\{outline:/);
      expect(hiddenInputs(html)).toEqual({
        response_type: 'code',
        client_id: zoom.clientId,
        redirect_uri: REDIRECT,
        state: 'st-1',
        code_challenge: S256(VERIFIER),
        code_challenge_method: 'S256',
      });
    });

    it('escapes a hostile state and user name', async () => {
      zoom.controls.addUser({ display_name: '<img src=x onerror=alert(1)>', email: 'x"@zoom.test' });
      const hostile = '"><script>alert(1)</script>';
      const html = await (await fetch(authorizeUrl({ state: hostile }))).text();
      expect(html).not.toContain('<script>');
      expect(html).not.toContain('<img');
      expect(html).toContain('value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"');
      expect(html).toContain('&lt;img src=x onerror=alert(1)&gt; (x&quot;@zoom.test)');
      // …and the escaped state comes back intact on the redirect.
      expect((await consent({ state: hostile })).searchParams.get('state')).toBe(hostile);
    });

    it('adds an account when the emulator has none, so the page always works', async () => {
      const empty = await startZoomEmulator({ redirectUri: REDIRECT });
      try {
        const url = `${empty.url}/oauth/authorize?${new URLSearchParams({ response_type: 'code', client_id: empty.clientId, redirect_uri: REDIRECT, ...pkce })}`;
        const html = await (await fetch(url)).text();
        const [user] = empty.controls.users();
        expect(user).toMatchObject({ id: expect.stringMatching(/^zu_/), status: 'active' });
        expect(html).toContain(`<option value="${user!.id}">`);
      } finally {
        await empty.close();
      }
    });

    it('shows an error page, never a redirect, for a bad client, redirect URI or response type', async () => {
      const badRequests: Record<string, string>[] = [
        { client_id: 'someone-else' },
        { redirect_uri: '' },
        { redirect_uri: 'https://attacker.example/oauth/zoom/callback' },
        { redirect_uri: `${REDIRECT}/` },
        { redirect_uri: `${REDIRECT}?next=https://attacker.example` },
        { redirect_uri: 'javascript:alert(1)' },
        { redirect_uri: 'not a url' },
        { response_type: 'token' },
      ];
      for (const bad of badRequests) {
        const res = await fetch(authorizeUrl(bad), { redirect: 'manual' });
        expect(res.status).toBe(400);
        expect(res.headers.get('location')).toBeNull();
        expect(await res.text()).toContain('<h1>Something is wrong with this request</h1>');
      }
      const foreign = await (await fetch(authorizeUrl({ redirect_uri: 'https://attacker.example/cb' }))).text();
      expect(foreign).toContain('<p>Invalid redirect_uri: it is not the redirect URL configured for this app.</p>');
    });

    it('refuses to authorize the configured redirect URI without PKCE S256, as invalid_request', async () => {
      const withoutPkce: Record<string, string>[] = [{ code_challenge: '', code_challenge_method: '' }, { code_challenge_method: '' }, { code_challenge_method: 'plain' }];
      const expected = ['code_challenge is required (PKCE).', 'code_challenge_method must be S256.', 'code_challenge_method must be S256.'];
      for (const [i, params] of withoutPkce.entries()) {
        const res = await fetch(authorizeUrl(params), { redirect: 'manual' });
        expect(res.status).toBe(302);
        const back = new URL(res.headers.get('location')!);
        expect(back.origin + back.pathname).toBe(REDIRECT);
        expect(Object.fromEntries(back.searchParams)).toEqual({ error: 'invalid_request', error_description: expected[i], state: 'st-1' });
      }
      // A consent form posted without its challenge gets no code either.
      const html = await (await fetch(authorizeUrl())).text();
      const { code_challenge: _dropped, ...fields } = hiddenInputs(html);
      const posted = await fetch(`${zoom.url}/oauth/authorize`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...fields, user_id: ada.id, decision: 'allow' }),
        redirect: 'manual',
      });
      expect(new URL(posted.headers.get('location')!).searchParams.get('error')).toBe('invalid_request');
      expect(zoom.controls.tokenRequests()).toEqual([]);
    });

    it('refuses a consent form posted from another site with 403 and issues no code; its own page’s POST works', async () => {
      const html = await (await fetch(authorizeUrl())).text();
      const post = (headers: Record<string, string>) =>
        fetch(`${zoom.url}/oauth/authorize`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
          body: new URLSearchParams({ ...hiddenInputs(html), user_id: ada.id, decision: 'allow' }),
          redirect: 'manual',
        });
      for (const headers of CROSS_SITE) {
        const res = await post(headers);
        expect(res.status).toBe(403);
        expect(res.headers.get('location')).toBeNull();
        expect(await res.text()).toContain('<p>Cross-site authorization requests are refused.</p>');
      }
      const own = await post({ origin: zoom.url, 'sec-fetch-site': 'same-origin' });
      expect(own.status).toBe(302);
      const code = new URL(own.headers.get('location')!).searchParams.get('code')!;
      const res = await token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: VERIFIER });
      expect(res.status).toBe(200);
    });

    it('redirects with error=access_denied and the state on Deny', async () => {
      const back = await consent({}, 'deny');
      expect(back.origin + back.pathname).toBe(REDIRECT);
      expect(back.searchParams.get('error')).toBe('access_denied');
      expect(back.searchParams.get('state')).toBe('st-1');
      expect(back.searchParams.get('code')).toBeNull();
    });
  });

  describe('token endpoint', () => {
    it('runs the PKCE (S256) code flow and answers exactly like Zoom', async () => {
      const code = await authorizeCode();
      const res = await token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: VERIFIER });
      expect(res.status).toBe(200);
      const body = await res.json();
      expect(body).toEqual({ access_token: expect.any(String), token_type: 'bearer', refresh_token: expect.any(String), expires_in: 3599, scope: SCOPE });
      expect(body.access_token.length).toBeGreaterThanOrEqual(40);
      expect(body.refresh_token.length).toBeGreaterThanOrEqual(40);
      expect(body.access_token).not.toBe(body.refresh_token);
      expect((await api('/users/me', body.access_token)).status).toBe(200);
    });

    it('refuses a wrong or missing verifier, a reused code, another redirect URI and an expired code', async () => {
      const wrong = await authorizeCode();
      const wrongRes = await token({ grant_type: 'authorization_code', code: wrong, redirect_uri: REDIRECT, code_verifier: `${VERIFIER}x` });
      expect(wrongRes.status).toBe(400);
      expect(await wrongRes.json()).toEqual(invalidCode(wrong));

      const missing = await authorizeCode();
      expect(await (await token({ grant_type: 'authorization_code', code: missing, redirect_uri: REDIRECT })).json()).toEqual(invalidCode(missing));

      const single = await authorizeCode();
      const exchange = { grant_type: 'authorization_code', code: single, redirect_uri: REDIRECT, code_verifier: VERIFIER };
      expect((await token(exchange)).status).toBe(200);
      const reused = await token(exchange);
      expect(reused.status).toBe(400);
      expect(await reused.json()).toEqual(invalidCode(single));

      const elsewhere = await authorizeCode();
      const elsewhereRes = await token({ grant_type: 'authorization_code', code: elsewhere, redirect_uri: 'http://127.0.0.1:9/other', code_verifier: VERIFIER });
      expect(await elsewhereRes.json()).toEqual(invalidCode(elsewhere));

      const noRedirect = await authorizeCode();
      const noRedirectRes = await token({ grant_type: 'authorization_code', code: noRedirect, code_verifier: VERIFIER });
      expect(noRedirectRes.status).toBe(400);
      expect(await noRedirectRes.json()).toEqual(invalidCode(noRedirect));

      const late = await authorizeCode();
      time.advance(5 * 60_000 + 1_000);
      const lateRes = await token({ grant_type: 'authorization_code', code: late, redirect_uri: REDIRECT, code_verifier: VERIFIER });
      expect(lateRes.status).toBe(400);
      expect(await lateRes.json()).toEqual(invalidCode(late));
    });

    it('refuses a bad or missing client', async () => {
      const code = await authorizeCode();
      const exchange = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: VERIFIER };
      const bad = await token(exchange, basic(zoom.clientId, 'wrong'));
      expect(bad.status).toBe(400);
      expect(await bad.json()).toEqual({ reason: 'Invalid client_id or client_secret', error: 'invalid_client' });
      const none = await fetch(`${zoom.url}/oauth/token`, { method: 'POST', body: new URLSearchParams(exchange) });
      expect(await none.json()).toEqual({ reason: 'Invalid client_id or client_secret', error: 'invalid_client' });
    });

    it('accepts the parameters in the query string', async () => {
      const code = await authorizeCode();
      const qs = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: VERIFIER });
      const res = await fetch(`${zoom.url}/oauth/token?${qs}`, { method: 'POST', headers: { authorization: basic() } });
      expect(res.status).toBe(200);
      const { refresh_token } = (await res.json()) as Tokens;
      const refreshed = await fetch(`${zoom.url}/oauth/token?${new URLSearchParams({ grant_type: 'refresh_token', refresh_token })}`, {
        method: 'POST',
        headers: { authorization: basic() },
      });
      expect(refreshed.status).toBe(200);
    });

    it('refuses an unsupported grant type', async () => {
      const res = await token({ grant_type: 'password', username: 'ada', password: 'x' });
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ error: 'unsupported_grant_type' });
    });

    it('rotates refresh tokens: the old one dies at once, the old access token lives to its expiry', async () => {
      const first = await connect();
      time.advance(60_000);
      const res = await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token });
      expect(res.status).toBe(200);
      const second = (await res.json()) as Tokens;
      expect(second).toEqual({ access_token: expect.any(String), token_type: 'bearer', refresh_token: expect.any(String), expires_in: 3599, scope: SCOPE });
      expect(second.refresh_token).not.toBe(first.refresh_token);
      expect(second.access_token).not.toBe(first.access_token);

      const reused = await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token });
      expect(reused.status).toBe(400);
      expect(await reused.json()).toEqual(INVALID_TOKEN);
      expect(await (await token({ grant_type: 'refresh_token', refresh_token: 'never-issued' })).json()).toEqual(INVALID_TOKEN);

      expect((await api('/users/me', first.access_token)).status).toBe(200);
      time.advance(3599_000 - 60_000);
      const expired = await api('/users/me', first.access_token);
      expect(expired.status).toBe(401);
      expect(await expired.json()).toEqual(EXPIRED_ACCESS);
      expect((await api('/users/me', second.access_token)).status).toBe(200);
      expect((await token({ grant_type: 'refresh_token', refresh_token: second.refresh_token })).status).toBe(200);
    });

    it('refuses an expired refresh token', async () => {
      zoom.controls.setTokenLifetimes({ refreshTokenSeconds: 90 * 86_400 });
      const pair = await connect();
      time.advance(90 * 86_400_000);
      expect(await (await token({ grant_type: 'refresh_token', refresh_token: pair.refresh_token })).json()).toEqual(INVALID_TOKEN);
    });

    it("a new authorization invalidates all the user's earlier tokens, and only that user's", async () => {
      const bob = zoom.controls.addUser({ display_name: 'Bob' });
      const bobs = await connect(bob.id);
      const first = await connect();
      const refreshed = (await (await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token })).json()) as Tokens;
      const latest = await connect();
      for (const access of [first.access_token, refreshed.access_token]) expect(await (await api('/users/me', access)).json()).toEqual(INVALID_ACCESS);
      expect(await (await token({ grant_type: 'refresh_token', refresh_token: refreshed.refresh_token })).json()).toEqual(INVALID_TOKEN);
      expect((await api('/users/me', latest.access_token)).status).toBe(200);
      expect((await api('/users/me', bobs.access_token)).status).toBe(200);
    });

    it('records every token endpoint call for tests that count refreshes', async () => {
      const pair = await connect();
      await token({ grant_type: 'refresh_token', refresh_token: pair.refresh_token });
      await token({ grant_type: 'refresh_token', refresh_token: pair.refresh_token });
      await token({ grant_type: 'refresh_token', refresh_token: 'x' }, basic('client-1', 'nope'));
      expect(zoom.controls.tokenRequests()).toEqual([
        { grantType: 'authorization_code', at: NOW, outcome: 'ok' },
        { grantType: 'refresh_token', at: NOW, outcome: 'ok' },
        { grantType: 'refresh_token', at: NOW, outcome: 'invalid_grant' },
        { grantType: 'refresh_token', at: NOW, outcome: 'invalid_client' },
      ]);
    });
  });

  describe('revoke', () => {
    it('revokes an access token and the refresh tokens of its grant', async () => {
      const pair = await connect();
      const res = await form('/oauth/revoke', { token: pair.access_token });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: 'success' });
      expect(await (await api('/users/me', pair.access_token)).json()).toEqual(INVALID_ACCESS);
      expect(await (await token({ grant_type: 'refresh_token', refresh_token: pair.refresh_token })).json()).toEqual(INVALID_TOKEN);
    });

    it('takes the token from the query string too, and wants the client', async () => {
      const pair = await connect();
      const refused = await form(`/oauth/revoke?token=${pair.access_token}`, {}, basic(zoom.clientId, 'wrong'));
      expect(refused.status).toBe(400);
      expect(await refused.json()).toEqual({ reason: 'Invalid client_id or client_secret', error: 'invalid_client' });
      expect((await api('/users/me', pair.access_token)).status).toBe(200);
      const res = await fetch(`${zoom.url}/oauth/revoke?token=${pair.access_token}`, { method: 'POST', headers: { authorization: basic() } });
      expect(await res.json()).toEqual({ status: 'success' });
      expect((await api('/users/me', pair.access_token)).status).toBe(401);
    });
  });

  describe('REST API', () => {
    const meetingBody = { topic: 'Intro call', type: 2, start_time: '2030-01-08T09:00:00Z', duration: 30, timezone: 'Europe/Berlin', agenda: 'Booking ref 42', settings: { waiting_room: false } };
    const createMeeting = (accessToken: string, body: Record<string, unknown> = meetingBody) =>
      api('/users/me/meetings', accessToken, { method: 'POST', body: JSON.stringify(body) });

    it('answers /users/me with the user', async () => {
      const { access_token } = await connect();
      const res = await api('/users/me', access_token);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual(ada);
      expect(ada).toEqual({
        id: expect.stringMatching(/^zu_/),
        email: 'ada@zoom.test',
        first_name: 'Ada',
        last_name: 'Host',
        display_name: 'Ada Host',
        account_id: expect.any(String),
        timezone: 'Europe/Berlin',
        pmi: expect.any(Number),
        type: 2,
        status: 'active',
      });
    });

    it('creates a meeting: 201 with every field Zoom returns', async () => {
      const { access_token } = await connect();
      const res = await createMeeting(access_token);
      expect(res.status).toBe(201);
      const meeting = await res.json();
      expect(meeting).toEqual({
        id: expect.any(Number),
        uuid: expect.any(String),
        host_id: ada.id,
        host_email: 'ada@zoom.test',
        topic: 'Intro call',
        type: 2,
        start_time: '2030-01-08T09:00:00Z',
        duration: 30,
        timezone: 'Europe/Berlin',
        agenda: 'Booking ref 42',
        created_at: '2030-01-07T06:00:00Z',
        join_url: `${zoom.url}/j/${meeting.id}?pwd=${meeting.password}`,
        start_url: expect.stringMatching(new RegExp(`^${zoom.url}/s/${meeting.id}\\?zak=[\\w-]+$`)),
        password: expect.stringMatching(/^\w+$/),
        settings: expect.objectContaining({ waiting_room: false }),
      });
      expect(String(meeting.id)).toMatch(/^\d{10,11}$/);
      expect(zoom.controls.meetings(ada.id)).toEqual([meeting]);
      const read = await api(`/meetings/${meeting.id}`, access_token);
      expect(read.status).toBe(200);
      expect(await read.json()).toEqual(meeting);
    });

    it('reads a start_time without Z in the meeting time zone, as Zoom does', async () => {
      const { access_token } = await connect();
      const meeting = await (await createMeeting(access_token, { ...meetingBody, start_time: '2030-01-08T10:00:00' })).json();
      expect(meeting.start_time).toBe('2030-01-08T09:00:00Z');
    });

    it('validates with code 300 and field errors', async () => {
      const { access_token } = await connect();
      const res = await createMeeting(access_token, { topic: 'x'.repeat(201), type: 9, start_time: 'tomorrow', duration: 1.5, timezone: 'Mars/Olympus', agenda: 'a'.repeat(2001) });
      expect(res.status).toBe(400);
      const body = await res.json();
      expect(body).toEqual({ code: 300, message: 'Validation Failed.', errors: expect.any(Array) });
      expect(body.errors.map((e: { field: string }) => e.field)).toEqual(['topic', 'type', 'start_time', 'duration', 'timezone', 'agenda']);
      for (const e of body.errors) expect(e.message).toEqual(expect.any(String));

      const instant = await (await createMeeting(access_token, { ...meetingBody, type: 1 })).json();
      expect(instant.code).toBe(300);
      expect(instant.errors).toEqual([{ field: 'type', message: expect.any(String) }]);

      const notJson = await api('/users/me/meetings', access_token, { method: 'POST', body: '{oops' });
      expect(notJson.status).toBe(400);
      expect((await notJson.json()).code).toBe(300);
      expect(zoom.controls.meetings()).toEqual([]);
    });

    it("lists the user's meetings with Zoom's paging fields", async () => {
      const { access_token } = await connect();
      const first = await (await createMeeting(access_token)).json();
      const second = await (await createMeeting(access_token, { ...meetingBody, start_time: '2030-01-07T05:00:00Z', duration: 30 })).json();
      const bob = zoom.controls.addUser();
      await createMeeting((await connect(bob.id)).access_token);

      const res = await api('/users/me/meetings?type=scheduled', access_token);
      expect(res.status).toBe(200);
      const list = await res.json();
      expect(list).toEqual({ page_size: 30, total_records: 2, next_page_token: '', meetings: expect.any(Array) });
      expect(list.meetings[0]).toEqual({
        uuid: first.uuid,
        id: first.id,
        host_id: ada.id,
        topic: 'Intro call',
        type: 2,
        start_time: '2030-01-08T09:00:00Z',
        duration: 30,
        timezone: 'Europe/Berlin',
        agenda: 'Booking ref 42',
        created_at: '2030-01-07T06:00:00Z',
        join_url: first.join_url,
      });
      expect(list.meetings.map((m: { id: number }) => m.id)).toEqual([first.id, second.id]);

      const page = await (await api('/users/me/meetings?type=scheduled&page_size=1', access_token)).json();
      expect(page).toMatchObject({ page_size: 1, total_records: 2 });
      expect(page.meetings).toHaveLength(1);
      expect((await (await api('/users/me/meetings?page_size=1000', access_token)).json()).page_size).toBe(300);
      // The second meeting ended at 05:30, before the clock's 06:00.
      const upcoming = await (await api('/users/me/meetings?type=upcoming', access_token)).json();
      expect(upcoming.meetings.map((m: { id: number }) => m.id)).toEqual([first.id]);
    });

    it('pages a long list: a next_page_token per page, an empty one on the last, each token for its own user', async () => {
      const { access_token } = await connect();
      const created: number[] = [];
      for (let i = 0; i < 5; i++) created.push((await (await createMeeting(access_token)).json()).id);
      const pageSizes: number[] = [];
      const listed: number[] = [];
      let query = 'page_size=2';
      for (;;) {
        const res = await api(`/users/me/meetings?${query}`, access_token);
        expect(res.status).toBe(200);
        const page = await res.json();
        expect(page).toMatchObject({ page_size: 2, total_records: 5 });
        pageSizes.push(page.meetings.length);
        listed.push(...page.meetings.map((m: { id: number }) => m.id));
        if (page.next_page_token === '') break;
        expect(page.next_page_token).toMatch(/^[\w-]+$/);
        query = `page_size=2&next_page_token=${page.next_page_token}`;
      }
      expect(pageSizes).toEqual([2, 2, 1]);
      expect(listed).toEqual(created);

      const { next_page_token } = await (await api('/users/me/meetings?page_size=2', access_token)).json();
      const bob = zoom.controls.addUser();
      for (const [token, accessToken] of [
        [next_page_token, (await connect(bob.id)).access_token],
        ['not-a-token', access_token],
      ]) {
        const refused = await api(`/users/me/meetings?next_page_token=${token}`, accessToken!);
        expect(refused.status).toBe(400);
        expect(await refused.json()).toEqual({ code: 300, message: 'Invalid next_page_token.' });
      }
    });

    it('deletes a meeting (204), then answers 404 code 3001', async () => {
      const { access_token } = await connect();
      const meeting = await (await createMeeting(access_token)).json();
      const deleted = await api(`/meetings/${meeting.id}`, access_token, { method: 'DELETE' });
      expect(deleted.status).toBe(204);
      expect(await deleted.text()).toBe('');
      expect(zoom.controls.meetings()).toEqual([]);
      for (const method of ['GET', 'DELETE']) {
        const gone = await api(`/meetings/${meeting.id}`, access_token, { method });
        expect(gone.status).toBe(404);
        expect(await gone.json()).toEqual({ code: 3001, message: `Meeting does not exist: ${meeting.id}.` });
      }
    });

    const updateMeeting = (accessToken: string, id: number | string, body: unknown) =>
      api(`/meetings/${id}`, accessToken, { method: 'PATCH', body: typeof body === 'string' ? body : JSON.stringify(body) });
    const readMeeting = async (accessToken: string, id: number) => {
      const res = await api(`/meetings/${id}`, accessToken);
      expect(res.status).toBe(200);
      return res.json();
    };

    it('updates a meeting: 204 without a body; only the fields sent change; id and join link stay', async () => {
      const { access_token } = await connect();
      const meeting = await (await createMeeting(access_token)).json();
      const res = await updateMeeting(access_token, meeting.id, { start_time: '2030-01-09T14:30:00Z', duration: 45, timezone: 'America/New_York' });
      expect(res.status).toBe(204);
      expect(await res.text()).toBe('');
      const moved = { ...meeting, start_time: '2030-01-09T14:30:00Z', duration: 45, timezone: 'America/New_York' };
      expect(await readMeeting(access_token, meeting.id)).toEqual(moved);
      expect(zoom.controls.meetings(ada.id)).toEqual([moved]);

      expect((await updateMeeting(access_token, meeting.id, { topic: 'Follow-up', agenda: 'Booking ref 43', settings: { join_before_host: true } })).status).toBe(204);
      const renamed = await readMeeting(access_token, meeting.id);
      expect(renamed).toEqual({ ...moved, topic: 'Follow-up', agenda: 'Booking ref 43', settings: { ...meeting.settings, join_before_host: true } });
      expect(renamed.settings).toMatchObject({ waiting_room: false, join_before_host: true });

      // An empty update is valid and changes nothing.
      expect((await updateMeeting(access_token, meeting.id, {})).status).toBe(204);
      expect(await readMeeting(access_token, meeting.id)).toEqual(renamed);
      // The list shows the update too.
      const list = await (await api('/users/me/meetings', access_token)).json();
      expect(list.meetings).toEqual([expect.objectContaining({ id: meeting.id, start_time: '2030-01-09T14:30:00Z', duration: 45, topic: 'Follow-up', join_url: meeting.join_url })]);
    });

    it("reads an update's start_time without Z in the body's time zone, else in the meeting's", async () => {
      const { access_token } = await connect();
      const meeting = await (await createMeeting(access_token)).json();
      expect((await updateMeeting(access_token, meeting.id, { start_time: '2030-01-10T10:00:00' })).status).toBe(204);
      expect((await readMeeting(access_token, meeting.id)).start_time).toBe('2030-01-10T09:00:00Z');
      expect((await updateMeeting(access_token, meeting.id, { start_time: '2030-01-10T10:00:00', timezone: 'Asia/Tokyo' })).status).toBe(204);
      expect(await readMeeting(access_token, meeting.id)).toMatchObject({ start_time: '2030-01-10T01:00:00Z', timezone: 'Asia/Tokyo' });
    });

    it('validates an update with code 300 and field errors, and then changes nothing', async () => {
      zoom.controls.setDailyMeetingLimit(100);
      const { access_token } = await connect();
      const meeting = await (await createMeeting(access_token)).json();
      const res = await updateMeeting(access_token, meeting.id, {
        topic: 'x'.repeat(201),
        type: 9,
        start_time: 'tomorrow',
        duration: 0,
        timezone: 'Mars/Olympus',
        agenda: 'a'.repeat(2001),
        settings: [],
      });
      expect(res.status).toBe(400);
      const body = await res.json();
      expect(body).toEqual({ code: 300, message: 'Validation Failed.', errors: expect.any(Array) });
      expect(body.errors.map((e: { field: string }) => e.field)).toEqual(['topic', 'type', 'start_time', 'duration', 'timezone', 'agenda', 'settings']);

      // One bad field refuses the whole update: the good ones sent with it do not apply either.
      const partly = await updateMeeting(access_token, meeting.id, { start_time: '2030-02-01T09:00:00Z', duration: -5 });
      expect(partly.status).toBe(400);
      expect(await partly.json()).toEqual({ code: 300, message: 'Validation Failed.', errors: [{ field: 'duration', message: expect.any(String) }] });
      for (const notAnObject of ['{oops', '[1]', 'null']) {
        const refused = await updateMeeting(access_token, meeting.id, notAnObject);
        expect(refused.status).toBe(400);
        expect(await refused.json()).toEqual({ code: 300, message: 'Request Body should be a valid JSON object.' });
      }
      expect(await readMeeting(access_token, meeting.id)).toEqual(meeting);
    });

    it("answers 404 code 3001 to a read or an update of an unknown, deleted or another user's meeting", async () => {
      const { access_token } = await connect();
      const meeting = await (await createMeeting(access_token)).json();
      const bob = zoom.controls.addUser();
      const bobs = await (await createMeeting((await connect(bob.id)).access_token)).json();
      expect((await api(`/meetings/${meeting.id}`, access_token, { method: 'DELETE' })).status).toBe(204);
      for (const id of [meeting.id, bobs.id, 12345678901, 'abc']) {
        for (const res of [await api(`/meetings/${id}`, access_token), await updateMeeting(access_token, id, { duration: 60 })]) {
          expect(res.status).toBe(404);
          expect(await res.json()).toEqual({ code: 3001, message: `Meeting does not exist: ${id}.` });
        }
      }
      expect(zoom.controls.meetings(bob.id)).toEqual([bobs]);
    });

    it('answers 401 code 124 for expired, revoked, missing, malformed and query-string tokens', async () => {
      const { access_token } = await connect();
      zoom.controls.expireAccessTokens(ada.id);
      const expired = await api('/users/me', access_token);
      expect(expired.status).toBe(401);
      expect(await expired.json()).toEqual(EXPIRED_ACCESS);

      const fresh = await connect();
      zoom.controls.revokeAllTokens(ada.id);
      const revoked = await api('/users/me', fresh.access_token);
      expect(revoked.status).toBe(401);
      expect(await revoked.json()).toEqual(INVALID_ACCESS);
      expect(await (await token({ grant_type: 'refresh_token', refresh_token: fresh.refresh_token })).json()).toEqual(INVALID_TOKEN);

      const live = await connect();
      for (const res of [
        await fetch(`${zoom.apiBaseUrl}/users/me`),
        await fetch(`${zoom.apiBaseUrl}/users/me`, { headers: { authorization: live.access_token } }),
        await fetch(`${zoom.apiBaseUrl}/users/me?access_token=${live.access_token}`),
        await api(`/users/me?access_token=${live.access_token}`, live.access_token),
      ]) {
        expect(res.status).toBe(401);
        expect(await res.json()).toEqual(INVALID_ACCESS);
      }
      expect((await api('/users/me', live.access_token)).status).toBe(200);
    });

    it('answers an unknown path with 404', async () => {
      const { access_token } = await connect();
      const res = await api('/webinars/1', access_token);
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ code: 404, message: 'Not found' });
    });

    it('enforces the daily meeting-create limit per user and UTC day', async () => {
      zoom.controls.setTokenLifetimes({ accessTokenSeconds: 3 * 86_400 });
      const { access_token } = await connect();
      for (let i = 0; i < 5; i++) expect((await createMeeting(access_token)).status).toBe(201);
      const limited = await createMeeting(access_token);
      expect(limited.status).toBe(429);
      expect(limited.headers.get('x-ratelimit-type')).toBe('Daily-limit');
      expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');
      expect(limited.headers.get('retry-after')).toBe('2030-01-08T00:00:00Z');
      expect(await limited.json()).toEqual({
        code: 429,
        message:
          'You have exceeded the daily rate limit (5) of Meeting Create/Update API requests permitted for this particular user. You may resume these requests at GMT 00:00:00.',
      });
      expect(zoom.controls.meetings()).toHaveLength(5);

      const bob = zoom.controls.addUser();
      expect((await createMeeting((await connect(bob.id)).access_token)).status).toBe(201);

      time.advance(18 * 3_600_000 - 1);
      expect((await createMeeting(access_token)).status).toBe(429);
      time.advance(1);
      expect((await createMeeting(access_token)).status).toBe(201);
    });

    it('counts updates against the same daily create/update limit, and refuses an update over it with nothing changed', async () => {
      const { access_token } = await connect();
      const meeting = await (await createMeeting(access_token)).json();
      for (let i = 0; i < 3; i++) expect((await updateMeeting(access_token, meeting.id, { duration: 31 + i })).status).toBe(204);
      expect((await createMeeting(access_token)).status).toBe(201);
      const limited = await updateMeeting(access_token, meeting.id, { duration: 90 });
      expect(limited.status).toBe(429);
      expect(limited.headers.get('x-ratelimit-type')).toBe('Daily-limit');
      expect(limited.headers.get('retry-after')).toBe('2030-01-08T00:00:00Z');
      expect((await limited.json()).code).toBe(429);
      expect((await createMeeting(access_token)).status).toBe(429);
      expect((await readMeeting(access_token, meeting.id)).duration).toBe(33);
    });
  });

  describe('injected failures', () => {
    it('fails the next API calls in order: 5xx with Zoom body, a non-JSON body, 429 QPS', async () => {
      const { access_token } = await connect();
      zoom.controls.failNext(1, { status: 503 });
      zoom.controls.failNext(1, { status: 502, body: '<html><body>Bad Gateway</body></html>' });
      zoom.controls.failNext(1, { status: 429, rateLimitType: 'QPS', retryAfter: '1' });
      zoom.controls.failNext(1, { status: 429 });

      const down = await api('/users/me', access_token);
      expect(down.status).toBe(503);
      expect(await down.json()).toEqual({ code: 500, message: 'Internal server error' });

      const html = await api('/users/me', access_token);
      expect(html.status).toBe(502);
      expect(html.headers.get('content-type')).toContain('text/html');
      expect(await html.text()).toBe('<html><body>Bad Gateway</body></html>');

      const qps = await api('/users/me', access_token);
      expect(qps.status).toBe(429);
      expect(qps.headers.get('x-ratelimit-type')).toBe('QPS');
      expect(qps.headers.get('retry-after')).toBe('1');
      expect(await qps.json()).toEqual({ code: 429, message: 'You have reached the maximum per-second rate limit for this API. Try again later.' });

      const bare = await api('/users/me', access_token);
      expect(bare.status).toBe(429);
      expect(bare.headers.get('x-ratelimit-type')).toBe('QPS');
      expect(bare.headers.get('retry-after')).toBeNull();

      expect((await api('/users/me', access_token)).status).toBe(200);
    });

    it('injects a Daily-limit 429 with its headers', async () => {
      const { access_token } = await connect();
      zoom.controls.failNext(1, { status: 429, rateLimitType: 'Daily-limit' });
      const res = await api('/users/me', access_token);
      expect(res.status).toBe(429);
      expect(res.headers.get('x-ratelimit-type')).toBe('Daily-limit');
      expect(res.headers.get('x-ratelimit-remaining')).toBe('0');
      expect(res.headers.get('retry-after')).toBe('2030-01-08T00:00:00Z');
      expect((await res.json()).message).toContain('daily rate limit (5)');
    });

    it('targets the token endpoint, the API, or either', async () => {
      const pair = await connect();
      zoom.controls.failNext(1, { status: 500, target: 'token' });
      zoom.controls.failNext(1, { status: 504, target: 'any' });
      // The API skips the token-only failure and takes the next one that applies to it.
      expect((await api('/users/me', pair.access_token)).status).toBe(504);
      const refresh = await token({ grant_type: 'refresh_token', refresh_token: pair.refresh_token });
      expect(refresh.status).toBe(500);
      expect(await refresh.json()).toEqual({ code: 500, message: 'Internal server error' });
      // Nothing was rotated: the refresh token still works.
      expect((await token({ grant_type: 'refresh_token', refresh_token: pair.refresh_token })).status).toBe(200);
      expect(zoom.controls.tokenRequests().map((r) => r.outcome)).toEqual(['ok', 'http_500', 'ok']);
    });
  });

  describe('lost refresh responses', () => {
    it('rotates, then cuts the connection: the client is left with a dead refresh token', async () => {
      const pair = await connect();
      zoom.controls.dropNextRefreshResponses();
      await expect(token({ grant_type: 'refresh_token', refresh_token: pair.refresh_token })).rejects.toThrow(TypeError);
      const retry = await token({ grant_type: 'refresh_token', refresh_token: pair.refresh_token });
      expect(retry.status).toBe(400);
      expect(await retry.json()).toEqual(INVALID_TOKEN);
      // The old access token lives on until its expiry, as after any rotation.
      expect((await api('/users/me', pair.access_token)).status).toBe(200);
      expect(zoom.controls.tokenRequests().map((r) => `${r.grantType}:${r.outcome}`)).toEqual(['authorization_code:ok', 'refresh_token:dropped', 'refresh_token:invalid_grant']);
      // Only the next one is dropped; the emulator keeps serving.
      const again = await connect();
      expect((await token({ grant_type: 'refresh_token', refresh_token: again.refresh_token })).status).toBe(200);
    });

    it('rejects in-process too, where there is no socket to cut', async () => {
      const local = createZoomEmulator({ redirectUri: REDIRECT, clientId: 'c', clientSecret: 's' });
      const user = local.controls.addUser();
      const { code, codeVerifier } = local.controls.issueAuthorizationCode({ userId: user.id });
      const auth = { authorization: `Basic ${Buffer.from('c:s').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' };
      const exchanged = await local.app.request('/oauth/token', {
        method: 'POST',
        headers: auth,
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: codeVerifier }),
      });
      expect(exchanged.status).toBe(200);
      const { refresh_token } = (await exchanged.json()) as Tokens;
      local.controls.dropNextRefreshResponses(1);
      await expect(local.app.request('/oauth/token', { method: 'POST', headers: auth, body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token }) })).rejects.toThrow(
        'fetch failed',
      );
    });
  });

  describe('webhooks', () => {
    it('sends a signed app_deauthorized event, after revoking the user tokens', async () => {
      const pair = await connect();
      const received: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
      const receiver = http.createServer((req, res) => {
        let body = '';
        req.setEncoding('utf8');
        req.on('data', (chunk: string) => (body += chunk));
        req.on('end', () => {
          received.push({ method: req.method!, url: req.url!, headers: req.headers, body });
          res.writeHead(204).end();
        });
      });
      receiver.listen(0, '127.0.0.1');
      await once(receiver, 'listening');
      try {
        const res = await zoom.controls.sendDeauthorization(ada.id, `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks/zoom`);
        expect(res.status).toBe(204);
        expect(received).toHaveLength(1);
        const [{ method, url, headers, body }] = received as [(typeof received)[0]];
        expect(method).toBe('POST');
        expect(url).toBe('/webhooks/zoom');
        expect(headers['content-type']).toBe('application/json');
        const ts = headers['x-zm-request-timestamp'] as string;
        expect(ts).toBe(String(NOW.getTime() / 1000));
        const expected = Buffer.from(`v0=${createHmac('sha256', 'whsec-1').update(`v0:${ts}:${body}`).digest('hex')}`);
        const signature = Buffer.from(headers['x-zm-signature'] as string);
        expect(signature.length === expected.length && timingSafeEqual(signature, expected)).toBe(true);
        expect(JSON.parse(body)).toEqual({
          event: 'app_deauthorized',
          event_ts: NOW.getTime(),
          payload: {
            account_id: ada.account_id,
            user_id: ada.id,
            signature: expect.stringMatching(/^[0-9a-f]{64}$/),
            deauthorization_time: NOW.toISOString(),
            client_id: 'client-1',
            event_ts: NOW.getTime(),
          },
        });
        expect(await (await api('/users/me', pair.access_token)).json()).toEqual(INVALID_ACCESS);
        expect(await (await token({ grant_type: 'refresh_token', refresh_token: pair.refresh_token })).json()).toEqual(INVALID_TOKEN);
      } finally {
        receiver.close();
      }
    });

    it("signs bodies with Zoom's v0 scheme, at the clock's time by default", () => {
      const body = '{"event":"endpoint.url_validation","payload":{"plainToken":"abc"}}';
      expect(zoom.controls.signWebhook(body, 1_700_000_000)).toEqual({
        'x-zm-request-timestamp': '1700000000',
        'x-zm-signature': `v0=${createHmac('sha256', 'whsec-1').update(`v0:1700000000:${body}`).digest('hex')}`,
      });
      expect(zoom.controls.signWebhook(body)['x-zm-request-timestamp']).toBe(String(NOW.getTime() / 1000));
    });
  });

  describe('demo controls', () => {
    it('lists users and revokes or expires their tokens from a page or as JSON', async () => {
      const pair = await connect();
      const page = await fetch(`${zoom.url}/__emulator`);
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain('<html lang="en">');
      expect(html).toContain('Ada Host');
      expect(html).toContain(`action="/__emulator/users/${ada.id}/revoke"`);

      expect(await (await fetch(`${zoom.url}/__emulator/users`)).json()).toEqual(zoom.controls.users());

      const expire = await fetch(`${zoom.url}/__emulator/users/${ada.id}/expire`, { method: 'POST', headers: { accept: 'application/json' } });
      expect(await expire.json()).toEqual({ ok: true });
      expect(await (await api('/users/me', pair.access_token)).json()).toEqual(EXPIRED_ACCESS);

      const revoke = await fetch(`${zoom.url}/__emulator/users/${ada.id}/revoke`, { method: 'POST', redirect: 'manual' });
      expect(revoke.status).toBe(303);
      expect(revoke.headers.get('location')).toBe('/__emulator');
      expect(await (await token({ grant_type: 'refresh_token', refresh_token: pair.refresh_token })).json()).toEqual(INVALID_TOKEN);

      expect((await fetch(`${zoom.url}/__emulator/users/zu_nobody/revoke`, { method: 'POST' })).status).toBe(404);
    });

    it('adds users and queues failures as JSON', async () => {
      const added = await fetch(`${zoom.url}/__emulator/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ display_name: 'Cy', email: 'cy@zoom.test' }) });
      expect(added.status).toBe(201);
      expect(await added.json()).toMatchObject({ display_name: 'Cy', email: 'cy@zoom.test', status: 'active' });

      const failNext = (body: unknown) => fetch(`${zoom.url}/__emulator/fail-next`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect((await failNext({ count: 1 })).status).toBe(400);
      expect((await failNext({ count: 1, status: 429, target: 'everything' })).status).toBe(400);
      expect(await (await failNext({ count: 1, status: 503, body: 'down' })).json()).toEqual({ ok: true });
      const { access_token } = await connect();
      const res = await api('/users/me', access_token);
      expect(res.status).toBe(503);
      expect(await res.text()).toBe('down');
    });

    it('caps fail-next: at most 100 queued failures, then a clear 400', async () => {
      const failNext = (body: unknown) => fetch(`${zoom.url}/__emulator/fail-next`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const tooMany = await failNext({ count: 101, status: 500 });
      expect(tooMany.status).toBe(400);
      expect((await tooMany.json()).message).toMatch(/^Send \{"count": 0-100, /);
      expect(await (await failNext({ count: 99, status: 500 })).json()).toEqual({ ok: true });
      expect(await (await failNext({ count: 1, status: 502 })).json()).toEqual({ ok: true });
      const full = await failNext({ count: 1, status: 503 });
      expect(full.status).toBe(400);
      expect(await full.json()).toEqual({ message: 'At most 100 failures may be queued at once (100 are).' });
      expect(() => zoom.controls.failNext(1, { status: 500 })).toThrow(RangeError);
      expect(() => zoom.controls.failNext(1e9, { status: 500 })).toThrow(RangeError);
    });

    it('refuses cross-site control requests, so a page on another site cannot revoke tokens', async () => {
      const pair = await connect();
      const revoke = (headers: Record<string, string>) => fetch(`${zoom.url}/__emulator/users/${ada.id}/revoke`, { method: 'POST', headers, redirect: 'manual' });
      for (const headers of CROSS_SITE) {
        const res = await revoke(headers);
        expect(res.status).toBe(403);
        expect(await res.json()).toEqual({ code: 403, message: 'Cross-site requests to the emulator controls are refused.' });
      }
      const queued = await fetch(`${zoom.url}/__emulator/fail-next`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain', origin: 'https://attacker.example' },
        body: JSON.stringify({ count: 5, status: 500 }),
      });
      expect(queued.status).toBe(403);
      expect((await api('/users/me', pair.access_token)).status).toBe(200);
      // The control page's own forms (same origin) and callers that are not browsers still work.
      expect((await revoke({ origin: zoom.url, 'sec-fetch-site': 'same-origin' })).status).toBe(303);
      expect((await api('/users/me', pair.access_token)).status).toBe(401);
      expect((await fetch(`${zoom.url}/__emulator/users/${ada.id}/expire`, { method: 'POST', headers: { accept: 'application/json' } })).status).toBe(200);
    });
  });

  describe('body limits', () => {
    const big = 'x'.repeat(64 * 1024 + 1);
    const TOO_LARGE = { code: 413, message: 'Request body is larger than 65536 bytes.' };

    it('refuses bodies over 64 KiB on every route that reads one, before reading them whole', async () => {
      const pair = await connect();
      const requests: [string, RequestInit][] = [
        ['/oauth/token', { method: 'POST', headers: { authorization: basic(), 'content-type': 'application/x-www-form-urlencoded' }, body: `grant_type=refresh_token&pad=${big}` }],
        ['/oauth/authorize', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `pad=${big}` }],
        ['/oauth/revoke', { method: 'POST', headers: { authorization: basic(), 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${big}` }],
        ['/v2/users/me/meetings', { method: 'POST', headers: { authorization: `Bearer ${pair.access_token}`, 'content-type': 'application/json' }, body: JSON.stringify({ agenda: big }) }],
        ['/v2/meetings/12345678901', { method: 'PATCH', headers: { authorization: `Bearer ${pair.access_token}`, 'content-type': 'application/json' }, body: JSON.stringify({ agenda: big }) }],
        ['/__emulator/users', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ display_name: big }) }],
        ['/__emulator/fail-next', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ body: big }) }],
      ];
      for (const [path, init] of requests) {
        const res = await fetch(`${zoom.url}${path}`, init);
        expect([path, res.status]).toEqual([path, 413]);
        expect(await res.json()).toEqual(TOO_LARGE);
      }
      // Without a Content-Length (chunked), the limit holds while reading.
      const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request(`${zoom.url}/__emulator/users`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        });
        req.on('error', reject);
        for (let i = 0; i < 20; i++) req.write(big.slice(0, 8192));
        req.end();
      });
      expect(chunked.status).toBe(413);
      expect(JSON.parse(chunked.body)).toEqual(TOO_LARGE);
      expect(zoom.controls.users().map((u) => u.display_name)).toEqual(['Ada Host']);
      expect(zoom.controls.meetings()).toEqual([]);
    });
  });
});
