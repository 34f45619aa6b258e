import type { ErrorCode } from '../sdk/error-codes.js';
import type { FieldError, Hold } from '../sdk/contract.js';

/**
 * An expected failure of a domain operation, with a stable code and a message
 * written for people. The domain throws it; the HTTP layer maps the code to a
 * status in one place (`server/http/errors.ts`).
 */
export class DomainError extends Error {
  override name = 'DomainError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: { errors?: FieldError[]; requiresReAuth?: boolean; specialistNotified?: boolean; hold?: Hold; retryAfterSeconds?: number } = {},
  ) {
    super(message);
  }
}

export function notFound(message: string): DomainError {
  return new DomainError('not_found', message);
}

/**
 * How long a 503 asks clients to wait when nothing better is known. The
 * server has already retried Zoom for about two seconds by then, so an
 * immediate retry would most likely fail again; Zoom's short outages and
 * rate limits pass within tens of seconds, and half a minute is still a wait
 * a customer on the booking page sits through (issue #15).
 */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 30;

/**
 * `zoom_unavailable` (503), with the seconds to wait before trying again
 * (sent as `Retry-After` and as `retryAfterSeconds`): Zoom's own Retry-After
 * when Zoom gave one, else `UNAVAILABLE_RETRY_AFTER_SECONDS`.
 *
 * @example throw zoomUnavailable('Zoom could not be reached.', result.retryAfterSeconds);
 */
export function zoomUnavailable(message: string, retryAfterSeconds = UNAVAILABLE_RETRY_AFTER_SECONDS): DomainError {
  return new DomainError('zoom_unavailable', message, { retryAfterSeconds });
}

/**
 * `rate_limited`, with the seconds until the limit's window ends (sent as
 * `Retry-After` and as `retryAfterSeconds`).
 */
export function rateLimited(what: string, retryAfterSeconds: number): DomainError {
  const minutes = Math.ceil(retryAfterSeconds / 60);
  const wait = minutes < 120 ? `${minutes} minute${minutes === 1 ? '' : 's'}` : `${Math.ceil(minutes / 60)} hours`;
  return new DomainError('rate_limited', `${what} Please try again in ${wait}.`, { retryAfterSeconds });
}
