import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/databases.js';
import { fixedClock, seedSpecialist } from './helpers/fixtures.js';
import { startTestServer, type TestServer } from './helpers/server.js';

describe('the hosted booking page, GET /book/{slug}', () => {
  let database: TestDatabase;
  let server: TestServer;
  const db = () => database.handle.db;

  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    server = await startTestServer({ db: db(), clock: fixedClock });
  });
  afterAll(async () => {
    await server?.close();
    await database?.destroy();
  });
  beforeEach(async () => {
    await db().deleteFrom('specialists').execute();
    await seedSpecialist(db(), { name: 'Anna <b>"Berg"</b>' });
  });

  it('serves the page with the widget for the specialist, under the pages’ security headers', async () => {
    const res = await fetch(`${server.url}/book/anna`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=UTF-8');
    const page = await res.text();
    // The profile is asked for beside the script; the widget's own request for it reuses that answer.
    expect(page).toContain(
      '<script type="module" src="/widget/specialist-booking.js"></script>\n<link rel="preload" href="/api/v1/specialists/anna" as="fetch" crossorigin>\n<specialist-booking specialist="anna"></specialist-booking>',
    );
    expect(page).toContain('<h1>Book a session with Anna &lt;b&gt;&quot;Berg&quot;&lt;/b&gt;</h1>');
    expect(page).not.toContain('<b>');
    // The widget bundle is this origin's script: the policy allows it, and its API calls (connect-src by default-src).
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'self'");
  });

  it('escapes the slug inside the widget’s attribute', async () => {
    await db().updateTable('specialists').set({ slug: 'a"b<c' }).execute();
    const res = await fetch(`${server.url}/book/${encodeURIComponent('a"b<c')}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<specialist-booking specialist="a&quot;b&lt;c"></specialist-booking>');
  });

  it('answers an unknown slug with a 404 page', async () => {
    const res = await fetch(`${server.url}/book/nobody`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('text/html; charset=UTF-8');
    expect(await res.text()).toContain('<h1>This booking page does not exist</h1>');
  });

  it('the widget’s API calls from the page’s own origin are allowed, whatever origins the specialist lists', async () => {
    const res = await fetch(`${server.url}/api/v1/specialists/anna`, { headers: { origin: server.url } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(server.url);
    const foreign = await fetch(`${server.url}/api/v1/specialists/anna`, { headers: { origin: 'https://elsewhere.example' } });
    expect(foreign.status).toBe(403);
  });
});
