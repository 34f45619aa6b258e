import { Hono, type Context, type ErrorHandler } from 'hono';
import { z } from 'zod';
import { CreateBookingRequestSchema, IdSchema, LIMITS, SlotsQuerySchema, SlugSchema, type SlotsResponse } from '../../sdk/contract.js';
import type { ListSlotsInput, SlotList, SlotLister } from '../availability/index.js';
import { createBooking, type BookingDeps } from '../bookings/index.js';
import type { BookingLifecycle } from '../bookings/lifecycle.js';
import { DomainError, rateLimited } from '../errors.js';
import type { SlotReadLimiter } from '../limits/index.js';
import type { Logger } from '../logger.js';
import { LruMap } from '../lru-map.js';
import { parseOrThrow } from '../validation.js';
import type { AllowedOriginsLookup } from '../specialists/allowed-origins.js';
import { getPublicProfile } from '../specialists/index.js';
import { createApiEnvelope } from './api-envelope.js';
import { addressLimitKey, type ClientAddressOf } from './client-address.js';
import { sendSharedJson } from './shared-json.js';
import { readJsonBody } from './json-body.js';
import { bookingManageApiRoutes } from './booking-manage-api.js';

const SLOTS_PATH = '/specialists/:slug/services/:serviceId/slots';

export interface PublicApiDeps {
  bookings: BookingDeps;
  /** Reading, cancelling and rescheduling a booking with its manage token (issue #16). */
  lifecycle: BookingLifecycle;
  slots: SlotLister;
  /** Slot reads per client address, counted without a database round trip. */
  slotReads: SlotReadLimiter;
  /** The client's address, for the limits and the request log (see client-address.ts). */
  clientAddressOf: ClientAddressOf;
  allowedOrigins: AllowedOriginsLookup;
  publicUrl: string;
  /** The app's error handler: errors get the API's shape inside the envelope. */
  onError: ErrorHandler;
  logger: Logger;
  /** Told of every answer as it goes out (metrics). */
  onAnswered?: (c: Context, response: Response) => void;
}

const IdempotencyKeySchema = z
  .string()
  .regex(/^[\x21-\x7e]+$/, 'Use printable ASCII without spaces')
  .max(LIMITS.idempotencyKeyMaxLength, `At most ${LIMITS.idempotencyKeyMaxLength} characters`);

function slugParam(value: string): string {
  if (!SlugSchema.safeParse(value).success) throw new DomainError('not_found', `No specialist is published at "${value}".`);
  return value;
}

function serviceIdParam(value: string): string {
  if (!IdSchema.safeParse(value).success) throw new DomainError('not_found', 'That service does not exist or is no longer offered.');
  return value;
}

/**
 * The public booking API, mounted at `/api/v1`: what the widget and the SDK
 * call. Each route validates, calls one domain function, and shapes its
 * answer, inside the envelope that gives every API answer its request id,
 * CORS and error shape (api-envelope.ts). Each route has that one handler
 * and no middleware, so Hono answers it without compose.
 */
export function publicApiRoutes(deps: PublicApiDeps): Hono {
  const app = new Hono();
  const { db } = deps.bookings;
  const envelope = createApiEnvelope({
    ownOrigin: new URL(deps.publicUrl).origin,
    allowedOriginsFor: (slug) => deps.allowedOrigins.originsFor(slug),
    onError: deps.onError,
    logger: deps.logger,
    clientAddressOf: deps.clientAddressOf,
    onAnswered: deps.onAnswered,
  });
  app.options('/specialists/:slug', envelope.preflight);
  app.options('/specialists/:slug/*', envelope.preflight);

  app.get(
    '/specialists/:slug',
    envelope.route(async (c) => {
      const profile = await getPublicProfile(db, slugParam(c.req.param('slug') ?? ''));
      return c.json({ success: true as const, ...profile });
    }),
  );

  // Every visitor of a page asks the same few questions, URL for URL: each
  // distinct URL is validated once. Only valid questions are kept.
  const slotQuestions = new LruMap<string, Readonly<ListSlotsInput>>(1000);
  function slotQuestionOf(c: Context): Readonly<ListSlotsInput> {
    let question = slotQuestions.get(c.req.url);
    if (!question) {
      const query = parseOrThrow(SlotsQuerySchema, c.req.query());
      question = Object.freeze({ slug: slugParam(c.req.param('slug') ?? ''), serviceId: serviceIdParam(c.req.param('serviceId') ?? ''), from: query.from, to: query.to });
      slotQuestions.set(c.req.url, question);
    }
    return question;
  }

  // Parsing an address costs more than a slot list's cached answer: each address's key is made once.
  const limitKeys = new LruMap<string, string>(10_000);
  function limitKeyOf(c: Context): string {
    const address = deps.clientAddressOf(c);
    let key = limitKeys.get(address);
    if (key === undefined) {
      key = addressLimitKey(address);
      limitKeys.set(address, key);
    }
    return key;
  }

  const toSlotsBody = (list: SlotList): SlotsResponse => ({ success: true, ...list });
  app.get(
    SLOTS_PATH,
    envelope.route((c) => {
      const question = slotQuestionOf(c);
      const retryAfterSeconds = deps.slotReads.hit(limitKeyOf(c));
      if (retryAfterSeconds !== undefined) throw rateLimited('Too many requests for free times from your connection.', retryAfterSeconds);
      // A fresh answer to a repeated question is sent at once: no database read, no await.
      const fresh = deps.slots.peek(question);
      if (fresh) return sendSharedJson(c, fresh, toSlotsBody);
      return deps.slots.list(question).then((list) => sendSharedJson(c, list, toSlotsBody));
    }),
  );

  app.post(
    '/specialists/:slug/bookings',
    envelope.route(async (c) => {
      const slug = slugParam(c.req.param('slug') ?? '');
      const rawKey = c.req.header('idempotency-key');
      const idempotencyKey = rawKey === undefined ? undefined : parseIdempotencyKey(rawKey);
      const request = await readJsonBody(c, CreateBookingRequestSchema, LIMITS.maxBodyBytes);
      const { booking, isReplay } = await createBooking(deps.bookings, { slug, request, idempotencyKey, clientAddressKey: limitKeyOf(c) });
      if (isReplay) c.header('Idempotent-Replayed', 'true');
      return c.json({ success: true as const, booking }, 201);
    }),
  );

  app.route('/', bookingManageApiRoutes({ ...deps, db, clock: deps.bookings.clock, limits: deps.bookings.limits }));

  return app;
}

/** An `Idempotency-Key` header's value, or `validation_failed` naming the header. */
export function parseIdempotencyKey(value: string): string {
  return parseOrThrow(IdempotencyKeySchema, value, {
    rootName: 'Idempotency-Key',
    summarize: (errors) => `Please check the Idempotency-Key header: ${errors[0]!.message}.`,
  });
}
