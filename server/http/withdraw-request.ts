import type { Kysely } from 'kysely';
import type { ManagedBooking } from '../../sdk/contract.js';
import type { BookingLifecycle, CountChange } from '../bookings/lifecycle.js';
import type { Database } from '../db/schema.js';

/**
 * The customer withdraws a held request (issue #17), through the API or the
 * manage page alike, counted against the limits of a cancel
 * (`countBookingChange`: per client address per hour, per booking per day).
 *
 * The lifecycle's `withdraw` takes no `countChange`, so the count is made
 * here, in a transaction of its own, and only once `get` has shown that the
 * token is the booking's and the request is still held: a forged token, a
 * repeat or a request that is no longer held counts nothing, as with a
 * cancel. Over a limit it throws `rate_limited` and nothing is withdrawn. A
 * withdrawal that loses a race with the confirmation (`booking_not_changeable`)
 * has been counted: one hit of a budget of ten.
 *
 * @example
 * await withdrawHeldRequest({ db, lifecycle }, id, token, countBookingChange(deps, id, addressLimitKey(address)));
 */
export async function withdrawHeldRequest(
  deps: { db: Kysely<Database>; lifecycle: BookingLifecycle },
  bookingId: string,
  token: string,
  countChange: CountChange,
): Promise<ManagedBooking> {
  const access = { kind: 'customer', token } as const;
  const current = await deps.lifecycle.get(bookingId, access);
  if (current.status === 'held') await deps.db.transaction().execute(countChange);
  return deps.lifecycle.withdraw(bookingId, access);
}
