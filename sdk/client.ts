import type {
  Booking,
  CreateBookingRequest,
  ManagedBooking,
  ErrorResponse,
  FieldError,
  Hold,
  PublicProfileResponse,
  SlotsResponse,
} from './contract.js';
import { slotsPath, specialistPath } from './api-paths.js';
import { isErrorCode } from './error-codes.js';
import { BookingApiError, BookingConnectionError, BookingTimeoutError } from './errors.js';
import { randomIdempotencyKey } from './idempotency-key.js';
import { retryAfterDelay } from './retry-after.js';
import { readJsonOrUndefined } from './response-json.js';

export interface BookingClientOptions {
  /** The server's base URL, e.g. `https://booking.example.com`. */
  baseUrl: string;
  /**
   * Retries after the first attempt, on network errors, 408, 429 and 5xx
   * (but not a booking's `zoom_unavailable`: the server has already retried
   * Zoom). A Retry-After is always honoured: never retried sooner, and not
   * retried at all when it is longer than `maxRetryDelayMs`. Default 2.
   */
  maxRetries?: number;
  /** Per-attempt timeout in milliseconds. Default 15 000. */
  timeoutMs?: number;
  /** Longest wait between two attempts, in milliseconds. Default 8 000. */
  maxRetryDelayMs?: number;
  /** A fetch implementation. Default: the global `fetch`. */
  fetch?: typeof fetch;
}

export type Profile = Omit<PublicProfileResponse, 'success'>;
export type SlotList = Omit<SlotsResponse, 'success'>;

/**
 * What a booking attempt came to. Every expected outcome is a value, so the
 * compiler makes the caller handle each:
 *
 * - `confirmed`: booked; `booking` has the details.
 * - `slot_taken`: someone else got the time first; list slots again.
 * - `requires_reauth`: the specialist's Zoom connection must be renewed
 *   before anyone can book; `specialistNotified` says whether they were emailed.
 *   With a `hold`, the time is kept for the customer until `hold.expiresAt`
 *   and confirmed (with an email) as soon as the specialist re-authorizes:
 *   nothing else is needed, and the customer got an email with a link to
 *   withdraw it (`withdrawRequest`). Without one, nothing was booked and the
 *   time was released.
 * - `invalid`: the request was refused; `fieldErrors` maps fields
 *   (`customer.email`) to messages, and `code` says why
 *   (`validation_failed`, `slot_unavailable`, …).
 * - `rate_limited`: too many bookings from this address, by this customer
 *   or for this specialist today; try again after `retryAfterSeconds`. A
 *   wait up to `maxRetryDelayMs` is waited out and retried first; a longer
 *   one is returned at once rather than slept through.
 * - `zoom_unavailable`: Zoom failed after the server's own retries; nothing
 *   was booked. Returned at once, never retried by the SDK; offer a retry
 *   after `retryAfterSeconds` (the same idempotency key is safe to send).
 */
export type BookingOutcome =
  | { status: 'confirmed'; booking: Booking; isReplay: boolean }
  | { status: 'slot_taken'; message: string }
  | { status: 'requires_reauth'; message: string; specialistNotified: boolean; hold: Hold | undefined }
  | { status: 'invalid'; code: string; message: string; fieldErrors: Record<string, string> }
  | { status: 'rate_limited'; message: string; retryAfterSeconds: number }
  | { status: 'zoom_unavailable'; message: string; retryAfterSeconds: number };

export interface CreateBookingOptions {
  /**
   * Identifies this booking attempt: every retry sends the same key, so the
   * server books at most once. Default: a fresh random key per call. Pass your
   * own to make retries across page reloads safe too.
   */
  idempotencyKey?: string;
  signal?: AbortSignal;
}

/**
 * Why a manage-link call could not look at the booking, shared by
 * `getBooking`, `cancelBooking`, `rescheduleBooking` and `withdrawRequest`:
 *
 * - `invalid_link`: the token is not this booking's (mistyped or forged link);
 * - `link_expired`: the session has started, so the link no longer works;
 * - `not_found`: no such booking.
 */
