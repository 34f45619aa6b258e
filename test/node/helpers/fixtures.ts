import { insertSpecialist, type SpecialistSeed } from '../../../server/demo/seed.js';
import type { Kysely } from 'kysely';
import type { Database } from '../../../server/db/schema.js';

/**
 * Tests run at a fixed instant: Monday 2030-01-07 06:00 UTC (07:00 in Berlin).
 * The specialist works 09:00–12:00 and 13:00–17:00 Berlin time, Monday to Friday.
 */
export const NOW = new Date('2030-01-07T06:00:00.000Z');
export const fixedClock = () => new Date(NOW);

/** Monday 2030-01-07 10:00 Berlin = 09:00 UTC: a free, offered slot. */
export const FREE_SLOT = '2030-01-07T09:00:00.000Z';

export function specialistSeed(overrides: Partial<SpecialistSeed> = {}): SpecialistSeed {
  return {
    slug: 'anna',
    name: 'Anna Berg',
    email: 'anna@example.test',
    timeZone: 'Europe/Berlin',
    allowedOrigins: ['https://anna-coaching.example'],
    minNoticeMinutes: 60,
    bookingHorizonDays: 60,
    services: [
      { title: 'Intro call', description: 'Get to know each other', durationMinutes: 30 },
      { title: 'Deep dive', description: 'A full session', durationMinutes: 60, priceCents: 9000, currency: 'EUR' },
    ],
    weeklyHours: [1, 2, 3, 4, 5].flatMap((weekday) => [
      { weekday, start: '09:00', end: '12:00' },
      { weekday, start: '13:00', end: '17:00' },
    ]),
    ...overrides,
  };
}

export async function seedSpecialist(db: Kysely<Database>, overrides: Partial<SpecialistSeed> = {}) {
  return insertSpecialist(db, specialistSeed(overrides), NOW);
}

export function bookingBody(serviceId: string, start = FREE_SLOT, customer: Record<string, unknown> = {}) {
  return { serviceId, start, customer: { name: 'Carla Customer', email: 'carla@example.test', ...customer } };
}

/** A clock tests can move forward; shared by the server and the Zoom emulator. */
export function createTestClock(start = NOW) {
  let now = start.getTime();
  return {
    clock: () => new Date(now),
    advance(ms: number) {
      now += ms;
    },
  };
}

/**
 * A monotonic clock moved by hand, for the caches' `monotonicNow`. It starts
 * at `performance.now()`, the clock local changes are noted on, rounded up to
 * a whole millisecond so steps add up exactly.
 */
export function createTestMonotonicClock() {
  let now = Math.ceil(performance.now());
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

/**
 * On the real clock, waits until the current window of `windowMs` (limits
 * count in windows aligned on the epoch: whole hours, UTC days) has at least
 * `marginMs` left. A test that fills such a window on the real clock would
 * otherwise see the counts start over mid-test, and a 201 where it expects
 * a 429.
 *
 * @example await waitForRoomInWindow(3_600_000); // then make the hour's bookings
 */
export async function waitForRoomInWindow(windowMs: number, marginMs = 20_000): Promise<void> {
  const left = windowMs - (Date.now() % windowMs);
  if (left < marginMs) await new Promise((resolve) => setTimeout(resolve, left + 100));
}
