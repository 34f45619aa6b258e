/**
 * The wire contract: every request and response body of the public API as a
 * zod schema, with the TypeScript types inferred from them.
 *
 * The server validates with these schemas and generates `/openapi.json` from
 * them; the SDK imports only the types (`import type`), so a field is renamed
 * in one place and browser bundles carry no schema library.
 */
import { z } from 'zod';
import { ERROR_CODES } from './error-codes.js';

/** Limits that the server enforces and the SDK and widget can show. */
export const LIMITS = {
  /** Largest accepted request body, in bytes. */
  maxBodyBytes: 16 * 1024,
  /** Widest range of slots one request may ask for, in days. */
  maxSlotRangeDays: 62,
  customerNameMaxLength: 120,
  customerNoteMaxLength: 2000,
  idempotencyKeyMaxLength: 255,
  /** A cancellation reason, or a specialist's message to the customer. */
  changeReasonMaxLength: 1000,
  /** Longest manage token accepted (a real one is 43 characters). */
  manageTokenMaxLength: 128,
} as const;

// Building a formatter is the complete check and a slow one; valid zones are a small set, so they are remembered.
const validTimeZones = new Set<string>();
function isIanaTimeZone(value: string): boolean {
  if (validTimeZones.has(value)) return true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value });
    validTimeZones.add(value);
    return true;
  } catch {
    return false;
  }
}

export const TimeZoneSchema = z
  .string()
  .min(1)
  .max(64)
  .refine(isIanaTimeZone, { message: 'Use an IANA time zone such as Europe/Berlin' })
  .meta({ description: 'IANA time zone name', example: 'Europe/Berlin' });

export const SlugSchema = z
  .string()
  .regex(/^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/, 'A slug is 1 to 64 lowercase letters, digits and dashes')
  .meta({ description: "The specialist's public slug", example: 'demo' });

export const IdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'Not a valid id')
  .meta({ description: 'An opaque identifier' });

const InstantSchema = z.iso
  .datetime({ offset: true, message: 'Use an ISO 8601 date-time with a time zone, e.g. 2030-01-15T09:00:00Z' })
  .meta({ description: 'ISO 8601 date-time with Z or an offset', example: '2030-01-15T09:00:00Z' });

const UtcInstantSchema = z.string().meta({ description: 'UTC date-time, ISO 8601', example: '2030-01-15T09:00:00.000Z' });

// ---------------------------------------------------------------------------
// Specialist profile

export const PriceSchema = z.object({
  amountCents: z.number().int().nonnegative(),
  currency: z.string().length(3).meta({ description: 'ISO 4217 code', example: 'EUR' }),
});

export const ServiceSchema = z
  .object({
    id: IdSchema,
    title: z.string(),
    description: z.string(),
    durationMinutes: z.number().int().positive(),
    price: PriceSchema.nullable(),
  })
  .meta({ id: 'Service' });

export const PublicSpecialistSchema = z
  .object({
    slug: SlugSchema,
    name: z.string(),
    timeZone: z.string(),
  })
  .meta({ id: 'PublicSpecialist' });

export const PublicProfileResponseSchema = z
  .object({
    success: z.literal(true),
    specialist: PublicSpecialistSchema,
    services: z.array(ServiceSchema),
  })
  .meta({ id: 'PublicProfileResponse' });

// ---------------------------------------------------------------------------
// Slots

export const SlotsQuerySchema = z
  .strictObject({
    from: InstantSchema.optional().meta({
      description:
        'Start of the range (inclusive). Default: the start of the current UTC hour, where a from that has passed starts too (unless the whole range ended before that hour). Slots before now and inside the minimum notice are never listed, so this changes no slot; every such question in the same hour gets the same, cached answer.',
    }),
    to: InstantSchema.optional().meta({
      description: `End of the range (exclusive). Default: 14 days after from. At most ${LIMITS.maxSlotRangeDays} days after from.`,
    }),
  })
  .meta({ id: 'SlotsQuery' });

export const SlotSchema = z
  .object({
    start: UtcInstantSchema,
    end: UtcInstantSchema,
  })
  .meta({ id: 'Slot' });

export const SlotsResponseSchema = z
  .object({
    success: z.literal(true),
    timeZone: z.string().meta({ description: "The specialist's time zone" }),
    serviceId: IdSchema,
    durationMinutes: z.number().int().positive(),
    from: UtcInstantSchema.meta({
      description: 'Start of the range answered: from as asked, or the start of the current UTC hour when from was left out or has passed',
    }),
    to: UtcInstantSchema.meta({ description: 'End of the range answered (exclusive): to as asked, or 14 days after from' }),
    slots: z.array(SlotSchema),
  })
  .meta({ id: 'SlotsResponse' });

// ---------------------------------------------------------------------------
// Bookings

/**
 * Characters refused in one line of text (a name): control characters (NUL
 * among them, which PostgreSQL refuses in text), the bidi overrides and
 * isolates (U+202A–U+202E, U+2066–U+2069) and invisible direction marks
 * (U+200E, U+200F, U+061C) that make text in an email or a calendar read
 * differently from what it is, and the line and paragraph separators
 * (U+2028, U+2029) that break a line where none shows.
 */