export type ManageLinkProblem =
  | { status: 'invalid_link'; message: string }
  | { status: 'link_expired'; message: string }
  | { status: 'not_found'; message: string };

/**
 * Why a change was refused, shared by `cancelBooking`, `rescheduleBooking`
 * and (but for `change_window_closed`) `withdrawRequest`:
 *
 * - `change_window_closed`: too close to the start for the customer to
 *   change it online; `message` names the specialist's contact;
 * - `not_changeable`: it was cancelled (a reschedule) or changed at the same
 *   moment by someone else; reload it;
 * - `rate_limited`: too many changes; try again after `retryAfterSeconds`;
 * - `invalid`: the request was refused (`code`: `validation_failed`,
 *   `slot_unavailable`, `idempotency_key_reused`, …), `fieldErrors` by field.
 */
export type ChangeRefusal =
  | { status: 'change_window_closed'; message: string }
  | { status: 'not_changeable'; message: string }
  | { status: 'rate_limited'; message: string; retryAfterSeconds: number }
  | { status: 'invalid'; code: string; message: string; fieldErrors: Record<string, string> };

/** `getBooking`'s outcomes: `found`, or why not (`ManageLinkProblem`). */
export type GetBookingOutcome = { status: 'found'; booking: ManagedBooking } | ManageLinkProblem;

/** `cancelBooking`'s outcomes: `cancelled` (also for a booking already cancelled), or why not. */
export type CancelBookingOutcome = { status: 'cancelled'; booking: ManagedBooking } | ManageLinkProblem | ChangeRefusal;

/** `rescheduleBooking`'s outcomes: `rescheduled`, `slot_taken` (someone got the time first: list slots again), or why not. */
export type RescheduleBookingOutcome =
  | { status: 'rescheduled'; booking: ManagedBooking }
  | { status: 'slot_taken'; message: string }
  | ManageLinkProblem
  | ChangeRefusal;

/**
 * `withdrawRequest`'s outcomes: `withdrawn` (also for a request already
 * withdrawn), or why not; `not_changeable` when it was confirmed, expired or
 * cancelled in the meantime (`message` says which).
 */
export type WithdrawRequestOutcome =
  | { status: 'withdrawn'; booking: ManagedBooking }
  | ManageLinkProblem
  | Exclude<ChangeRefusal, { status: 'change_window_closed' }>;

export interface BookingClient {
  /** A specialist's public profile and active services. */
  getSpecialist(slug: string, options?: { signal?: AbortSignal }): Promise<Profile>;
  /** Free slots of a service; `from`/`to` are Dates or ISO strings (default: 14 days from the start of the current UTC hour, which the server answers from its cache). */
  listSlots(slug: string, serviceId: string, range?: { from?: Date | string; to?: Date | string; signal?: AbortSignal }): Promise<SlotList>;
  /** Books a slot. Expected outcomes are values; see `BookingOutcome`. */
  createBooking(slug: string, request: CreateBookingRequest, options?: CreateBookingOptions): Promise<BookingOutcome>;
  /** A booking, with the token of its manage link (from the confirmation email). Changes nothing. */
  getBooking(bookingId: string, token: string, options?: { signal?: AbortSignal }): Promise<GetBookingOutcome>;
  /**
   * Cancels a booking; `reason` goes to the specialist. Idempotent: a repeat
   * (or a retry) answers `cancelled` and sends nothing again.
   */
  cancelBooking(bookingId: string, token: string, options?: { reason?: string; signal?: AbortSignal }): Promise<CancelBookingOutcome>;
  /**
   * Moves a booking to `start`, another listed slot of the same service.
   * Every retry sends the same idempotency key (default: a fresh random key
   * per call), so the booking moves at most once.
   */
  rescheduleBooking(bookingId: string, token: string, start: Date | string, options?: { idempotencyKey?: string; signal?: AbortSignal }): Promise<RescheduleBookingOutcome>;
  /**
   * Withdraws a held request (the `hold` of a `requires_reauth` outcome; its
   * id is the booking's): the time is released at once and never confirmed.
   * The token is the manage link's, from the "We're holding" email.
   * Idempotent: a repeat (or a retry) answers `withdrawn`.
   */
  withdrawRequest(bookingId: string, token: string, options?: { signal?: AbortSignal }): Promise<WithdrawRequestOutcome>;
}

