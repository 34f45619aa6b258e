/**
 * The OpenAPI 3.1 document, generated from the contract's zod schemas, and a
 * readable reference page rendered from that document (no CDN, no client JS).
 */
import { z } from 'zod';
import * as contract from '../../sdk/contract.js';
import { ERROR_CODES } from '../../sdk/error-codes.js';
import { escapeHtml } from '../text/html.js';

type JsonSchema = Record<string, unknown>;

const COMPONENTS: z.ZodType[] = [
  contract.PublicSpecialistSchema,
  contract.ServiceSchema,
  contract.PublicProfileResponseSchema,
  contract.SlotSchema,
  contract.SlotsResponseSchema,
  contract.CreateBookingRequestSchema,
  contract.BookingSchema,
  contract.BookingResponseSchema,
  contract.ManagedBookingSchema,
  contract.ManagedBookingResponseSchema,
  contract.CancelBookingRequestSchema,
  contract.RescheduleBookingRequestSchema,
  contract.WithdrawRequestSchema,
  contract.HoldSchema,
  contract.ErrorResponseSchema,
  contract.HealthResponseSchema,
];

function componentSchemas(): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const schema of COMPONENTS) {
    const id = (z.globalRegistry.get(schema) as { id?: string } | undefined)?.id;
    if (!id) throw new Error('Every OpenAPI component schema needs .meta({ id })');
    registry.add(schema, { id });
  }
  const { schemas } = z.toJSONSchema(registry, { uri: (id) => `#/components/schemas/${id}`, io: 'input', unrepresentable: 'any' }) as {
    schemas: Record<string, JsonSchema>;
  };
  for (const schema of Object.values(schemas)) {
    delete schema.$schema;
    delete schema.$id;
  }
  return schemas;
}

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });
const json = (id: string, description: string) => ({ description, content: { 'application/json': { schema: ref(id) } } });
const errorAnswer = (description: string) => json('ErrorResponse', description);
const rateLimitedAnswer = (description: string) => ({
  ...errorAnswer(`${description} (rate_limited). Retry-After and retryAfterSeconds say how many seconds until the limit frees.`),
  headers: { 'Retry-After': { description: 'Seconds until the limit frees', schema: { type: 'integer', minimum: 1 } } },
});
const unavailableAnswer = (description: string) => ({
  ...errorAnswer(`${description}. Retry-After and retryAfterSeconds say how many seconds to wait before trying again.`),
  headers: { 'Retry-After': { description: "Seconds to wait: Zoom's own Retry-After when a Zoom rate limit was the cause, else 30", schema: { type: 'integer', minimum: 1 } } },
});
const bookingIdParameter = { name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: "The booking's id" };
const manageErrors = {
  403: errorAnswer("The token is not this booking's manage token (invalid_manage_token), or the call comes from a website the specialist did not allow (origin_not_allowed)"),
  404: errorAnswer('No such booking (not_found)'),
  410: errorAnswer('The session has started: the manage link no longer works (manage_link_expired)'),
};
const slugParameter = { name: 'slug', in: 'path', required: true, schema: { type: 'string' }, description: "The specialist's public slug", example: 'demo' };

/**
 * Builds the OpenAPI 3.1 document for the public API.
 *
 * @param serverUrl the server's public URL, listed under `servers`.
 */
