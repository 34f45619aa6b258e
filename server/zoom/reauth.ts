import type { Transaction } from 'kysely';
import type { Database } from '../db/schema.js';
import type { ReauthReason } from './connections.js';

/** A booking attempt that failed because the specialist's Zoom connection needs re-authorizing. */
export interface ReauthRequiredEvent {
  specialist: { id: string; name: string; email: string; timeZone: string };
  service: { id: string; title: string };
  customer: { name: string; email: string };
  /** The slot the customer asked for. */
  start: Date;
  attemptedAt: Date;
  reason: ReauthReason;
}

/**
 * Called once per booking attempt that needs re-authorization, inside the
 * transaction that releases the slot, so a notification it queues is stored
 * together with that change. Answers whether the specialist was (or will be)
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