/** Booking answers that are outcomes even with a retryable status: retrying at once cannot help. */
const BOOKING_OUTCOME_CODES = new Set(['zoom_unavailable']);

const INVALID_BOOKING_CODES = new Set(['validation_failed', 'invalid_json', 'slot_unavailable', 'idempotency_key_reused', 'payload_too_large']);

type ManageAnswer = { success?: boolean; booking?: ManagedBooking } & Partial<Omit<ErrorResponse, 'success'>>;

/** The outcome shared by the manage-link calls for an error answer, or undefined for an unexpected one (thrown). */
function manageRefusalOf(body: ManageAnswer | undefined, headers: Headers): ManageLinkProblem | ChangeRefusal | undefined {
  const code = body?.code;
  const message = typeof body?.message === 'string' ? body.message : '';
  if (code === 'invalid_manage_token') return { status: 'invalid_link', message };
  if (code === 'manage_link_expired') return { status: 'link_expired', message };
  if (code === 'not_found') return { status: 'not_found', message };
  if (code === 'change_window_closed') return { status: 'change_window_closed', message };
  if (code === 'booking_not_changeable') return { status: 'not_changeable', message };
  if (code === 'rate_limited') return { status: 'rate_limited', message, retryAfterSeconds: retryAfterSecondsOf(headers, body?.retryAfterSeconds, 60) };
  if (typeof code === 'string' && INVALID_BOOKING_CODES.has(code)) return { status: 'invalid', code, message, fieldErrors: fieldErrorMap(body?.errors) };
  return undefined;
}

/**
 * Creates a typed client for the booking API. Runs in browsers and in Node
 * 20+ (global `fetch`); no other dependency.
 *
 * @example
 * const client = createBookingClient({ baseUrl: 'https://booking.example.com' });
 * const { services } = await client.getSpecialist('demo');
 * const { slots } = await client.listSlots('demo', services[0].id);
 * const outcome = await client.createBooking('demo', {
 *   serviceId: services[0].id, start: slots[0].start,
 *   customer: { name: 'Ada', email: 'ada@example.com' },
 * });
 * if (outcome.status === 'confirmed') console.log(outcome.booking.id);
 */