export function buildOpenApiDocument(serverUrl: string): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'specialist-booking API',
      version: '1',
      description:
        'The public API behind the <specialist-booking> widget and the JS SDK. Every success has "success": true; ' +
        `every error has "success": false, a stable "code" (${ERROR_CODES.join(', ')}) and a "message" for people.`,
    },
    servers: [{ url: serverUrl }],
    paths: {
      '/api/v1/specialists/{slug}': {
        get: {
          operationId: 'getSpecialist',
          summary: "A specialist's public profile and services",
          parameters: [slugParameter],
          responses: { 200: json('PublicProfileResponse', 'The profile'), 404: errorAnswer('No such specialist (not_found)') },
        },
      },
      '/api/v1/specialists/{slug}/services/{serviceId}/slots': {
        get: {
          operationId: 'listSlots',
          summary: 'Free slots of a service over a date range',
          description:
            "Slots come from the specialist's weekly availability in their time zone (daylight-saving changes included), " +
            'less existing bookings, the minimum notice and the booking horizon. Times are UTC. ' +
            'No slot before now or inside the minimum notice is ever listed, whatever the range.',
          parameters: [
            slugParameter,
            { name: 'serviceId', in: 'path', required: true, schema: { type: 'string' } },
            {
              name: 'from',
              in: 'query',
              required: false,
              schema: { type: 'string', format: 'date-time' },
              description:
                'Default: the start of the current UTC hour, where a from that has passed starts too (unless the whole range ended before that hour): every such question in the same hour gets the same, cached answer. The answer reports the range it covers.',
            },
            {
              name: 'to',
              in: 'query',
              required: false,
              schema: { type: 'string', format: 'date-time' },
              description: `Exclusive. Default: 14 days after from; at most ${contract.LIMITS.maxSlotRangeDays} days after it.`,
            },
          ],
          responses: {
            200: json('SlotsResponse', 'The free slots'),
            400: errorAnswer('Bad range (validation_failed)'),
            404: errorAnswer('No such specialist or service (not_found)'),
            429: rateLimitedAnswer('Too many slot reads from this client address this minute'),
          },
        },
      },
      '/api/v1/specialists/{slug}/bookings': {
        post: {
          operationId: 'createBooking',
          summary: 'Book a slot',
          description:
            'Send an Idempotency-Key header: a repeat with the same key and body returns the same booking (with Idempotent-Replayed: true), never a second one.',
          parameters: [
            slugParameter,
            {
              name: 'Idempotency-Key',
              in: 'header',
              required: false,
              schema: { type: 'string', maxLength: contract.LIMITS.idempotencyKeyMaxLength },
              description: 'A unique key per booking attempt, reused on every retry of it',
            },
          ],
          requestBody: { required: true, content: { 'application/json': { schema: ref('CreateBookingRequest') } } },
          responses: {
            201: json('BookingResponse', 'The booking'),
            400: errorAnswer('Malformed JSON (invalid_json) or invalid fields (validation_failed)'),
            403: errorAnswer('Called from a website the specialist did not allow (origin_not_allowed)'),
            404: errorAnswer('No such specialist or service (not_found)'),
            409: errorAnswer(
              "Someone else booked an overlapping time (slot_taken), or the specialist's Zoom connection needs re-authorization (requires_reauth, with requiresReAuth: true and specialistNotified). " +
                'With requires_reauth, `hold` ({ id, expiresAt }) says the time is held for the customer as a request until expiresAt and confirmed, with an email, as soon as the specialist re-authorizes; ' +
                'the customer can withdraw it with POST /api/v1/bookings/{id}/withdraw. Without `hold` the time was released: the hold would have been under 30 minutes, or the specialist holds nothing.',
            ),
            413: errorAnswer('Body too large (payload_too_large)'),
            415: errorAnswer('Body is not JSON (unsupported_media_type)'),
            422: errorAnswer('Time not offered (slot_unavailable) or key reused with another body (idempotency_key_reused)'),
            429: rateLimitedAnswer('Too many bookings from this client address this hour, by this customer with this specialist today, or for this specialist today'),
            503: unavailableAnswer('Zoom is unavailable for now, after the server retried it; nothing was booked (zoom_unavailable)'),
          },
        },
      },
      '/api/v1/bookings/{id}': {
        get: {
          operationId: 'getBooking',
          summary: 'A booking, as its manage link shows it',
          description: "Needs the token of the booking's manage link (from the confirmation email). Changes nothing. Works until the session starts.",
          parameters: [bookingIdParameter, { name: 'token', in: 'query', required: true, schema: { type: 'string' }, description: 'The manage token' }],
          responses: { 200: json('ManagedBookingResponse', 'The booking'), 400: errorAnswer('Token missing (validation_failed)'), ...manageErrors },
        },
      },
      '/api/v1/bookings/{id}/cancel': {
        post: {
          operationId: 'cancelBooking',
          summary: 'Cancel a booking',
          description:
            'Releases the time and deletes the Zoom meeting (in the background). Idempotent: cancelling a cancelled booking answers 200 with it, and nothing is sent again. ' +
            "Refused inside the specialist's cancellation window unless the specialist offered a reschedule.",
          parameters: [bookingIdParameter],
          requestBody: { required: true, content: { 'application/json': { schema: ref('CancelBookingRequest') } } },
          responses: {
            200: json('ManagedBookingResponse', 'The cancelled booking'),
            400: errorAnswer('Malformed JSON (invalid_json) or invalid fields (validation_failed)'),
            ...manageErrors,
            409: errorAnswer("Inside the cancellation window (change_window_closed; the message names the specialist's contact), or the booking can no longer change (booking_not_changeable)"),
            413: errorAnswer('Body too large (payload_too_large)'),
            415: errorAnswer('Body is not JSON (unsupported_media_type)'),
            429: rateLimitedAnswer('Too many changes from this client address this hour, or to this booking today'),
          },
        },
      },
      '/api/v1/bookings/{id}/withdraw': {
        post: {
          operationId: 'withdrawRequest',
          summary: 'Withdraw a held request',
          description:
            "A request held while the specialist's Zoom connection needs re-authorizing (status held) is withdrawn: the time is released at once and the request is never confirmed. " +
            'Idempotent: withdrawing a withdrawn request answers 200 with it. A confirmed booking is cancelled instead (POST /api/v1/bookings/{id}/cancel).',
          parameters: [bookingIdParameter],
          requestBody: { required: true, content: { 'application/json': { schema: ref('WithdrawRequest') } } },
          responses: {
            200: json('ManagedBookingResponse', 'The withdrawn request (status withdrawn)'),
            400: errorAnswer('Malformed JSON (invalid_json) or invalid fields (validation_failed)'),
            ...manageErrors,
            409: errorAnswer('The request is no longer held: it was confirmed (cancel it instead), it expired, or it was cancelled (booking_not_changeable)'),
            413: errorAnswer('Body too large (payload_too_large)'),
            415: errorAnswer('Body is not JSON (unsupported_media_type)'),
            429: rateLimitedAnswer('Too many changes from this client address this hour, or to this booking today'),
          },
        },
      },
      '/api/v1/bookings/{id}/reschedule': {
        post: {
          operationId: 'rescheduleBooking',
          summary: 'Move a booking to another free slot of the same service',
          description:
            'The new time and the old are swapped in one step: the booking never holds both or neither. The Zoom meeting is moved (in the background) and keeps its join link. ' +
            'Send an Idempotency-Key: a repeat with the same key and start answers as the first. Refused inside the cancellation window unless the specialist offered a reschedule.',
          parameters: [
            bookingIdParameter,
            {
              name: 'Idempotency-Key',
              in: 'header',
              required: false,
              schema: { type: 'string', maxLength: contract.LIMITS.idempotencyKeyMaxLength },
              description: 'A unique key per reschedule attempt, reused on every retry of it',
            },
          ],
          requestBody: { required: true, content: { 'application/json': { schema: ref('RescheduleBookingRequest') } } },
          responses: {
            200: json('ManagedBookingResponse', 'The rescheduled booking'),
            400: errorAnswer('Malformed JSON (invalid_json) or invalid fields (validation_failed)'),
            ...manageErrors,
            409: errorAnswer('The time was taken (slot_taken), inside the cancellation window (change_window_closed), or the booking can no longer change (booking_not_changeable)'),
            413: errorAnswer('Body too large (payload_too_large)'),
            415: errorAnswer('Body is not JSON (unsupported_media_type)'),
            422: errorAnswer('Time not offered (slot_unavailable) or key reused with another start (idempotency_key_reused)'),
            429: rateLimitedAnswer('Too many changes from this client address this hour, or to this booking today'),
          },
        },
      },
      '/healthz': { get: { operationId: 'health', summary: 'The process is up', responses: { 200: json('HealthResponse', 'Up') } } },
      '/readyz': {
        get: {
          operationId: 'ready',
          summary: 'The database answers',
          responses: { 200: json('HealthResponse', 'Ready'), 503: unavailableAnswer('Database unreachable (database_unavailable)') },
        },
      },
    },
    components: { schemas: componentSchemas() },
  };
}

