import type { Transaction } from 'kysely';
import type { Database } from '../db/schema.js';
import type { ReauthReason } from './connections.js';

/** Who is told and why the connection is dead: common to every re-auth event. */
interface ReauthEventBase {
  specialist: { id: string; name: string; email: string; timeZone: string };
  reason: ReauthReason;
}

/** A booking attempt that failed because the specialist's Zoom connection needs re-authorizing. */
export interface BookingAttemptReauthEvent extends ReauthEventBase {
  trigger: 'booking_attempt';
  service: { id: string; title: string };
  customer: { name: string; email: string };
  /** The slot the customer asked for. */
  start: Date;
  attemptedAt: Date;
  /** Set when the request is held for the customer until then (issue #17); absent when the slot was released. */
  holdExpiresAt?: Date | undefined;
}

/**
 * A Zoom change job (a cancelled booking's delete, a rescheduled one's move)
 * found the connection dead (issue #16): without it the specialist would hear
 * of the problem only when a customer next tries to book.
 */
export interface ChangesWaitingReauthEvent extends ReauthEventBase {
  trigger: 'changes_waiting';
}

/**
 * The routine health check (server/zoom/health.ts) or Zoom's deauthorization
 * webhook found the connection dead (issue #17): the first email (`reminder`
 * 0) and the reminders after 1, 3 and 7 days (1 to 3).
 */
export interface HealthCheckReauthEvent extends ReauthEventBase {
  trigger: 'health_check';
  reminder: number;
  /** Booking attempts refused since the connection died: 0 means no customer has been turned away yet. */
  failedBookingAttempts: number;
}

/**
 * A held request (issue #17) found the connection dead again while being
 * confirmed after a re-authorization: its customers still wait.
 */
export interface HeldRequestsReauthEvent extends ReauthEventBase {
  trigger: 'held_requests';
}

/** Why the specialist is asked to re-authorize: a booking attempt, Zoom changes that wait, the health check, or held requests. */
export type ReauthRequiredEvent = BookingAttemptReauthEvent | ChangesWaitingReauthEvent | HealthCheckReauthEvent | HeldRequestsReauthEvent;

/**
 * Called once per booking attempt that needs re-authorization, inside the
 * transaction that releases the slot, and once per Zoom change job attempt
 * that finds the connection dead, in a transaction of its own; a notification
 * it queues is stored together with that change. Answers whether the specialist was (or will be)
 * notified; it decides on its own whether to throttle.
 */
export type ReauthNotifier = (trx: Transaction<Database>, event: ReauthRequiredEvent) => Promise<{ notified: boolean }>;

/** Words for customers: why the booking could not be made. */
export function describeReauthReason(reason: ReauthReason): string {
  switch (reason) {
    case 'not_connected':
      return 'the specialist has not connected a Zoom account yet';
    case 'deauthorized_in_zoom':
      return 'the specialist’s Zoom connection was removed in Zoom';
    case 'refresh_token_rejected':
    case 'access_token_rejected':
      return 'the specialist’s Zoom authorization has expired or was revoked';
  }
}
