import { once } from 'node:events';
import { beforeEach, describe, expect, it } from 'vitest';
import { claimBlocks } from '../../server/availability/index.js';
import { createLeaseKeeper, isOneRow, keepLeaseAlive, LeaseLostError, pollWithBackoff, type LeaseKeeper } from '../../server/leases/index.js';
import { DATABASE_KINDS, useTestDatabase } from './helpers/databases.js';
import { createTestClock, FREE_SLOT, NOW, seedSpecialist } from './helpers/fixtures.js';

const LEASE_MS = 60_000;

describe.each(DATABASE_KINDS)('fenced leases on %s', (kind) => {
  const database = useTestDatabase(kind);
  const db = () => database().handle.db;
  let time: ReturnType<typeof createTestClock>;
  let leases: LeaseKeeper;
  let bookingId: string;

  beforeEach(async () => {
    await db().deleteFrom('specialists').execute();
    const { specialistId, serviceIds } = await seedSpecialist(db());
    time = createTestClock(NOW);
    leases = createLeaseKeeper({ db: db(), clock: time.clock }, { name: 'meeting', table: 'bookings', keyColumn: 'id', tokenColumn: 'meeting_lock_token', untilColumn: 'meeting_lock_until' });
    bookingId = crypto.randomUUID();
    const start = Date.parse(FREE_SLOT);
    await db()
      .insertInto('bookings')
      .values({
        id: bookingId,
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
        idempotency_key: null,
        request_fingerprint: null,
        meeting_lock_until: null,
        meeting_lock_token: null,
        meeting_requested_at: null,
        created_at: NOW.toISOString(),
        updated_at: NOW.toISOString(),
      })
      .execute();
    await db()
      .insertInto('booking_slot_claims')
      .values(claimBlocks(start, start + 30 * 60_000).map((block_start) => ({ specialist_id: specialistId, block_start, booking_id: bookingId })))
      .execute();
  });

  const row = () => db().selectFrom('bookings').select(['status', 'meeting_lock_token', 'meeting_lock_until']).where('id', '=', bookingId).executeTakeFirst();
  const confirmWith = (lease: NonNullable<Awaited<ReturnType<LeaseKeeper['take']>>>) =>
    leases.fence(db().updateTable('bookings').set({ status: 'confirmed', ...leases.cleared() }).where('status', '=', 'pending'), lease).executeTakeFirst();

  it('takes a free lease with a fresh token, and refuses a second holder while it lasts', async () => {
    const lease = await leases.take(bookingId, LEASE_MS);
    expect(lease).toEqual({ key: bookingId, token: expect.any(String), until: new Date(NOW.getTime() + LEASE_MS) });
    expect(await row()).toMatchObject({ meeting_lock_token: lease!.token, meeting_lock_until: '2030-01-07T06:01:00.000Z' });
    time.advance(LEASE_MS - 1);
    expect(await leases.take(bookingId, LEASE_MS)).toBeUndefined();
    expect(await row()).toMatchObject({ meeting_lock_token: lease!.token });
  });

  it('refuses when the extra condition does not match (the row went another way)', async () => {
    await db().updateTable('bookings').set({ status: 'confirmed' }).execute();
    expect(await leases.take(bookingId, LEASE_MS, { extra: (u) => u.where('status', '=', 'pending') })).toBeUndefined();
  });

  it('lets another holder in once the lease has ended; the old holder’s fenced write then changes no row', async () => {
    const old = (await leases.take(bookingId, LEASE_MS))!;
    time.advance(LEASE_MS + 1);
    const taker = await leases.take(bookingId, LEASE_MS);
    expect(taker).toBeDefined();
    expect(taker!.token).not.toBe(old.token);

    expect(isOneRow(await confirmWith(old))).toBe(false);
    expect(await row()).toMatchObject({ status: 'pending', meeting_lock_token: taker!.token });
    expect(isOneRow(await confirmWith(taker!))).toBe(true);
    expect(await row()).toEqual({ status: 'confirmed', meeting_lock_token: null, meeting_lock_until: null });
  });

  it('a fenced delete by the old holder deletes nothing; the holder’s deletes the row and its claims with it', async () => {
    const old = (await leases.take(bookingId, LEASE_MS))!;
    time.advance(LEASE_MS + 1);
    const taker = (await leases.take(bookingId, LEASE_MS))!;
    const claims = async () => (await db().selectFrom('booking_slot_claims').select('block_start').where('booking_id', '=', bookingId).execute()).length;
    expect(isOneRow(await leases.fence(db().deleteFrom('bookings'), old).executeTakeFirst())).toBe(false);
    expect(await claims()).toBe(6);
    expect(isOneRow(await leases.fence(db().deleteFrom('bookings'), taker).executeTakeFirst())).toBe(true);
    expect(await row()).toBeUndefined();
    // booking_slot_claims.booking_id ... on delete cascade: foreign keys are enforced on this database.
    expect(await claims()).toBe(0);
  });

  it('renews a lease still held, and answers false after it was lost', async () => {
    const lease = (await leases.take(bookingId, LEASE_MS))!;
    time.advance(30_000);
    expect(await leases.renew(lease, LEASE_MS)).toBe(true);
    expect(lease.until).toEqual(new Date(NOW.getTime() + 30_000 + LEASE_MS));
    expect(await row()).toMatchObject({ meeting_lock_until: '2030-01-07T06:01:30.000Z' });
    time.advance(LEASE_MS + 1);
    expect(await leases.take(bookingId, LEASE_MS)).toBeDefined();
    expect(await leases.renew(lease, LEASE_MS)).toBe(false);
  });

  it('release lets go of a held lease, and leaves alone one taken by another', async () => {
    const old = (await leases.take(bookingId, LEASE_MS))!;
    time.advance(LEASE_MS + 1);
    const taker = (await leases.take(bookingId, LEASE_MS))!;
    await leases.release(old);
    expect(await row()).toMatchObject({ meeting_lock_token: taker.token });
    await leases.release(taker);
    expect(await row()).toMatchObject({ meeting_lock_token: null, meeting_lock_until: null });
  });

  it('forNewRow gives the lease and the columns to insert with the row', () => {
    const { lease, columns } = leases.forNewRow('new-row', LEASE_MS);
    expect(columns).toEqual({ meeting_lock_token: lease.token, meeting_lock_until: '2030-01-07T06:01:00.000Z' });
    expect(lease).toEqual({ key: 'new-row', token: expect.any(String), until: new Date(NOW.getTime() + LEASE_MS) });
  });

  it('keepLeaseAlive renews while the lease is held, and aborts its signal once it is lost', async () => {
    const lease = (await leases.take(bookingId, LEASE_MS))!;
    let lostCalls = 0;
    const heartbeat = keepLeaseAlive(leases, lease, { durationMs: LEASE_MS, everyMs: 5, onLost: () => lostCalls++ });
    try {
      time.advance(10_000);
      // A renewal moves the lease's end with the clock: wait for it to show in the row.
      await expect.poll(async () => (await row())?.meeting_lock_until, { timeout: 5_000, interval: 5 }).toBe('2030-01-07T06:01:10.000Z');
      expect(heartbeat.signal.aborted).toBe(false);

      // Another holder takes the lease. (Letting it run out instead races the heartbeat, which may renew it
      // first: the token still matches until someone else takes it.)
      time.advance(LEASE_MS + 1);
      await db().updateTable('bookings').set({ meeting_lock_token: 'another-holder' }).where('id', '=', bookingId).execute();
      // The heartbeat may find the loss before the wait begins: an abort already fired is not fired again.
      if (!heartbeat.signal.aborted) await once(heartbeat.signal, 'abort');
      expect(heartbeat.signal.reason).toBeInstanceOf(LeaseLostError);
      expect(heartbeat.signal.reason).toMatchObject({ leaseName: 'meeting', key: bookingId });
      expect(lostCalls).toBe(1);
    } finally {
      await heartbeat.stop();
    }
  });
});

describe('pollWithBackoff', () => {
  it('returns the first answer that is not undefined', async () => {
    let asks = 0;
    expect(await pollWithBackoff(async () => (++asks === 3 ? 'done' : undefined), { budgetMs: 1_000, firstWaitMs: 1 })).toBe('done');
    expect(asks).toBe(3);
  });

  it('gives up once the time slept reaches the budget, whatever the injected clock does', async () => {
    let asks = 0;
    const started = performance.now();
    expect(await pollWithBackoff(async () => void asks++, { budgetMs: 100, firstWaitMs: 10, maxWaitMs: 40 })).toBeUndefined();
    // Waits of 10, 20, 40, 30 ms: five asks, about 100 ms.
    expect(asks).toBe(5);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('stops when its signal aborts', async () => {
    const controller = new AbortController();
    controller.abort();
    let asks = 0;
    expect(await pollWithBackoff(async () => void asks++, { budgetMs: 60_000, signal: controller.signal })).toBeUndefined();
    expect(asks).toBe(1);
  });
});
