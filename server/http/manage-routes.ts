import { Hono, type Context } from 'hono';
import type { Kysely } from 'kysely';
import type { z } from 'zod';
import { CancelBookingRequestSchema, RescheduleBookingRequestSchema, WithdrawRequestSchema, type ManagedBooking } from '../../sdk/contract.js';
import type { SlotLister } from '../availability/index.js';
import type { BookingLifecycle, CountChange } from '../bookings/lifecycle.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { countBookingChange, type BookingChangeLimitDeps } from '../limits/index.js';
import { listProblems, parseOrThrow } from '../validation.js';
import { addressLimitKey, type ClientAddressOf } from './client-address.js';
import type { SiteCookies } from './cookies.js';
import { STATUS_BY_CODE } from './errors.js';
import type { Flash } from './pages/layout.js';
import { endedManageLinkPage, groupSlotsByDay, invalidManageLinkPage, managePage, type ManageView } from './pages/manage-page.js';
import { expiredFormPage } from './pages/specialist-pages.js';

export interface ManageRoutesDeps extends BookingChangeLimitDeps {
  db: Kysely<Database>;
  lifecycle: BookingLifecycle;
  /** The client's address: a form's change counts against the same limits as the API's. */
  clientAddressOf: ClientAddressOf;
  /** The slot lister the API uses, so the page offers exactly the times a booking could take. */
  slots: SlotLister;
  cookies: SiteCookies;
}

/** What a redirect after a form says, by the `done` query parameter. */
const FLASHES: Record<string, Flash> = {
  cancelled: { kind: 'success', message: 'Your booking is cancelled. We emailed you a confirmation.' },
  rescheduled: { kind: 'success', message: 'Your booking has moved. We emailed you the new time.' },
  withdrawn: { kind: 'success', message: 'Request withdrawn: the time is released.' },
  slot_taken: { kind: 'error', message: 'Someone just took that time. Please pick another.' },
  slot_unavailable: { kind: 'error', message: 'That time is no longer offered. Please pick another.' },
  window_closed: { kind: 'error', message: 'Changes are closed online for this booking.' },
  not_changeable: { kind: 'error', message: 'This booking can no longer be changed.' },
  no_time: { kind: 'error', message: 'Pick a new time first.' },
};

/** Refusals a form answers with a flash on the manage page rather than an error page. */
const FLASHED_REFUSALS: Record<string, keyof typeof FLASHES> = {
  slot_taken: 'slot_taken',
  slot_unavailable: 'slot_unavailable',
  change_window_closed: 'window_closed',
  booking_not_changeable: 'not_changeable',
};

const managePath = (bookingId: string, token: string, done?: string) =>
  `/bookings/${encodeURIComponent(bookingId)}/manage?token=${encodeURIComponent(token)}${done ? `&done=${done}` : ''}`;

/** The lifecycle's booking as the page shows it: times in the customer's stored zone, else the specialist's. */
function viewOf(booking: ManagedBooking, token: string): ManageView {
  return {
    bookingId: booking.id,
    token,
    status: booking.status,
    start: new Date(booking.start),
    holdExpiresAt: booking.hold ? new Date(booking.hold.expiresAt) : null,
    timeZone: booking.customer.timeZone ?? booking.specialist.timeZone,
    serviceTitle: booking.service.title,
    specialistName: booking.specialist.name,
    specialistSlug: booking.specialist.slug,
    specialistEmail: booking.specialist.email,
    joinUrl: booking.zoomJoinUrl,
    changeWindow: { ...booking.changeWindow, closesAt: new Date(booking.changeWindow.closesAt) },
    canCancel: booking.canCancel,
    canReschedule: booking.canReschedule,
    canWithdraw: booking.canWithdraw,
    cancelledBy: booking.cancellation?.by ?? null,
    cancelReason: booking.cancellation?.reason ?? null,
  };
}

/**
 * The customer's manage link (issue #16), no account needed:
 *
 * - `GET /bookings/{id}/manage?token=…` shows the booking and its forms. It
 *   changes nothing (mail scanners open links); it only sets the browser's
 *   CSRF cookie, as the sign-in page does.
 * - `POST …/manage/cancel` (optional `reason`), `POST …/manage/reschedule`
 *   (`start`, one of the listed free times) and `POST …/manage/withdraw` (a
 *   held request, issue #17) carry the token and the double-submit CSRF
 *   token, then redirect (303) back with a message.
 *
 * A forged token answers 403 (an unknown booking 404) and a started session
 * 410, each with a page that says what to do; the lifecycle checks both on
 * every call. A change counts against the API's limits (`countBookingChange`):
 * over one, the page is shown again with 429, `Retry-After` and the wait in
 * words.
 */
