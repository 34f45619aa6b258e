/**
 * Every stable error code the API answers with. Clients branch on `code`,
 * never on `message` (which is written for people and may change).
 *
 * Kept free of zod so the SDK and the widget can import it without pulling a
 * schema library into a browser bundle.
 */
export const ERROR_CODES = [
  'validation_failed',
  'invalid_json',
  'unsupported_media_type',
  'payload_too_large',
  'not_found',
  'slot_taken',
  'slot_unavailable',
  'idempotency_key_reused',
  'invalid_manage_token',
  'manage_link_expired',
  'change_window_closed',
  'booking_not_changeable',
  'origin_not_allowed',
  'requires_reauth',
  'zoom_unavailable',
  'rate_limited',
  'database_unavailable',
  'internal_error',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}
