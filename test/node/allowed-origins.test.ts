import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAllowedOriginsLookup } from '../../server/specialists/allowed-origins.js';
import { setAllowedOrigins } from '../../server/specialists/settings.js';
import { DATABASE_KINDS, useTestDatabase } from './helpers/databases.js';
import { createTestMonotonicClock, fixedClock, seedSpecialist } from './helpers/fixtures.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let slugCounter = 0;
const nextSlug = () => `origins-${++slugCounter}`;

describe.each(DATABASE_KINDS)('allowed origins lookup on %s', (kind) => {
  const database = useTestDatabase(kind);
  const db = () => database().handle.db;

  async function specialist() {
    const slug = nextSlug();
    const { specialistId } = await seedSpecialist(db(), { slug, email: `${slug}@example.test`, allowedOrigins: ['https://first.example'] });
    return { slug, specialistId };
  }
  /** What another server process sharing the database does: only its own process hears of it. */
  const writeFromAnotherProcess = (specialistId: string, origins: string[]) =>
    db().updateTable('specialists').set({ allowed_origins: JSON.stringify(origins) }).where('id', '=', specialistId).execute();

  it("sees this process's change at once", async () => {
    const { slug, specialistId } = await specialist();
    const lookup = createAllowedOriginsLookup(db(), { recheckMs: 60_000 });
    expect(await lookup.originsFor(slug)).toEqual(['https://first.example']);
    await setAllowedOrigins(db(), fixedClock, specialistId, 'https://second.example\nhttps://third.example/');
    expect(await lookup.originsFor(slug)).toEqual(['https://second.example', 'https://third.example']);
  });

  it('answers at once while the cached answer is fresh, and with a promise when it must read', async () => {
    const { slug, specialistId } = await specialist();
    const lookup = createAllowedOriginsLookup(db(), { recheckMs: 60_000 });
    const first = lookup.originsFor(slug);
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toEqual(['https://first.example']);
    expect(lookup.originsFor(slug)).toEqual(['https://first.example']);
    await setAllowedOrigins(db(), fixedClock, specialistId, 'https://second.example');
    const afterChange = lookup.originsFor(slug);
    expect(afterChange).toBeInstanceOf(Promise);
    expect(await afterChange).toEqual(['https://second.example']);
  });

  it("sees another process's change after recheckMs, and not before", async () => {
    const { slug, specialistId } = await specialist();
    const monotonic = createTestMonotonicClock();
    const lookup = createAllowedOriginsLookup(db(), { recheckMs: 40, monotonicNow: monotonic.now });
    expect(await lookup.originsFor(slug)).toEqual(['https://first.example']);
    await writeFromAnotherProcess(specialistId, ['https://moved.example']);
    monotonic.advance(39);
    expect(await lookup.originsFor(slug)).toEqual(['https://first.example']);
    monotonic.advance(1);
    expect(await lookup.originsFor(slug)).toEqual(['https://moved.example']);
  });

  it('answers undefined for an unknown slug, and finds the specialist who takes it after recheckMs', async () => {
    const monotonic = createTestMonotonicClock();
    const lookup = createAllowedOriginsLookup(db(), { recheckMs: 40, monotonicNow: monotonic.now });
    const slug = nextSlug();
    expect(await lookup.originsFor(slug)).toBeUndefined();
    await seedSpecialist(db(), { slug, email: `${slug}@example.test`, allowedOrigins: ['https://late.example'] });
    expect(await lookup.originsFor(slug)).toBeUndefined();
    monotonic.advance(41);
    expect(await lookup.originsFor(slug)).toEqual(['https://late.example']);
  });
});

describe('CORS with saved origins, over HTTP', () => {
  const database = useTestDatabase('sqlite');
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ db: database().handle.db, clock: fixedClock });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('lets a newly saved origin in on its next request, and keeps a removed one out', async () => {
    const { specialistId } = await seedSpecialist(database().handle.db, { slug: 'saved', email: 'saved@example.test', allowedOrigins: ['https://old.example'] });
    const from = (origin: string) => fetch(`${server.url}/api/v1/specialists/saved`, { headers: { origin } });
    expect((await from('https://old.example')).status).toBe(200);
    expect((await from('https://new.example')).status).toBe(403);
    await setAllowedOrigins(database().handle.db, fixedClock, specialistId, 'https://new.example');
    const allowed = await from('https://new.example');
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://new.example');
    expect((await from('https://old.example')).status).toBe(403);
  });
});