export const HOSTILE_IN_LINE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
/** The same for text of several lines (a note), which keeps only tabs and CR/LF line breaks. */
export const HOSTILE_IN_TEXT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/**
 * Refuses `HOSTILE_IN_LINE` in one line of text; `what` names the field in
 * the message. The one check for names and titles, customers' and
 * specialists' alike.
 *
 * @example refuseHostileInLine(z.string().trim(), 'A name')
 */
export function refuseHostileInLine<S extends z.ZodString>(schema: S, what: string): S {
  return schema.refine((v) => !HOSTILE_IN_LINE.test(v), `${what} cannot contain control characters or text-direction overrides`);
}

/** Refuses `HOSTILE_IN_TEXT` in text of several lines (line breaks and tabs stay); `what` names the field. */
export function refuseHostileInText<S extends z.ZodString>(schema: S, what: string): S {
  return schema.refine((v) => !HOSTILE_IN_TEXT.test(v), `${what} cannot contain control characters (other than line breaks and tabs) or text-direction overrides`);
}

export const CustomerSchema = z.strictObject({
  name: refuseHostileInLine(
    z.string().trim().min(1, 'Enter your name').max(LIMITS.customerNameMaxLength, `A name has at most ${LIMITS.customerNameMaxLength} characters`),
    'A name',
  ),
  email: z.email('Enter a valid email address').max(254, 'An email address has at most 254 characters'),
  note: refuseHostileInText(z.string().trim().max(LIMITS.customerNoteMaxLength, `A note has at most ${LIMITS.customerNoteMaxLength} characters`), 'A note').optional(),
  timeZone: TimeZoneSchema.optional().meta({ description: "The customer's time zone, used for their emails" }),
});

export const CreateBookingRequestSchema = z
  .strictObject({
    serviceId: IdSchema,
    start: InstantSchema.meta({ description: 'The slot start, as listed by the slots endpoint' }),
    customer: CustomerSchema,
  })
  .meta({ id: 'CreateBookingRequest' });

/**
 * `pending`: being set up; `confirmed`; `cancelled`. A request that met a dead
 * Zoom token is `held` until the specialist re-authorizes (then `confirmed`),
 * or until its hold ends (`expired`), or until the customer withdraws it
 * (`withdrawn`); issue #17.
 */
export const BOOKING_STATUSES = ['pending', 'held', 'confirmed', 'cancelled', 'expired', 'withdrawn'] as const;

/** A held request: the slot is kept for the customer until `expiresAt`, and confirmed as soon as the specialist re-authorizes Zoom. */
export const HoldSchema = z
  .object({
    id: IdSchema.meta({ description: "The held request's id: the booking's id once confirmed" }),
    expiresAt: UtcInstantSchema.meta({ description: 'Until when the time is held; after it the request expires and the customer is emailed' }),
  })
  .meta({ id: 'Hold' });

export const BookingSchema = z
  .object({
    id: IdSchema,
    status: z.enum(BOOKING_STATUSES),
    serviceId: IdSchema,
    serviceTitle: z.string(),
    start: UtcInstantSchema,
    end: UtcInstantSchema,
    timeZone: z.string().meta({ description: "The specialist's time zone" }),
    customer: z.object({
      name: z.string(),
      email: z.string(),
      timeZone: z.string().nullable(),
    }),
    zoomJoinUrl: z.string().nullable(),
    createdAt: UtcInstantSchema,
  })
  .meta({ id: 'Booking' });

export const BookingResponseSchema = z
  .object({
    success: z.literal(true),
    booking: BookingSchema,
  })
  .meta({ id: 'BookingResponse' });

// ---------------------------------------------------------------------------
// Managing a booking (issue #16): the customer's manage link, the specialist's dashboard

const ManageTokenSchema = z
  .string()
  .min(1, 'The manage token is missing')
  .max(LIMITS.manageTokenMaxLength, 'Not a valid manage token')
  .meta({ description: "The token of the booking's manage link (from the confirmation email)" });

const ChangeReasonSchema = refuseHostileInText(
  z.string().trim().max(LIMITS.changeReasonMaxLength, `At most ${LIMITS.changeReasonMaxLength} characters`),
  'A reason',
);

export const ManageTokenQuerySchema = z.strictObject({ token: ManageTokenSchema }).meta({ id: 'ManageTokenQuery' });

export const CancelBookingRequestSchema = z
  .strictObject({
    token: ManageTokenSchema,
    reason: ChangeReasonSchema.optional().meta({ description: "Why, for the specialist's email" }),
  })
  .meta({ id: 'CancelBookingRequest' });

export const RescheduleBookingRequestSchema = z
  .strictObject({
    token: ManageTokenSchema,
    start: InstantSchema.meta({ description: "The new start: one of the same service's listed slots" }),
  })
  .meta({ id: 'RescheduleBookingRequest' });