export function createBookingClient(options: BookingClientOptions): BookingClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const maxRetries = options.maxRetries ?? 2;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const maxRetryDelayMs = options.maxRetryDelayMs ?? 8_000;
  const fetchImpl = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => globalThis.fetch(input, init));

  async function request<T>(method: 'GET' | 'POST', path: string, init: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal | undefined; outcomeCodes?: Set<string> }): Promise<{ status: number; body: T; headers: Headers }> {
    const headers: Record<string, string> = { Accept: 'application/json', ...init.headers };
    if (init.body !== undefined) headers['Content-Type'] = 'application/json';
    const body = init.body === undefined ? undefined : JSON.stringify(init.body);
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await fetchWithTimeout(fetchImpl, `${baseUrl}${path}`, { method, headers, body, signal: init.signal }, timeoutMs);
      } catch (error) {
        if (init.signal?.aborted) throw error;
        if (attempt < maxRetries) {
          await sleep(backoffDelay(attempt, maxRetryDelayMs), init.signal);
          continue;
        }
        throw error instanceof BookingTimeoutError
          ? error
          : new BookingConnectionError(`Could not reach the booking server at ${baseUrl}.`, { cause: error });
      }
      const parsed = await readJsonOrUndefined(response);
      const code = (parsed as { code?: unknown } | undefined)?.code;
      const isOutcome = typeof code === 'string' && init.outcomeCodes?.has(code) === true;
      if (isRetryableStatus(response.status) && attempt < maxRetries && !isOutcome) {
        const delay = retryAfterDelay(response.headers, Date.now()) ?? backoffDelay(attempt, maxRetryDelayMs);
        if (delay <= maxRetryDelayMs) {
          await sleep(delay, init.signal);
          continue;
        }
      }
      return { status: response.status, body: parsed as T, headers: response.headers };
    }
  }

  function apiError(status: number, body: unknown, headers: Headers): BookingApiError {
    const error = body as Partial<ErrorResponse> | undefined;
    const code = isErrorCode(error?.code) ? error.code : 'unknown_error';
    const message = typeof error?.message === 'string' ? error.message : `The booking server answered ${status}.`;
    const retryAfterSeconds = status === 429 || status === 503 ? retryAfterSecondsOf(headers, error?.retryAfterSeconds, status === 429 ? 60 : undefined) : undefined;
    return new BookingApiError(status, code, message, headers.get('x-request-id') ?? undefined, retryAfterSeconds);
  }

  async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
    const { status, body, headers } = await request<T & { success?: boolean }>('GET', path, { signal });
    if (status !== 200 || body?.success !== true) throw apiError(status, body, headers);
    const { success: _success, ...rest } = body;
    return rest as T;
  }

  return {
    getSpecialist(slug, opts) {
      return getJson<Profile>(specialistPath(slug), opts?.signal);
    },

    listSlots(slug, serviceId, range = {}) {
      const query = new URLSearchParams();
      if (range.from !== undefined) query.set('from', toIso(range.from));
      if (range.to !== undefined) query.set('to', toIso(range.to));
      const qs = query.size ? `?${query}` : '';
      return getJson<SlotList>(`${slotsPath(slug, serviceId)}${qs}`, range.signal);
    },

    async createBooking(slug, bookingRequest, opts = {}) {
      const idempotencyKey = opts.idempotencyKey ?? randomIdempotencyKey();
      const { status, body, headers } = await request<{ success?: boolean; booking?: Booking } & Partial<Omit<ErrorResponse, 'success'>>>(
        'POST',
        `${specialistPath(slug)}/bookings`,
        { body: bookingRequest, headers: { 'Idempotency-Key': idempotencyKey }, signal: opts.signal, outcomeCodes: BOOKING_OUTCOME_CODES },
      );
      if (status === 201 && body?.success === true && body.booking) {
        return { status: 'confirmed', booking: body.booking, isReplay: headers.get('idempotent-replayed') === 'true' };
      }
      const code = body?.code;
      const message = typeof body?.message === 'string' ? body.message : '';
      if (code === 'slot_taken') return { status: 'slot_taken', message };
      if (code === 'requires_reauth') return { status: 'requires_reauth', message, specialistNotified: body?.specialistNotified === true, hold: holdOf(body?.hold) };
      if (code === 'rate_limited') return { status: 'rate_limited', message, retryAfterSeconds: retryAfterSecondsOf(headers, body?.retryAfterSeconds, 60) };
      if (code === 'zoom_unavailable') return { status: 'zoom_unavailable', message, retryAfterSeconds: retryAfterSecondsOf(headers, body?.retryAfterSeconds, 30) };
      if (typeof code === 'string' && INVALID_BOOKING_CODES.has(code)) {
        return { status: 'invalid', code, message, fieldErrors: fieldErrorMap(body?.errors) };
      }
      throw apiError(status, body, headers);
    },

    async getBooking(bookingId, token, opts = {}) {
      const { status, body, headers } = await request<ManageAnswer>('GET', `${bookingPath(bookingId)}?${new URLSearchParams({ token })}`, { signal: opts.signal });
      if (status === 200 && body?.success === true && body.booking) return { status: 'found', booking: body.booking };
      const refusal = manageRefusalOf(body, headers);
      if (refusal && (refusal.status === 'invalid_link' || refusal.status === 'link_expired' || refusal.status === 'not_found')) return refusal;
      throw apiError(status, body, headers);
    },

    async cancelBooking(bookingId, token, opts = {}) {
      const { status, body, headers } = await request<ManageAnswer>('POST', `${bookingPath(bookingId)}/cancel`, {
        body: { token, ...(opts.reason === undefined ? {} : { reason: opts.reason }) },
        signal: opts.signal,
      });
      if (status === 200 && body?.success === true && body.booking) return { status: 'cancelled', booking: body.booking };
      const refusal = manageRefusalOf(body, headers);
      if (refusal) return refusal;
      throw apiError(status, body, headers);
    },

    async rescheduleBooking(bookingId, token, start, opts = {}) {
      const idempotencyKey = opts.idempotencyKey ?? randomIdempotencyKey();
      const { status, body, headers } = await request<ManageAnswer>('POST', `${bookingPath(bookingId)}/reschedule`, {
        body: { token, start: toIso(start) },
        headers: { 'Idempotency-Key': idempotencyKey },
        signal: opts.signal,
      });
      if (status === 200 && body?.success === true && body.booking) return { status: 'rescheduled', booking: body.booking };
      if (body?.code === 'slot_taken') return { status: 'slot_taken', message: typeof body.message === 'string' ? body.message : '' };
      const refusal = manageRefusalOf(body, headers);
      if (refusal) return refusal;
      throw apiError(status, body, headers);
    },

    async withdrawRequest(bookingId, token, opts = {}) {
      const { status, body, headers } = await request<ManageAnswer>('POST', `${bookingPath(bookingId)}/withdraw`, { body: { token }, signal: opts.signal });
      if (status === 200 && body?.success === true && body.booking) return { status: 'withdrawn', booking: body.booking };
      const refusal = manageRefusalOf(body, headers);
      if (refusal && refusal.status !== 'change_window_closed') return refusal;
      throw apiError(status, body, headers);
    },
  };
}