export function manageRoutes(deps: ManageRoutesDeps): Hono {
  const app = new Hono();

  /** The lifecycle's refusal of the link itself as a page; undefined for other errors. */
  function linkProblem(c: Context, error: unknown): Response | Promise<Response> | undefined {
    if (!(error instanceof DomainError)) return undefined;
    // The statuses the API gives the same refusals: 403, 404, 410.
    if (error.code === 'not_found' || error.code === 'invalid_manage_token') return c.html(invalidManageLinkPage(), STATUS_BY_CODE[error.code]);
    if (error.code === 'manage_link_expired') return c.html(endedManageLinkPage(), STATUS_BY_CODE[error.code]);
    return undefined;
  }

  /** The free times of the booking's service; none once the specialist stopped offering it (the page then names their email). */
  async function freeSlotsOf(booking: ManagedBooking): Promise<readonly { start: string }[]> {
    try {
      return (await deps.slots.list({ slug: booking.specialist.slug, serviceId: booking.service.id })).slots;
    } catch (error) {
      if (error instanceof DomainError && error.code === 'not_found') return [];
      throw error;
    }
  }

  /** The page for the booking the token manages, or the page saying why the link does not work. */
  async function renderManage(c: Context, bookingId: string, token: string, flash: Flash | undefined, status: 200 | 400 | 429 = 200): Promise<Response> {
    let booking: ManagedBooking;
    try {
      booking = await deps.lifecycle.get(bookingId, { kind: 'customer', token });
    } catch (error) {
      const page = linkProblem(c, error);
      if (page) return page;
      throw error;
    }
    const view = viewOf(booking, token);
    const days = view.canReschedule ? groupSlotsByDay(await freeSlotsOf(booking), view.timeZone, booking.start) : [];
    return c.html(managePage({ view, csrfToken: deps.cookies.preSessionCsrf(c), days, flash }), status);
  }

  app.get('/bookings/:id/manage', (c) => renderManage(c, c.req.param('id'), c.req.query('token') ?? '', FLASHES[c.req.query('done') ?? '']));

  /**
   * A manage form: CSRF checked, the form read with the API's schema, the
   * change made, back to the page with its message. Input the schema refuses
   * shows the page again with the problem (400).
   */
  const manageForm = <Input>(schema: z.ZodType<Input>, change: (bookingId: string, input: Input, countChange: CountChange) => Promise<keyof typeof FLASHES>) =>
    async function handleManageForm(c: Context) {
      const bookingId = c.req.param('id') ?? '';
      const body = await c.req.parseBody();
      const form = Object.fromEntries(Object.entries(body).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1].trim() !== ''));
      const token = form.token ?? '';
      const csrfCookie = deps.cookies.readPreSessionCsrf(c);
      if (!csrfCookie || form._csrf !== csrfCookie) return c.html(expiredFormPage(managePath(bookingId, token)), 403);
      delete form._csrf;
      let done: keyof typeof FLASHES;
      try {
        const countChange = countBookingChange(deps, bookingId, addressLimitKey(deps.clientAddressOf(c)));
        done = await change(bookingId, parseOrThrow(schema, form, { summarize: listProblems }), countChange);
      } catch (error) {
        if (error instanceof DomainError && error.code === 'validation_failed') return renderManage(c, bookingId, token, { kind: 'error', message: error.message }, 400);
        if (error instanceof DomainError && error.code === 'rate_limited') {
          c.header('Retry-After', String(error.details.retryAfterSeconds));
          return renderManage(c, bookingId, token, { kind: 'error', message: error.message }, 429);
        }
        const page = linkProblem(c, error);
        if (page) return page;
        const flashed = error instanceof DomainError ? FLASHED_REFUSALS[error.code] : undefined;
        if (!flashed) throw error;
        done = flashed;
      }
      return c.redirect(managePath(bookingId, token, done), 303);
    };

  app.post(
    '/bookings/:id/manage/cancel',
    manageForm(CancelBookingRequestSchema, async (bookingId, { token, reason }, countChange) => {
      await deps.lifecycle.cancel(bookingId, { kind: 'customer', token }, { reason, countChange });
      return 'cancelled';
    }),
  );

  app.post(
    '/bookings/:id/manage/reschedule',
    manageForm(RescheduleBookingRequestSchema.partial({ start: true }), async (bookingId, { token, start }, countChange) => {
      if (!start) return 'no_time';
      await deps.lifecycle.reschedule(bookingId, { kind: 'customer', token }, { start, countChange });
      return 'rescheduled';
    }),
  );

  app.post(
    '/bookings/:id/manage/withdraw',
    manageForm(WithdrawRequestSchema, async (bookingId, { token }, countChange) => {
      await deps.lifecycle.withdraw(bookingId, { kind: 'customer', token }, { countChange });
      return 'withdrawn';
    }),
  );

  return app;
}
