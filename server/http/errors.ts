import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ErrorResponse } from '../../sdk/contract.js';
import type { ErrorCode } from '../../sdk/error-codes.js';
import { DomainError } from '../errors.js';
import type { Logger } from '../logger.js';

declare module 'hono' {
  interface ContextVariableMap {
    /** The code of the error answer sent, for metrics that count answers by code. */
    errorCode: ErrorCode;
  }
}

/** The one place where an error code becomes an HTTP status. */
export const STATUS_BY_CODE: Record<ErrorCode, ContentfulStatusCode> = {
  validation_failed: 400,
  invalid_json: 400,
  unsupported_media_type: 415,
  payload_too_large: 413,
  not_found: 404,
  slot_taken: 409,
  slot_unavailable: 422,
  idempotency_key_reused: 422,
  invalid_manage_token: 403,
  manage_link_expired: 410,
  change_window_closed: 409,
  booking_not_changeable: 409,
  origin_not_allowed: 403,
  requires_reauth: 409,
  zoom_unavailable: 503,
  rate_limited: 429,
  database_unavailable: 503,
  internal_error: 500,
};

/** Sends the API's error shape: `{ success: false, code, message, … }`. */
export function errorResponse(c: Context, error: DomainError): Response {
  const body: ErrorResponse = { success: false, code: error.code, message: error.message, ...error.details };
  // RFC 9110 §10.2.3: seconds to wait, which the SDK honours.
  if (error.details.retryAfterSeconds !== undefined) c.header('Retry-After', String(error.details.retryAfterSeconds));
  c.set('errorCode', error.code);
  return c.json(body, STATUS_BY_CODE[error.code]);
}

/**
 * `app.onError`: domain errors become their status and shape; anything else
 * is logged (message and stack, server side only) and answered with a plain
 * 500 that reveals nothing.
 */
export function createErrorHandler(logger: Logger): ErrorHandler {
  return function handleError(error, c) {
    if (error instanceof DomainError) return errorResponse(c, error);
    if (error instanceof HTTPException && error.status < 500) {
      const code: ErrorCode = error.status === 413 ? 'payload_too_large' : error.status === 404 ? 'not_found' : 'validation_failed';
      return errorResponse(c, new DomainError(code, error.message || 'The request could not be understood.'));
    }
    logger.error('unhandled error', {
      requestId: c.get('requestId'),
      method: c.req.method,
      path: c.req.path,
      error: error instanceof Error ? error.stack ?? error.message : String(error),
    });
    return errorResponse(c, new DomainError('internal_error', 'Something went wrong on our side. Please try again in a moment.'));
  };
}

export const handleNotFound: NotFoundHandler = (c) =>
  errorResponse(c, new DomainError('not_found', `There is no ${c.req.method} ${c.req.path} endpoint.`));
