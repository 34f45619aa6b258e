/**
 * Reading request bodies as JSON: one place that turns malformed JSON into
 * 400 `invalid_json`, for the API's bodies and Zoom's webhook alike.
 */
import type { Context } from 'hono';
import type { z } from 'zod';
import { DomainError } from '../errors.js';
import { parseOrThrow } from '../validation.js';

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
  return parseOrThrow(schema, parseJsonText(await readTextWithin(c, maxBytes)));
}

/**
 * A body already read as text, parsed as JSON; throws 400 `invalid_json`
 * when it is not. For bodies that must be read as text first (a signed
 * webhook is verified over its exact bytes).
 */
export function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new DomainError('invalid_json', 'The request body is not valid JSON.');
  }
}
