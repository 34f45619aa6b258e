/** The token endpoint refused a grant: `invalid_grant`, `invalid_client`, … */
export class ZoomOAuthError extends Error {
  override name = 'ZoomOAuthError';
  constructor(
    readonly error: string,
    readonly status: number,
    readonly reason: string | undefined,
  ) {
    super(`Zoom OAuth error ${error}${reason ? `: ${reason}` : ''}`);
  }

  /** The refresh token or code is dead: only a new authorization helps. */
  get isInvalidGrant(): boolean {
    return this.error === 'invalid_grant';
  }
}

/** The REST API answered an error. `code` is Zoom's own error code when the body had one. */
export class ZoomApiError extends Error {
  override name = 'ZoomApiError';
  constructor(
    readonly status: number,
    readonly code: number | undefined,
    message: string,
    readonly rateLimitType: string | undefined,
    /** Whole seconds Zoom's Retry-After asked for (seconds or a timestamp), at least 1; undefined without one. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }

  /** 401 code 124: the access token is expired, invalid or revoked. */
  get isInvalidToken(): boolean {
    return this.status === 401 && (this.code === 124 || this.code === undefined);
  }

  /** Worth retrying later: rate limits and server errors. */
  get isTransient(): boolean {
    return this.status === 429 || this.status >= 500;
  }
}

/**
 * Zoom does not know the meeting a call named (404 code 3001): it was deleted
 * at Zoom, or never existed. A `ZoomApiError` still, so code that handles
 * those keeps working; callers that care (a reschedule whose meeting is gone)
 * test for this class.
 */
export class ZoomMeetingNotFoundError extends ZoomApiError {
  override name = 'ZoomMeetingNotFoundError';
  constructor(
    readonly meetingId: string,
    refusal: ZoomApiError,
  ) {
    super(refusal.status, refusal.code, refusal.message, refusal.rateLimitType, refusal.retryAfterSeconds);
  }
}

/** Zoom could not be reached, or did not answer in time. */
export class ZoomNetworkError extends Error {
  override name = 'ZoomNetworkError';
}

/**
 * Zoom answered 2xx with a body its contract does not allow: a meeting
 * without an id or a join link, a token answer without a refresh token, …
 * Nothing in it is used; callers treat it as Zoom being unavailable.
 */
export class ZoomMalformedAnswerError extends Error {
  override name = 'ZoomMalformedAnswerError';
  constructor(
    readonly operation: string,
    problems: string,
  ) {
    super(`Zoom's ${operation} answer breaks its contract: ${problems}`);
  }
}
