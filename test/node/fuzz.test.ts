/**
 * A bounded, seeded fuzz of every public endpoint with random and hostile
 * input: never a 500, never a stack trace, nothing written on a 4xx.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/databases.js';
import { FREE_SLOT, fixedClock, seedSpecialist } from './helpers/fixtures.js';
import { connectZoom, startTestServer, type TestServer } from './helpers/server.js';

const SEED = 20261125;

const hostileString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', "' OR 1=1 --", '../../etc/passwd', '\u0000', '__proto__', 'constructor', '𝕏'.repeat(50), ' '.repeat(5), '%00', 'null'),
  fc.string({ unit: 'binary', maxLength: 30 }),
);
const jsonish: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    hostileString,
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(hostileString, tie('value'), { maxKeys: 4 }),
  ),
})).value;

describe('fuzzing the public endpoints', () => {
  let database: TestDatabase;
  let server: TestServer;
  let serviceIds: string[];
  const db = () => database.handle.db;
  const counts = async () => ({
    bookings: (await db().selectFrom('bookings').select('id').execute()).length,
    outbox: (await db().selectFrom('email_outbox').select('id').execute()).length,
    connections: (await db().selectFrom('zoom_connections').select('status').where('status', '=', 'active').execute()).length,
  });

  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    const anna = await seedSpecialist(db());
    serviceIds = anna.serviceIds;
    server = await startTestServer({ db: db(), clock: fixedClock, notifyReauthRequired: 'email' });
    await connectZoom(server, anna.specialistId);
  });
  afterAll(async () => {
    await server?.close();
    await database?.destroy();
  });

  async function expectSafe(res: Response): Promise<void> {
    const text = await res.text();
    expect(res.status, text).toBeLessThan(500);
    expect(text).not.toMatch(/\bat [\w.<>]+ \(|\.ts:\d+:\d+|node:internal/);
  }

  it('POST /bookings: random and hostile bodies', async () => {
    const before = await counts();
    const body = fc.oneof(
      jsonish.map((v) => JSON.stringify(v)),
      fc.record({
        serviceId: fc.oneof(hostileString, fc.constantFrom(...serviceIds)),
        start: fc.oneof(hostileString, fc.constant(FREE_SLOT), fc.date({ noInvalidDate: true }).map((d) => d.toISOString())),
        customer: fc.oneof(jsonish, fc.record({ name: hostileString, email: fc.oneof(hostileString, fc.emailAddress()), note: fc.option(hostileString) })),
      }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
      hostileString,
    );
    await fc.assert(
      fc.asyncProperty(body, fc.option(hostileString.filter((k) => /^[\x21-\x7e]*$/.test(k))), async (payload, key) => {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (key) headers['idempotency-key'] = key;
        const res = await fetch(`${server.url}/api/v1/specialists/anna/bookings`, { method: 'POST', headers, body: payload });
        const status = res.status;
        await expectSafe(res);
        if (status >= 400) {
          // A refused request leaves nothing behind: no pending booking, no stray claim.
          expect(await db().selectFrom('bookings').select('id').where('status', '!=', 'confirmed').execute()).toEqual([]);
          const claims = await db().selectFrom('booking_slot_claims').select('booking_id').execute();
          const live = new Set((await db().selectFrom('bookings').select('id').execute()).map((b) => b.id));
          expect(claims.every((c) => live.has(c.booking_id))).toBe(true);
        }
      }),
      { seed: SEED, numRuns: 1500 },
    );
    // Only the valid requests wrote anything: every booking is confirmed with its two invites.
    const after = await counts();
    const confirmed = (await db().selectFrom('bookings').select('id').where('status', '=', 'confirmed').execute()).length;
    expect(after.bookings).toBe(confirmed);
    expect(after.outbox - before.outbox).toBe(2 * (after.bookings - before.bookings));
    expect(after.connections).toBe(1);
  });

  it('GET profile and slots: random slugs, service ids and query strings', async () => {
    const before = await counts();
    await fc.assert(
      fc.asyncProperty(hostileString, hostileString, fc.dictionary(fc.constantFrom('from', 'to', 'x', 'from[]'), hostileString, { maxKeys: 3 }), async (slug, serviceId, query) => {
        const qs = new URLSearchParams(query).toString();
        await expectSafe(await fetch(`${server.url}/api/v1/specialists/${encodeURIComponent(slug)}`));
        await expectSafe(await fetch(`${server.url}/api/v1/specialists/anna/services/${encodeURIComponent(serviceId)}/slots?${qs}`));
        await expectSafe(await fetch(`${server.url}/api/v1/specialists/anna/services/${serviceIds[0]}/slots?${qs}`));
      }),
      { seed: SEED, numRuns: 500 },
    );
    expect(await counts()).toEqual(before);
  });

  it('webhook, sign-in, auth links and OAuth callback: random input changes nothing', async () => {
    const before = await counts();
    await fc.assert(
      fc.asyncProperty(hostileString, jsonish, hostileString, hostileString.filter((v) => /^[\x20-\x7e]*$/.test(v)), async (text, json, token, signature) => {
        await expectSafe(
          await fetch(`${server.url}/webhooks/zoom`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-zm-signature': `v0=${signature}`, 'x-zm-request-timestamp': String(Math.floor(Date.now() / 1000)) },
            body: JSON.stringify(json),
          }),
        );
        await expectSafe(await fetch(`${server.url}/sign-in`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ email: text, _csrf: token }) }));
        await expectSafe(await fetch(`${server.url}/auth/link?token=${encodeURIComponent(token)}`, { redirect: 'manual' }));
        await expectSafe(await fetch(`${server.url}/oauth/zoom/callback?state=${encodeURIComponent(token)}&code=${encodeURIComponent(text)}`));
      }),
      { seed: SEED, numRuns: 400 },
    );
    expect(await counts()).toEqual(before);
  });
});
