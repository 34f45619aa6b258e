import { Hono, type Context, type ErrorHandler } from 'hono';
import type { Kysely } from 'kysely';
import {
  CancelBookingRequestSchema,
  IdSchema,
  LIMITS,
  ManageTokenQuerySchema,
  RescheduleBookingRequestSchema,
  WithdrawRequestSchema,
  type ManagedBookingResponse,
} from '../../sdk/contract.js';
import type { BookingLifecycle } from '../bookings/lifecycle.js';
import type { Clock } from '../clock.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { countBookingChange, type BookingChangeLimitDeps } from '../limits/index.js';
import type { Logger } from '../logger.js';
import type { AllowedOriginsLookup } from '../specialists/allowed-origins.js';
import { parseOrThrow } from '../validation.js';
import { createApiEnvelope } from './api-envelope.js';
import { addressLimitKey, type ClientAddressOf } from './client-address.js';
import { readJsonBody } from './json-body.js';
import { parseIdempotencyKey } from './idempotency-key.js';

export interface BookingManageApiDeps {
  db: Kysely<Database>;
  clock: Clock;
  lifecycle: BookingLifecycle;
  /** Changes per client address per hour count against `bookingsPerAddressPerHour` (see `countBookingChange`). */
  limits: BookingChangeLimitDeps['limits'];
  clientAddressOf: ClientAddressOf;
  allowedOrigins: AllowedOriginsLookup;
  publicUrl: string;
  onError: ErrorHandler;
  logger: Logger;
  onAnswered?: (c: Context, response: Response) => void;
}

function bookingIdParam(c: Context): string {
  const value = c.req.param('id') ?? '';
  if (!IdSchema.safeParse(value).success) throw new DomainError('not_found', 'That booking does not exist.');
  return value;
}

/**
 * The customer's side of a booking (issue #16), mounted at `/api/v1`:
 * `GET /bookings/{id}?token=…`, `POST /bookings/{id}/cancel`,
 * `POST /bookings/{id}/reschedule` (with an optional `Idempotency-Key`) and
 * `POST /bookings/{id}/withdraw` (a held request, issue #17), each holding
 * the manage link's token. Inside the API envelope (request
 * id, error shape); CORS grants the booking's specialist's allowed origins,
 * as the booking API does. A change that happens counts against a
 * per-address and a per-booking limit, shared with the manage page
 * (`countBookingChange`; `rate_limited`, 429); a forged token or a repeat
 * does not.
 */
export function bookingManageApiRoutes(deps: BookingManageApiDeps): Hono {
  const app = new Hono();
  const { db, lifecycle } = deps;

  /** The slug whose allowed origins a booking's API grants; undefined (own origin only) for an unknown booking. */
  async function originsOfBooking(bookingId: string) {
    if (!IdSchema.safeParse(bookingId).success) return undefined;
    const row = await db
      .selectFrom('bookings')
      .innerJoin('specialists', 'specialists.id', 'bookings.specialist_id')
      .select('specialists.slug')
      .where('bookings.id', '=', bookingId)
      .executeTakeFirst();
    return row ? deps.allowedOrigins.originsFor(row.slug) : undefined;
  }

  const envelope = createApiEnvelope({
    ownOrigin: new URL(deps.publicUrl).origin,
    allowedOriginsFor: originsOfBooking,
    originsKeyParam: 'id',
    onError: deps.onError,
    logger: deps.logger,
    clientAddressOf: deps.clientAddressOf,
    onAnswered: deps.onAnswered,
  });

  const countChange = (c: Context, bookingId: string) => countBookingChange(deps, bookingId, addressLimitKey(deps.clientAddressOf(c)));

  const answer = (c: Context, booking: ManagedBookingResponse['booking']) => c.json({ success: true as const, booking } satisfies ManagedBookingResponse);

  app.options('/bookings/:id', envelope.preflight);
  app.options('/bookings/:id/*', envelope.preflight);

  app.get(
    '/bookings/:id',
    envelope.route(async (c) => {
      const id = bookingIdParam(c);
      const { token } = parseOrThrow(ManageTokenQuerySchema, c.req.query());
      return answer(c, await lifecycle.get(id, { kind: 'customer', token }));
    }),
  );

  app.post(
    '/bookings/:id/cancel',
    envelope.route(async (c) => {
      const id = bookingIdParam(c);
      const body = await readJsonBody(c, CancelBookingRequestSchema, LIMITS.maxBodyBytes);
      return answer(c, await lifecycle.cancel(id, { kind: 'customer', token: body.token }, { reason: body.reason, countChange: countChange(c, id) }));
    }),
  );

  app.post(
    '/bookings/:id/withdraw',
    envelope.route(async (c) => {
      const id = bookingIdParam(c);
      const body = await readJsonBody(c, WithdrawRequestSchema, LIMITS.maxBodyBytes);
      return answer(c, await lifecycle.withdraw(id, { kind: 'customer', token: body.token }, { countChange: countChange(c, id) }));
    }),
  );

  app.post(
    '/bookings/:id/reschedule',
    envelope.route(async (c) => {
      const id = bookingIdParam(c);
      const rawKey = c.req.header('idempotency-key');
      const idempotencyKey = rawKey === undefined ? undefined : parseIdempotencyKey(rawKey);
      const body = await readJsonBody(c, RescheduleBookingRequestSchema, LIMITS.maxBodyBytes);
      const change = { start: body.start, idempotencyKey, countChange: countChange(c, id) };
      return answer(c, await lifecycle.reschedule(id, { kind: 'customer', token: body.token }, change));
    }),
  );

  return app;
}
