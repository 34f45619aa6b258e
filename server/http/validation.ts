import type { Context } from 'hono';
import type { z } from 'zod';
import type { FieldError } from '../../sdk/contract.js';
import { DomainError } from '../errors.js';

/** Zod issues as the contract's field errors. */
export function fieldErrorsOf(error: z.ZodError): FieldError[] {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join('.') || '(body)',
    message: issue.message,
  }));
}

function validationError(error: z.ZodError): DomainError {
  const errors = fieldErrorsOf(error);
  const first = errors[0]!;
  const summary = first.path === '(body)' ? first.message : `${first.path}: ${first.message}`;
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more problem${errors.length > 2 ? 's' : ''})` : '';
  return new DomainError('validation_failed', `Please check the request: ${summary}${more}.`, { errors });
}

/** Parses a value with a schema, or throws `validation_failed` with field errors. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw validationError(result.error);
  return result.data;
}

/**
 * Reads a JSON body and validates it. Distinguishes a wrong content type
 * (415), malformed JSON (400 `invalid_json`) and a body that does not match
 * the schema (400 `validation_failed`).
 */
export async function readJsonBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  const contentType = c.req.header('content-type') ?? '';
  if (!/^application\/([a-z0-9.+-]*\+)?json\b/i.test(contentType)) {
    throw new DomainError('unsupported_media_type', 'Send the request body as JSON with Content-Type: application/json.');
  }
  const text = await c.req.text();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new DomainError('invalid_json', 'The request body is not valid JSON.');
  }
  return parseWith(schema, value);
}
