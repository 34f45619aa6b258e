import type { Transaction } from 'kysely';
import type { Clock } from '../clock.js';
import type { Database } from '../db/schema.js';
import { rateLimited } from '../errors.js';
import { countHits, DAY_MS, HOUR_MS, type AbuseLimits } from './index.js';

/**
 * Changes of one booking per UTC day: each cancel or reschedule emails both
 * parties and queues a Zoom update, so a leaked manage link must not become
 * a way to flood them.
 */
export const CHANGES_PER_BOOKING_PER_DAY = 10;

export interface BookingChangeLimitDeps {
  clock: Clock;
  /** Changes per client address per clock hour count against `bookingsPerAddressPerHour`. */
  limits: Pick<AbuseLimits, 'bookingsPerAddressPerHour'>;
}

/**
 * The count of a customer's change of a booking (cancel or reschedule,
 * through the API or the manage page alike), for the lifecycle to run
 * inside the change's transaction once the change is sure to happen: per
 * client address per hour, and `CHANGES_PER_BOOKING_PER_DAY` per booking.
 * Over either it throws `rate_limited` (429, with the seconds until the
 * window ends), which rolls the change and its hits back. A change that
 * does not happen (forged token, repeat, refusal) is never counted.
 *
 * @example
 * await lifecycle.cancel(id, { kind: 'customer', token }, { countChange: countBookingChange(deps, id, addressLimitKey(address)) });
 */
export function countBookingChange(deps: BookingChangeLimitDeps, bookingId: string, clientAddressKey: string): (trx: Transaction<Database>) => Promise<void> {
  return async function countChangeInTransaction(trx) {
    const verdict = await countHits(trx, deps.clock, [
      { bucket: `booking-change:address:${clientAddressKey}`, limit: deps.limits.bookingsPerAddressPerHour, windowMs: HOUR_MS },
      { bucket: `booking-change:booking:${bookingId}`, limit: CHANGES_PER_BOOKING_PER_DAY, windowMs: DAY_MS },
    ]);
    if (!verdict.isAllowed) throw rateLimited('Too many changes to bookings.', verdict.retryAfterSeconds);
  };
}
