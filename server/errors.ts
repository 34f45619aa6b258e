import type { ErrorCode } from '../sdk/error-codes.js';
import type { FieldError } from '../sdk/contract.js';

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
    readonly details: { errors?: FieldError[]; requiresReAuth?: boolean; specialistNotified?: boolean } = {},
  ) {
    super(message);
  }
}

export function notFound(message: string): DomainError {
  return new DomainError('not_found', message);
}
