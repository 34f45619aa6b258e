import { z } from 'zod';
import { LIMITS } from '../../sdk/contract.js';
import { parseOrThrow } from '../validation.js';

const IdempotencyKeySchema = z
  .string()
  .regex(/^[\x21-\x7e]+$/, 'Use printable ASCII without spaces')
  .max(LIMITS.idempotencyKeyMaxLength, `At most ${LIMITS.idempotencyKeyMaxLength} characters`);

/** An `Idempotency-Key` header's value (printable ASCII, no spaces, at most 255 characters), or `validation_failed` naming the header. */
export function parseIdempotencyKey(value: string): string {
  return parseOrThrow(IdempotencyKeySchema, value, {
    rootName: 'Idempotency-Key',
    summarize: (errors) => `Please check the Idempotency-Key header: ${errors[0]!.message}.`,
  });
}