const bookingPath = (bookingId: string) => `/api/v1/bookings/${encodeURIComponent(bookingId)}`;

/** The hold of a `requires_reauth` answer, when the server sent a whole one. */
function holdOf(hold: Partial<Hold> | undefined): Hold | undefined {
  return typeof hold?.id === 'string' && typeof hold.expiresAt === 'string' ? { id: hold.id, expiresAt: hold.expiresAt } : undefined;
}

function fieldErrorMap(errors: FieldError[] | undefined): Record<string, string> {
  const map: Record<string, string> = {};
  for (const e of errors ?? []) map[e.path] ??= e.message;
  return map;
}

function toIso(value: Date | string): string {
  return value instanceof Date ? value.toISOString() : value;
}

function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status !== 501);
}

/** Capped exponential backoff with full jitter: 0.5 s, 1 s, 2 s … each × [0.5, 1). */
function backoffDelay(attempt: number, cap: number): number {
  const base = Math.min(cap, 500 * 2 ** attempt);
  return base * (0.5 + Math.random() / 2);
}

/** Whole seconds to wait after a 429 or 503: the Retry-After header, else the body's figure, else `fallback`. */
function retryAfterSecondsOf<F extends number | undefined>(headers: Headers, fromBody: unknown, fallback: F): number | F {
  const delay = retryAfterDelay(headers, Date.now());
  if (delay !== undefined) return Math.ceil(delay / 1000);
  return typeof fromBody === 'number' && fromBody > 0 ? Math.ceil(fromBody) : fallback;
}

async function fetchWithTimeout(fetchImpl: typeof fetch, url: string, init: RequestInit & { signal?: AbortSignal | undefined }, timeoutMs: number): Promise<Response> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
  try {
    return await fetchImpl(url, { ...init, signal });
  } catch (error) {
    if (timeout.aborted && !init.signal?.aborted) throw new BookingTimeoutError(`No answer from the booking server within ${timeoutMs} ms.`, { cause: error });
    throw error;
  }
}


function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}
