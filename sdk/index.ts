/**
 * The typed JS SDK for specialist-booking. Runs in browsers and Node 20+.
 */
export { createBookingClient } from './client.js';
export { randomIdempotencyKey } from './idempotency-key.js';
export { retryAfterDelay } from './retry-after.js';
export { googleCalendarUrl, outlookCalendarUrl, type CalendarLinkEvent } from './calendar-links.js';
export type {
  BookingClient,
  BookingClientOptions,
  BookingOutcome,
  CancelBookingOutcome,
  ChangeRefusal,
  CreateBookingOptions,
  GetBookingOutcome,
  ManageLinkProblem,
  Profile,
  RescheduleBookingOutcome,
  SlotList,
  WithdrawRequestOutcome,
} from './client.js';
export { BookingError, BookingApiError, BookingConnectionError, BookingTimeoutError } from './errors.js';
export { ERROR_CODES, isErrorCode, type ErrorCode } from './error-codes.js';
export type { Booking, BookingStatus, CreateBookingRequest, Customer, Hold, ManagedBooking, Price, PublicSpecialist, Service, Slot } from './contract.js';
