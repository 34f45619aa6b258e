import { createHmac } from 'node:crypto';
import { isSameSecret } from '../security/constant-time.js';

/**
 * The token in a booking's manage link (`/bookings/{id}/manage?token=…`,
 * issue #16): an HMAC-SHA256 of the booking id under the server's signing
 * key. It cannot be guessed or moved to another booking, needs no account
 * and no row, and works until the session starts: the domain refuses it
 * once `start_at` has passed, so a reschedule moves its end with the session.
 *
 * @example
 * const tokens = createManageTokens(signingKey);
 * const url = `${publicUrl}/bookings/${id}/manage?token=${tokens.issue(id)}`;
 * tokens.isValid(id, token); // true
 */
export interface ManageTokens {
  issue(bookingId: string): string;
  /** In constant time; says nothing of whether the session has started (the domain checks that). */
  isValid(bookingId: string, token: string): boolean;
}

export function createManageTokens(signingKey: Buffer): ManageTokens {
  const sign = (bookingId: string) => createHmac('sha256', signingKey).update(`booking-manage:${bookingId}`).digest('base64url');
  return {
    issue: sign,
    isValid: (bookingId, token) => typeof token === 'string' && isSameSecret(token, sign(bookingId)),
  };
}
