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

function tooLarge(maxBytes: number): DomainError {
  return new DomainError('payload_too_large', `The request body is larger than ${maxBytes / 1024} KB.`);
}

/**
 * The body as text, at most `maxBytes` of it: a body whose Content-Length
 * says more is refused unread, and one sent without a length (chunked) is
 * refused as soon as it grows past the limit, so neither is held in memory.
 */
async function readTextWithin(c: Context, maxBytes: number): Promise<string> {
  const declared = c.req.header('content-length');
  if (declared !== undefined) {
    if (!(Number(declared) <= maxBytes)) throw tooLarge(maxBytes);
    return c.req.text();
  }
  const body = c.req.raw.body;
  if (!body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  // Leaving the loop by a throw cancels the stream.
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > maxBytes) throw tooLarge(maxBytes);
    chunks.push(chunk);
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}

/**
 * Reads a JSON body of at most `maxBytes` and validates it. Distinguishes a
 * wrong content type (415), a body too large (413 `payload_too_large`),
 * malformed JSON (400 `invalid_json`) and a body that does not match the
 * schema (400 `validation_failed`).
 */
export async function readJsonBody<S extends z.ZodType>(c: Context, schema: S, maxBytes: number): Promise<z.output<S>> {
  const contentType = c.req.header('content-type') ?? '';
  if (!/^application\/([a-z0-9.+-]*\+)?json\b/i.test(contentType)) {
    throw new DomainError('unsupported_media_type', 'Send the request body as JSON with Content-Type: application/json.');
  }
  const text = await readTextWithin(c, maxBytes);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new DomainError('invalid_json', 'The request body is not valid JSON.');
  }
  return parseWith(schema, value);
}