export const ManagedBookingSchema = z
  .object({
    id: IdSchema,
    status: z.enum(BOOKING_STATUSES),
    start: UtcInstantSchema,
    end: UtcInstantSchema,
    service: z.object({ id: IdSchema, title: z.string(), durationMinutes: z.number().int().positive() }),
    specialist: z.object({
      slug: SlugSchema,
      name: z.string(),
      email: z.string().meta({ description: 'Where the customer can write (the change window message names it)' }),
      timeZone: z.string(),
    }),
    customer: z.object({ name: z.string(), email: z.string(), timeZone: z.string().nullable() }),
    zoomJoinUrl: z.string().nullable(),
    changeWindow: z
      .object({
        closesAt: UtcInstantSchema.meta({ description: 'From then on the customer can no longer cancel or reschedule' }),
        isOpen: z.boolean(),
        isLiftedByOffer: z.boolean().meta({ description: 'The specialist offered a reschedule: the window does not apply' }),
      })
      .meta({ description: "The specialist's cancellation window for this booking" }),
    canCancel: z.boolean().meta({ description: 'Whether the caller may cancel now' }),
    canReschedule: z.boolean().meta({ description: 'Whether the caller may reschedule now' }),
    cancellation: z
      .object({ at: UtcInstantSchema, by: z.enum(['customer', 'specialist']), reason: z.string().nullable() })
      .nullable()
      .meta({ description: 'Set once cancelled' }),
    rescheduleOfferedAt: UtcInstantSchema.nullable(),
    hold: z
      .object({ expiresAt: UtcInstantSchema })
      .nullable()
      .meta({ description: 'Set while the request is held (status `held`): until when the time is kept for the customer' }),
    canWithdraw: z.boolean().meta({ description: 'Whether the caller may withdraw the held request now' }),
    createdAt: UtcInstantSchema,
  })
  .meta({ id: 'ManagedBooking' });

export const WithdrawRequestSchema = z.strictObject({ token: ManageTokenSchema }).meta({ id: 'WithdrawRequest' });

export const ManagedBookingResponseSchema = z
  .object({
    success: z.literal(true),
    booking: ManagedBookingSchema,
  })
  .meta({ id: 'ManagedBookingResponse' });

// ---------------------------------------------------------------------------
// Errors and health

export const FieldErrorSchema = z.object({
  path: z.string().meta({ description: 'Dotted path of the field, e.g. customer.email' }),
  message: z.string(),
});

export const ErrorResponseSchema = z
  .object({
    success: z.literal(false),
    code: z.enum(ERROR_CODES),
    message: z.string(),
    errors: z.array(FieldErrorSchema).optional().meta({ description: 'Per-field problems, with validation_failed' }),
    requiresReAuth: z.boolean().optional().meta({ description: 'True with requires_reauth' }),
    specialistNotified: z.boolean().optional().meta({ description: 'With requires_reauth: whether the specialist was emailed' }),
    hold: HoldSchema.optional().meta({
      description:
        'With requires_reauth: the time is held for the customer until `expiresAt` and confirmed (with an email) as soon as the specialist re-authorizes. Absent when the time was released instead (the hold would have been under 30 minutes, or the specialist holds nothing).',
    }),
    retryAfterSeconds: z
      .number()
      .int()
      .positive()
      .optional()
      .meta({ description: 'With rate_limited: seconds until the limit frees; with zoom_unavailable and database_unavailable: seconds to wait before trying again. As in Retry-After' }),
  })
  .meta({ id: 'ErrorResponse' });

export const HealthResponseSchema = z.object({ success: z.literal(true), status: z.literal('ok') }).meta({ id: 'HealthResponse' });

export type Price = z.infer<typeof PriceSchema>;
export type Service = z.infer<typeof ServiceSchema>;
export type PublicSpecialist = z.infer<typeof PublicSpecialistSchema>;
export type PublicProfileResponse = z.infer<typeof PublicProfileResponseSchema>;
export type SlotsQuery = z.infer<typeof SlotsQuerySchema>;
export type Slot = z.infer<typeof SlotSchema>;
export type SlotsResponse = z.infer<typeof SlotsResponseSchema>;
export type Customer = z.infer<typeof CustomerSchema>;
export type CreateBookingRequest = z.input<typeof CreateBookingRequestSchema>;
export type Booking = z.infer<typeof BookingSchema>;
export type BookingStatus = (typeof BOOKING_STATUSES)[number];
export type BookingResponse = z.infer<typeof BookingResponseSchema>;
export type ManagedBooking = z.infer<typeof ManagedBookingSchema>;
export type Hold = z.infer<typeof HoldSchema>;
export type WithdrawRequest = z.input<typeof WithdrawRequestSchema>;
export type ManagedBookingResponse = z.infer<typeof ManagedBookingResponseSchema>;
export type CancelBookingRequest = z.input<typeof CancelBookingRequestSchema>;
export type RescheduleBookingRequest = z.input<typeof RescheduleBookingRequestSchema>;
export type FieldError = z.infer<typeof FieldErrorSchema>;
export type ErrorResponse = z.infer<typeof ErrorResponseSchema>;