interface Operation {
  operationId: string;
  summary: string;
  description?: string;
  parameters?: { name: string; in: string; required?: boolean; description?: string }[];
  requestBody?: { content: Record<string, { schema: { $ref: string } }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: { $ref: string } }> }>;
}

/** A self-contained HTML reference page for an OpenAPI document. */
export function renderApiReference(document: Record<string, unknown>): string {
  const info = document.info as { title: string; description: string };
  const paths = document.paths as Record<string, Record<string, Operation>>;
  const schemas = (document.components as { schemas: Record<string, JsonSchema> }).schemas;
  const refName = (r?: { $ref: string }) => (r ? r.$ref.split('/').pop()! : '');
  const link = (name: string) => (name ? `<a href="#schema-${escapeHtml(name)}">${escapeHtml(name)}</a>` : '');

  const operations = Object.entries(paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(
      ([method, op]) => `
    <section class="op" id="op-${escapeHtml(op.operationId)}">
      <h3><span class="method ${method}">${method.toUpperCase()}</span> <code>${escapeHtml(path)}</code></h3>
      <p>${escapeHtml(op.summary)}</p>
      ${op.description ? `<p class="muted">${escapeHtml(op.description)}</p>` : ''}
      ${
        op.parameters?.length
          ? `<table><caption>Parameters</caption><thead><tr><th scope="col">Name</th><th scope="col">In</th><th scope="col">Required</th><th scope="col">Description</th></tr></thead><tbody>${op.parameters
              .map((p) => `<tr><td><code>${escapeHtml(p.name)}</code></td><td>${escapeHtml(p.in)}</td><td>${p.required ? 'yes' : 'no'}</td><td>${escapeHtml(p.description ?? '')}</td></tr>`)
              .join('')}</tbody></table>`
          : ''
      }
      ${op.requestBody ? `<p>Request body: ${link(refName(op.requestBody.content['application/json']?.schema))}</p>` : ''}
      <table><caption>Responses</caption><thead><tr><th scope="col">Status</th><th scope="col">Meaning</th><th scope="col">Body</th></tr></thead><tbody>${Object.entries(op.responses)
        .map(([status, r]) => `<tr><td>${escapeHtml(status)}</td><td>${escapeHtml(r.description)}</td><td>${link(refName(r.content?.['application/json']?.schema))}</td></tr>`)
        .join('')}</tbody></table>
    </section>`,
    ),
  );
  const schemaSections = Object.entries(schemas).map(
    ([name, schema]) => `<section id="schema-${escapeHtml(name)}"><h3>${escapeHtml(name)}</h3><pre>${escapeHtml(JSON.stringify(schema, null, 2))}</pre></section>`,
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(info.title)} reference</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1f2937;background:#fff}
main{max-width:960px;margin:0 auto;padding:24px}
.muted{color:#4b5563}code,pre{font-family:ui-monospace,monospace}
pre{background:#f3f4f6;padding:12px;border-radius:8px;overflow:auto;font-size:13px}
table{border-collapse:collapse;width:100%;margin:8px 0}caption{text-align:left;font-weight:600}
th,td{border-bottom:1px solid #e5e7eb;padding:4px 8px;text-align:left;vertical-align:top}
.op{border:1px solid #e5e7eb;border-radius:12px;padding:8px 16px;margin:16px 0}
.method{display:inline-block;border-radius:6px;padding:0 8px;color:#fff;font-size:14px}.get{background:#1d4ed8}.post{background:#047857}
a{color:#1d4ed8}a:focus-visible{outline:3px solid #93c5fd}
</style></head>
<body><main>
<h1>${escapeHtml(info.title)}</h1>
<p>${escapeHtml(info.description)}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p>
<h2>Operations</h2>${operations.join('')}
<h2>Schemas</h2>${schemaSections.join('')}
</main></body></html>`;
}
