/**
 * Emailed links, sessions and page headers over real HTTP (issue #14,
 * "Links"): scanners' GETs leave links usable, login CSRF from another
 * site fails, a re-auth link restores only the Zoom user connected before
 * and grants no session, account switches are emailed, "Sign out
 * everywhere", the sign-in limits, `__Host-` cookies, security headers.
 */
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { migrations } from '../../server/db/migrations/index.js';
import { DATABASE_KINDS, useTestDatabase } from './helpers/databases.js';
import { bookingBody, createTestClock, FREE_SLOT, NOW, seedSpecialist } from './helpers/fixtures.js';
import { allowOnConsentPage, connectZoom, signInCookie, startTestServer, type TestServer } from './helpers/server.js';

const csrfOf = (text: string) => /name="_csrf" value="([^"]+)"/.exec(text)![1]!;
const cookieOf = (res: Response) => res.headers.get('set-cookie')!.split(';')[0]!;
const tokenOf = (link: string) => new URL(link).searchParams.get('token')!;

describe.each(DATABASE_KINDS)('links, sessions and headers on %s', (kind) => {
  const database = useTestDatabase(kind);
  const db = () => database().handle.db;
  let server: TestServer;
  let time: ReturnType<typeof createTestClock>;
  let specialistId: string;
  let serviceIds: string[];

  beforeEach(async () => {
    for (const table of ['rate_limits', 'email_outbox', 'oauth_states', 'sessions', 'sign_in_links', 'specialists'] as const) await db().deleteFrom(table).execute();
    ({ specialistId, serviceIds } = await seedSpecialist(db()));
    time = createTestClock(NOW);
    await server?.close();
    server = await startTestServer({ db: db(), clock: time.clock, notifyReauthRequired: 'email' });
  });
  afterAll(async () => {
    await server?.close();
  });

  const postForm = (path: string, form: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(form),
      redirect: 'manual',
    });
  const signInLink = (id = specialistId, next?: string) =>
    db()
      .transaction()
      .execute((trx) => server.services.links.create(trx, { specialistId: id, purpose: 'sign_in', ttlMs: 15 * 60_000, next }));
  const linkRows = () => db().selectFrom('sign_in_links').select(['purpose', 'used_at']).execute();
  const sessionCount = async () => (await db().selectFrom('sessions').select('token_hash').execute()).length;
  const outboxKinds = async () => (await db().selectFrom('email_outbox').select('kind').orderBy('created_at').execute()).map((r) => r.kind);
  /** A browser opens a link from an email: its cookie jar is `cookie`; the answer it lands on. */
  const openLink = (link: string, cookie = '') => fetch(`${server.url}/auth/link?token=${encodeURIComponent(tokenOf(link))}`, { headers: { cookie }, redirect: 'manual' });

  describe('sign-in links', () => {
    it('a GET (a scanner following redirects) asks "Sign in as a…@example.test?" and uses nothing up; the button’s POST signs in, once', async () => {
      const link = await signInLink(specialistId, '/settings');
      const scanned = await fetch(link.replace(/^https?:\/\/[^/]+/, server.url));
      expect(scanned.status).toBe(200);
      const question = await scanned.text();
      expect(question).toContain('<h1>Sign in as a…@example.test?</h1>');
      expect(question).not.toContain('anna@example.test');
      expect(await linkRows()).toEqual([{ purpose: 'sign_in', used_at: null }]);
      expect(await sessionCount()).toBe(0);

      const opened = await openLink(link);
      const csrfCookie = cookieOf(opened);
      expect(csrfCookie).toMatch(/^sb_csrf=/);
      const form = { _csrf: csrfOf(await opened.text()), token: tokenOf(link) };
      const browser = { cookie: csrfCookie, origin: server.url, 'sec-fetch-site': 'same-origin' };
      const signedIn = await postForm('/auth/link', form, browser);
      expect(signedIn.status).toBe(303);
      expect(signedIn.headers.get('location')).toBe('/settings');
      expect(signedIn.headers.getSetCookie()).toEqual([
        expect.stringMatching(/^sb_session=[^;]+; Max-Age=2592000; Path=\/; HttpOnly; SameSite=Lax$/),
        // The browser is known from now on: its sign-in requests count apart (see "a browser that signed in before…").
        expect.stringMatching(/^sb_known=[\w-]{43}; Max-Age=31536000; Path=\/; HttpOnly; SameSite=Lax$/),
      ]);
      expect(await sessionCount()).toBe(1);
      expect(await linkRows()).toEqual([{ purpose: 'sign_in', used_at: NOW.toISOString() }]);

      const again = await postForm('/auth/link', form, browser);
      expect(again.headers.get('location')).toBe('/sign-in?reason=used&next=%2Fsettings%23zoom');
      expect(again.headers.get('set-cookie')).toBeNull();
      expect(await sessionCount()).toBe(1);
    });

    it('login CSRF: a page on another site cannot sign a browser in with the attacker’s link', async () => {
      const mallory = await seedSpecialist(db(), { slug: 'mallory', email: 'mallory@example.test' });
      const attackersLink = await signInLink(mallory.specialistId);
      // The attacker can open their own link and learn a CSRF pair for their own cookie jar.
      const attackers = await openLink(attackersLink);
      const attackersCookie = cookieOf(attackers);
      const attackersCsrf = csrfOf(await attackers.text());
      // The victim has visited the site before: a CSRF cookie of their own.
      const victimsCookie = cookieOf(await fetch(`${server.url}/sign-in`));
      const form = { _csrf: attackersCsrf, token: tokenOf(attackersLink) };

      const crossSite: Record<string, string>[] = [
        { cookie: victimsCookie, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
        { cookie: victimsCookie, 'sec-fetch-site': 'same-site' },
        { cookie: victimsCookie, origin: 'null' },
        // Even with the attacker's own cookie (planted somehow), the browser says where the form came from.
        { cookie: attackersCookie, origin: 'https://evil.example' },
      ];
      for (const headers of crossSite) {
        const res = await postForm('/auth/link', form, headers);
        expect(res.status).toBe(403);
        expect(await res.text()).toContain('This form came from another site');
        expect(res.headers.get('set-cookie')).toBeNull();
      }
      // A browser that sends neither header still needs the token that matches its own cookie.
      for (const cookie of [victimsCookie, '']) {
        const res = await postForm('/auth/link', form, { cookie });
        expect(res.status).toBe(403);
        expect(res.headers.get('set-cookie')).toBeNull();
      }
      expect(await sessionCount()).toBe(0);
      expect(await linkRows()).toEqual([{ purpose: 'sign_in', used_at: null }]);
      // The same POST from the attacker's own browser, on this site, works: the link was left usable.
      const own = await postForm('/auth/link', form, { cookie: attackersCookie, origin: server.url, 'sec-fetch-site': 'same-origin' });
      expect(own.status).toBe(303);
      expect(await sessionCount()).toBe(1);
    });

    it('a re-auth link’s token never signs anyone in through the sign-in button', async () => {
      await connectZoom(server, specialistId);
      await db().deleteFrom('sessions').execute();
      const reauth = await db()
        .transaction()
        .execute((trx) => server.services.links.create(trx, { specialistId, purpose: 'reauth', ttlMs: 3_600_000 }));
      const csrfCookie = cookieOf(await fetch(`${server.url}/sign-in`));
      const res = await postForm('/auth/link', { _csrf: csrfCookie.split('=')[1]!, token: tokenOf(reauth) }, { cookie: csrfCookie });
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe('/sign-in?reason=invalid&next=%2Fsettings%23zoom');
      expect(await sessionCount()).toBe(0);
      expect(await linkRows()).toEqual([{ purpose: 'reauth', used_at: null }]);
    });
  });

  describe('the re-auth link', () => {
    let zoomUserId: string;
    let link: string;
    const connection = () => db().selectFrom('zoom_connections').selectAll().where('specialist_id', '=', specialistId).executeTakeFirstOrThrow();

    beforeEach(async () => {
      zoomUserId = await connectZoom(server, specialistId);
      server.emulator.controls.revokeAllTokens(zoomUserId);
      const failed = await fetch(`${server.url}/api/v1/specialists/anna/bookings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(bookingBody(serviceIds[0]!, FREE_SLOT)),
      });
      expect(failed.status).toBe(409);
      const [row] = await db().selectFrom('email_outbox').selectAll().where('kind', '=', 'reauth_required').execute();
      link = /Re-authorize Zoom: (\S+)/.exec(JSON.parse(server.cipher.decrypt(row!.content_enc, `outbox:${row!.id}`)).text)![1]!;
      await db().deleteFrom('sessions').execute();
    });

    it('a scanner’s GET, following redirects to Zoom’s consent page but clicking nothing, leaves it usable and signs nobody in', async () => {
      const scanned = await fetch(link);
      expect(scanned.status).toBe(200);
      expect(scanned.url).toMatch(new RegExp(`^${server.emulator.oauthBaseUrl}/oauth/authorize\\?`));
      expect(await scanned.text()).toContain('would like to access your Zoom account');
      const head = await fetch(link, { redirect: 'manual' });
      expect(head.status).toBe(302);
      expect(head.headers.get('set-cookie')).toBeNull();
      expect(await linkRows()).toEqual([{ purpose: 'reauth', used_at: null }]);
      expect(await sessionCount()).toBe(0);
      expect((await connection()).status).toBe('invalid');

      // The specialist's click, later, still works: one click to Zoom, "Allow", done.
      const toZoom = await fetch(link, { redirect: 'manual' });
      const back = await allowOnConsentPage(toZoom.headers.get('location')!, zoomUserId);
      const done = await fetch(back, { redirect: 'manual' });
      expect(done.status).toBe(200);
      expect(await done.text()).toContain('Zoom re-authorized — customers can book again.');
      expect((await connection()).status).toBe('active');
      expect(await linkRows()).toEqual([{ purpose: 'reauth', used_at: NOW.toISOString() }]);
    });

    it('the callback grants no session: the dashboard still needs a sign-in', async () => {
      const toZoom = await fetch(link, { redirect: 'manual' });
      const back = await allowOnConsentPage(toZoom.headers.get('location')!, zoomUserId);
      const done = await fetch(back, { redirect: 'manual' });
      expect(done.status).toBe(200);
      expect(done.headers.get('set-cookie')).toBeNull();
      expect(done.headers.get('cache-control')).toBe('no-store');
      expect(await sessionCount()).toBe(0);
      const dashboard = await fetch(`${server.url}/dashboard`, { redirect: 'manual' });
      expect(dashboard.headers.get('location')).toBe('/sign-in?next=%2Fdashboard');
      // Used up: the state and the link both.
      expect((await fetch(back)).status).toBe(400);
      expect((await openLink(link)).headers.get('location')).toBe('/sign-in?reason=used&next=%2Fsettings%23zoom');
    });

    it('a different Zoom user is refused with a clear page, and nothing changes: rows, tokens, the link', async () => {
      const before = await connection();
      const stranger = server.emulator.controls.addUser({ email: 'stranger@zoom.test' });
      const toZoom = await fetch(link, { redirect: 'manual' });
      const back = await allowOnConsentPage(toZoom.headers.get('location')!, stranger.id);
      const refused = await fetch(back, { redirect: 'manual' });
      expect(refused.status).toBe(409);
      expect(refused.headers.get('set-cookie')).toBeNull();
      const page = await refused.text();
      expect(page).toContain('Zoom was not re-authorized');
      expect(page).toContain(
        `You allowed the Zoom account stranger@zoom.test, but this link only restores ${before.zoom_email}, the account connected before. To use another Zoom account, sign in and use Settings → Switch Zoom account.`,
      );
      expect(await connection()).toEqual(before);
      expect(await db().selectFrom('zoom_connections').select('specialist_id').execute()).toHaveLength(1);
      expect(await linkRows()).toEqual([{ purpose: 'reauth', used_at: null }]);
      expect(await outboxKinds()).toEqual(['booking_held_customer', 'reauth_required']);
      expect(await sessionCount()).toBe(0);
      // The stranger's tokens were given back: Zoom does not list the app as installed on that account.
      expect(server.emulator.controls.hasLiveGrant(stranger.id)).toBe(false);
    });

    it('"Deny" on Zoom’s page leaves the link usable and says so', async () => {
      const toZoom = await fetch(link, { redirect: 'manual' });
      const back = await allowOnConsentPage(toZoom.headers.get('location')!, zoomUserId, 'deny');
      const denied = await fetch(back, { redirect: 'manual' });
      expect(denied.status).toBe(400);
      expect(denied.headers.get('set-cookie')).toBeNull();
      expect(await denied.text()).toContain('The authorization was declined on Zoom’s page. Open the link in the email again to retry.');
      expect(await linkRows()).toEqual([{ purpose: 'reauth', used_at: null }]);
      expect((await connection()).status).toBe('invalid');
    });

    it('with no Zoom account connected there is nothing to restore: the GET says so and starts nothing', async () => {
      await db().deleteFrom('zoom_connections').execute();
      const states = (await db().selectFrom('oauth_states').select('state_hash').execute()).length;
      const res = await fetch(link, { redirect: 'manual' });
      expect(res.status).toBe(409);
      expect(await res.text()).toContain('No Zoom account is connected, so there is nothing to restore. Sign in and use Settings → Connect Zoom.');
      expect((await db().selectFrom('oauth_states').select('state_hash').execute()).length).toBe(states);
      expect(await linkRows()).toEqual([{ purpose: 'reauth', used_at: null }]);
    });
  });

  describe('switching Zoom accounts', () => {
    it('emails the specialist when the connected account changes from A to B, and not when the same account reconnects', async () => {
      const a = server.emulator.controls.addUser({ display_name: 'Anna A', email: 'a@zoom.test' });
      const b = server.emulator.controls.addUser({ display_name: 'Anna B', email: 'b@zoom.test' });
      await connectZoom(server, specialistId, a);
      await connectZoom(server, specialistId, a);
      expect(await outboxKinds()).toEqual([]);
      await connectZoom(server, specialistId, b);
      const rows = await db().selectFrom('email_outbox').selectAll().execute();
      expect(rows.map((r) => [r.kind, r.to_address, r.subject])).toEqual([['zoom_account_changed', 'anna@example.test', 'Your connected Zoom account has changed']]);
      const { text } = JSON.parse(server.cipher.decrypt(rows[0]!.content_enc, `outbox:${rows[0]!.id}`));
      expect(text).toContain('New bookings now get their Zoom meetings on Anna B (b@zoom.test), instead of Anna A (a@zoom.test).');
      expect(text).toContain('If you did not make this change, sign in, use "Sign out everywhere" in Settings, and switch back to your Zoom account.');
      expect((await db().selectFrom('zoom_connections').select('zoom_user_id').executeTakeFirstOrThrow()).zoom_user_id).toBe(b.id);
    });

    it('emails when another Zoom user is connected after a disconnect, and not when the same user reconnects after one', async () => {
      const a = server.emulator.controls.addUser({ display_name: 'Anna A', email: 'a@zoom.test' });
      const b = server.emulator.controls.addUser({ display_name: 'Anna B', email: 'b@zoom.test' });
      const disconnect = async () => {
        const cookie = await signInCookie(server, specialistId);
        const settings = await (await fetch(`${server.url}/settings`, { headers: { cookie } })).text();
        expect((await postForm('/settings/zoom/disconnect', { _csrf: csrfOf(settings) }, { cookie })).status).toBe(303);
        expect(await db().selectFrom('zoom_connections').select('specialist_id').execute()).toEqual([]);
      };
      await connectZoom(server, specialistId, a);
      await disconnect();
      await connectZoom(server, specialistId, a);
      expect(await outboxKinds()).toEqual([]);
      await disconnect();
      await connectZoom(server, specialistId, b);
      const rows = await db().selectFrom('email_outbox').selectAll().execute();
      expect(rows.map((r) => [r.kind, r.to_address, r.subject])).toEqual([['zoom_account_changed', 'anna@example.test', 'Your connected Zoom account has changed']]);
      const { text } = JSON.parse(server.cipher.decrypt(rows[0]!.content_enc, `outbox:${rows[0]!.id}`));
      expect(text).toContain('New bookings now get their Zoom meetings on Anna B (b@zoom.test), instead of Anna A (a@zoom.test).');
      expect(await db().selectFrom('specialists').select(['last_zoom_user_id', 'last_zoom_email', 'last_zoom_display_name']).execute()).toEqual([
        { last_zoom_user_id: b.id, last_zoom_email: 'b@zoom.test', last_zoom_display_name: 'Anna B' },
      ]);
    });

    it('migration 0009 remembers the Zoom user of each existing connection, so a switch after upgrading is emailed too', async () => {
      const a = server.emulator.controls.addUser({ display_name: 'Anna A', email: 'a@zoom.test' });
      const other = await seedSpecialist(db(), { slug: 'olga', email: 'olga@example.test' });
      await connectZoom(server, specialistId, a);
      const migration = migrations['0009_last_zoom_user']!;
      await migration.down!(db());
      await migration.up(db());
      const remembered = await db().selectFrom('specialists').select(['id', 'last_zoom_user_id', 'last_zoom_email', 'last_zoom_display_name']).execute();
      expect(remembered.sort((x, y) => Number(x.id === other.specialistId) - Number(y.id === other.specialistId))).toEqual([
        { id: specialistId, last_zoom_user_id: a.id, last_zoom_email: 'a@zoom.test', last_zoom_display_name: 'Anna A' },
        { id: other.specialistId, last_zoom_user_id: null, last_zoom_email: null, last_zoom_display_name: null },
      ]);
      await db().deleteFrom('zoom_connections').execute();
      await connectZoom(server, specialistId);
      expect(await outboxKinds()).toEqual(['zoom_account_changed']);
    });
  });

  describe('sessions', () => {
    it('"Sign out everywhere" ends every session of the specialist, and needs the CSRF token', async () => {
      const other = await seedSpecialist(db(), { slug: 'olga', email: 'olga@example.test' });
      const laptop = await signInCookie(server, specialistId);
      const phone = await signInCookie(server, specialistId);
      const olga = await signInCookie(server, other.specialistId);
      const settings = await (await fetch(`${server.url}/settings`, { headers: { cookie: laptop } })).text();
      expect(settings).toContain('<button class="button secondary" type="submit">Sign out everywhere</button>');
      expect((await postForm('/sign-out/everywhere', { _csrf: 'forged' }, { cookie: laptop })).status).toBe(403);
      expect(await sessionCount()).toBe(3);
      const res = await postForm('/sign-out/everywhere', { _csrf: csrfOf(settings) }, { cookie: laptop });
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe('/sign-in?reason=signed_out_everywhere');
      expect(res.headers.get('set-cookie')).toMatch(/^sb_session=; Max-Age=0; Path=\/; HttpOnly; SameSite=Lax$/);
      for (const cookie of [laptop, phone]) {
        expect((await fetch(`${server.url}/dashboard`, { headers: { cookie }, redirect: 'manual' })).headers.get('location')).toBe('/sign-in?next=%2Fdashboard');
      }
      expect((await fetch(`${server.url}/dashboard`, { headers: { cookie: olga }, redirect: 'manual' })).status).toBe(200);
      expect(await (await fetch(`${server.url}/sign-in?reason=signed_out_everywhere`)).text()).toContain('You are signed out on every device.');
    });

    it('on an https public URL the cookies carry the __Host- prefix, Secure, Path=/ and no Domain', async () => {
      await server.close();
      server = await startTestServer({ db: db(), clock: time.clock, publicUrl: 'https://booking.example' });
      const link = await signInLink();
      expect(link).toMatch(/^https:\/\/booking\.example\/auth\/link\?token=/);
      const opened = await openLink(link);
      expect(opened.headers.get('set-cookie')).toMatch(/^__Host-sb_csrf=[^;]+; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
      const headers = { cookie: cookieOf(opened), origin: 'https://booking.example', 'sec-fetch-site': 'same-origin' };
      const signedIn = await postForm('/auth/link', { _csrf: csrfOf(await opened.text()), token: tokenOf(link) }, headers);
      expect(signedIn.status).toBe(303);
      expect(signedIn.headers.getSetCookie()).toEqual([
        expect.stringMatching(/^__Host-sb_session=[^;]+; Max-Age=2592000; Path=\/; HttpOnly; Secure; SameSite=Lax$/),
        expect.stringMatching(/^__Host-sb_known=[\w-]{43}; Max-Age=31536000; Path=\/; HttpOnly; Secure; SameSite=Lax$/),
      ]);
      const session = cookieOf(signedIn);
      expect((await fetch(`${server.url}/dashboard`, { headers: { cookie: session }, redirect: 'manual' })).status).toBe(200);
      // The unprefixed name is not a session on https: a subdomain could have planted it.
      const unprefixed = session.replace(/^__Host-/, '');
      expect((await fetch(`${server.url}/dashboard`, { headers: { cookie: unprefixed }, redirect: 'manual' })).status).toBe(302);
      expect((await fetch(`${server.url}/sign-in`)).headers.get('strict-transport-security')).toBe('max-age=15552000');
    });
  });

  describe('sign-in limits', () => {
    beforeEach(async () => {
      await server.close();
      // Behind one proxy (TRUST_PROXY=1), the client address is the one X-Forwarded-For names: a test can be many clients.
      server = await startTestServer({ db: db(), clock: time.clock, trustProxy: { kind: 'hops', hops: 1 } });
    });
    /** A form POST from the client at `address`. */
    async function postFrom(path: string, address: string, cookie: string, form: Record<string, string>): Promise<{ status: number; retryAfter: string | undefined; body: string }> {
      const res = await fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': address },
        body: new URLSearchParams(form),
        redirect: 'manual',
      });
      return { status: res.status, retryAfter: res.headers.get('retry-after') ?? undefined, body: await res.text() };
    }

    it('five requests from one address do not lock the specialist out elsewhere; one email gets at most 20 links a day', async () => {
      const form = await fetch(`${server.url}/sign-in`);
      const cookie = cookieOf(form);
      const csrf = csrfOf(await form.text());
      const signInFrom = async (address: string, email: string) => {
        const { status, retryAfter } = await postFrom('/sign-in', address, cookie, { _csrf: csrf, email });
        return { status, retryAfter };
      };
      const from = (address: string) => signInFrom(address, 'anna@example.test');
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await from('198.51.100.1')).status);
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
      // The specialist, elsewhere, still gets a link.
      expect(await from('198.51.100.2')).toEqual({ status: 200, retryAfter: undefined });
      // Many addresses together: 20 links a UTC day for one email, then "tomorrow" (NOW is 06:00 UTC: 18 hours to go).
      for (const address of ['198.51.100.3', '198.51.100.4']) for (let i = 0; i < 5; i++) expect((await from(address)).status).toBe(200);
      for (let i = 0; i < 4; i++) expect((await from('198.51.100.5')).status).toBe(200);
      expect(await from('198.51.100.5')).toEqual({ status: 429, retryAfter: String(18 * 3600) });
      expect(await outboxKinds()).toEqual(Array(20).fill('sign_in'));
      time.advance(16 * 60_000);
      expect((await from('198.51.100.6')).status).toBe(429);
      // Another email from the same addresses is not affected.
      expect((await signInFrom('198.51.100.6', 'olga@example.test')).status).toBe(200);
      time.advance(24 * 3_600_000);
      expect((await from('198.51.100.6')).status).toBe(200);
    });

    it('using sign-in links: 30 tries per client address per 15 minutes, then 429 with Retry-After and a page; the link stays usable', async () => {
      const link = await signInLink();
      const opened = await openLink(link);
      const cookie = cookieOf(opened);
      const form = { _csrf: csrfOf(await opened.text()), token: tokenOf(link) };
      // Guessed tokens and forged forms count too: the limit comes before anything is looked at.
      for (let i = 0; i < 15; i++) expect((await postFrom('/auth/link', '198.51.100.1', cookie, { ...form, token: `guess${i}` })).status).toBe(303);
      for (let i = 0; i < 15; i++) expect((await postFrom('/auth/link', '198.51.100.1', cookie, { ...form, _csrf: 'forged' })).status).toBe(403);
      const refused = await postFrom('/auth/link', '198.51.100.1', cookie, form);
      expect(refused.status).toBe(429);
      expect(refused.retryAfter).toBe('900');
      expect(refused.body).toContain('<title>Too many attempts');
      expect(refused.body).toContain('Too many sign-in attempts from your network. Please wait 15 minutes and try again.');
      expect(refused.body).toContain('Your sign-in link was not used: it still works until it expires.');
      expect(await linkRows()).toEqual([{ purpose: 'sign_in', used_at: null }]);
      expect(await sessionCount()).toBe(0);
      // Another address is not affected (the link signs in there), and after the window this one may try again.
      expect((await postFrom('/auth/link', '198.51.100.2', cookie, form)).status).toBe(303);
      expect(await sessionCount()).toBe(1);
      expect((await postFrom('/auth/link', '198.51.100.1', cookie, form)).status).toBe(429);
      time.advance(15 * 60_000);
      const again = await postFrom('/auth/link', '198.51.100.1', cookie, form);
      expect(again.status).toBe(303);
      expect(again.retryAfter).toBeUndefined();
    });

    const requestLinkFor = async (email: string, cookie: string, csrf: string, clientAddress: string) => (await postFrom('/sign-in', clientAddress, cookie, { _csrf: csrf, email })).status;

    it('still gets a sign-in link when strangers used up the email’s day, and only with its own mark', async () => {
      // The specialist signs in once with this browser, which keeps its mark (sb_known) from then on.
      const link = await signInLink();
      const opened = await openLink(link);
      const csrfCookie = cookieOf(opened);
      const csrf = csrfOf(await opened.text());
      const signedIn = await postForm('/auth/link', { _csrf: csrf, token: tokenOf(link) }, { cookie: csrfCookie, origin: server.url });
      expect(signedIn.status).toBe(303);
      const known = signedIn.headers.getSetCookie().find((c) => c.startsWith('sb_known='))!.split(';')[0]!;

      // Strangers on four networks ask for Anna's links until her shared day allowance (20) is gone.
      const stranger = await fetch(`${server.url}/sign-in`);
      const strangerCookie = cookieOf(stranger);
      const strangerCsrf = csrfOf(await stranger.text());
      for (const network of [1, 2, 3, 4]) for (let i = 0; i < 5; i++) expect(await requestLinkFor('anna@example.test', strangerCookie, strangerCsrf, `203.0.113.${network}`)).toBe(200);
      expect(await requestLinkFor('anna@example.test', strangerCookie, strangerCsrf, '203.0.113.5')).toBe(429);
      const queued = (await outboxKinds()).length;

      // Anna, from her own browser on yet another network, still gets one.
      expect(await requestLinkFor('anna@example.test', `${csrfCookie}; ${known}`, csrf, '198.51.100.7')).toBe(200);
      expect((await outboxKinds()).length).toBe(queued + 1);
      // A forged mark counts with the strangers.
      expect(await requestLinkFor('anna@example.test', `${csrfCookie}; sb_known=${'A'.repeat(43)}`, csrf, '198.51.100.8')).toBe(429);
      expect((await outboxKinds()).length).toBe(queued + 1);
    });
  });

  describe('security headers', () => {
    const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'";

    it('pages get a CSP without inline script, frame-ancestors none, nosniff, Referrer-Policy and no-store', async () => {
      const cookie = await signInCookie(server, specialistId);
      const link = await signInLink();
      const pages = [
        await fetch(`${server.url}/sign-in`),
        await fetch(`${server.url}/dashboard`, { headers: { cookie } }),
        await fetch(`${server.url}/settings`, { headers: { cookie } }),
        await openLink(link),
      ];
      for (const res of pages) {
        expect(res.status).toBe(200);
        expect(res.headers.get('content-security-policy')).toBe(CSP);
        expect(res.headers.get('x-content-type-options')).toBe('nosniff');
        expect(res.headers.get('referrer-policy')).toBe('same-origin');
        expect(res.headers.get('x-frame-options')).toBe('DENY');
        expect(res.headers.get('cache-control')).toBe('no-store');
        expect(res.headers.get('strict-transport-security')).toBeNull();
        // Every script has a src: none is inline.
        expect(await res.text()).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
      }
      const script = await fetch(`${server.url}/assets/settings.js`);
      expect(script.status).toBe(200);
      expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      expect(await script.text()).toContain("document.getElementById('copy-snippet')");
      expect((await fetch(`${server.url}/assets/nope.js`)).status).toBe(404);
    });

    it('are not sent on /widget/*, /sdk/* and /api/*, where they would break embedding', async () => {
      const answers = [
        await fetch(`${server.url}/api/v1/specialists/anna`, { headers: { origin: 'https://anna-coaching.example' } }),
        await fetch(`${server.url}/api/v1/no-such-route`),
        await fetch(`${server.url}/widget/specialist-booking.js`),
        await fetch(`${server.url}/sdk/specialist-booking-sdk.js`),
      ];
      expect(answers[0]!.status).toBe(200);
      for (const res of answers) {
        for (const header of ['content-security-policy', 'x-frame-options', 'referrer-policy', 'x-content-type-options', 'cross-origin-resource-policy']) {
          expect(res.headers.get(header)).toBeNull();
        }
      }
    });
  });
});
