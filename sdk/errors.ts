import type { ErrorCode } from './error-codes.js';

/**
 * Base of every error the SDK throws. Expected outcomes (a taken slot, a
 * Zoom connection that needs re-authorizing, invalid fields) are returned as
 * values, not thrown: see `BookingOutcome`.
 */
export class BookingError extends Error {
  override name = 'BookingError';
}

/** The server answered with an error the caller did not expect. */
export class BookingApiError extends BookingError {
  override name = 'BookingApiError';
  constructor(
    /** HTTP status. */
    readonly status: number,
    /** Stable error code, or `unknown_error` when the body had none. */
    readonly code: ErrorCode | 'unknown_error',
    message: string,
    /** The server's X-Request-Id, to quote when reporting a problem. */
    readonly requestId: string | undefined,
    /** With 429 `rate_limited`: seconds until the limit frees; with a 503: seconds the server asked to wait, if it said (Retry-After). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

/** The request never got an answer: network down, DNS, CORS, reset socket. */
export class BookingConnectionError extends BookingError {
  override name = 'BookingConnectionError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** No answer within the client's timeout. */
export class BookingTimeoutError extends BookingConnectionError {
  override name = 'BookingTimeoutError';
}
