import { Hono, type Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Kysely } from 'kysely';
import { deleteSession, deleteSessionsOf } from '../auth/sessions.js';
import { requestSignInLink, safeNextPath, SignInEmailSchema, type SignInDeps } from '../auth/sign-in.js';
import { z } from 'zod';
import { CancelBookingRequestSchema, type ManagedBooking } from '../../sdk/contract.js';
import { listHeldRequests } from '../bookings/held-requests.js';
import { countPendingZoomChanges, type BookingLifecycle } from '../bookings/lifecycle.js';
import type { Database } from '../db/schema.js';
import { listFailedEmails } from '../email/outbox.js';
import { DomainError } from '../errors.js';
import { listProblems, parseOrThrow } from '../validation.js';
import { allowedOriginsOf } from '../specialists/index.js';
import {
  addService,
  bookingRulesText,
  holdWindowText,
  listAllServices,
  replaceWeeklyHours,
  setAllowedOrigins,
  setServiceActive,
  timeZoneChoices,
  updateBookingRules,
  updateHoldWindow,
  updateProfile,
  updateService,
  weeklyHoursText,
} from '../specialists/settings.js';
import type { ZoomConnectionStore } from '../zoom/connections.js';
import { addressLimitKey, type ClientAddressOf } from './client-address.js';
import type { SiteCookies } from './cookies.js';
import { STATUS_BY_CODE } from './errors.js';
import { checkEmailPage, dashboardPage, expiredFormPage, settingsPage, signInPage, type DashboardBooking } from './pages/specialist-pages.js';
import type { Flash } from './pages/layout.js';
import { hasValidCsrf, type SessionVariables } from './session.js';

export interface SpecialistRoutesDeps extends SignInDeps {
  db: Kysely<Database>;
  publicUrl: string;
  connections: ZoomConnectionStore;
  clientAddressOf: ClientAddressOf;
  cookies: SiteCookies;
  /** Lists the dashboard's bookings and carries out its cancel and reschedule-offer buttons. */
  lifecycle: BookingLifecycle;
}

const FLASHES: Record<string, Flash> = {
  connected: { kind: 'success', message: 'Zoom connected — customers can book you.' },
  reauthorized: { kind: 'success', message: 'Zoom re-authorized — customers can book again.' },
  disconnected: { kind: 'success', message: 'Zoom disconnected. Customers cannot book you until you connect it again.' },
  denied: { kind: 'error', message: 'Zoom was not connected: the authorization was declined on Zoom’s page.' },
  saved: { kind: 'success', message: 'Saved.' },
  cancelled: { kind: 'success', message: 'Booking cancelled. The customer gets an email saying so, with your message if you wrote one.' },
  offered: { kind: 'success', message: 'Offer sent: the customer got an email with a link to pick a new time.' },
};

const SIGN_IN_REASONS: Record<string, Flash> = {
  expired: { kind: 'error', message: 'That link has expired. Sign in again to continue.' },
  used: { kind: 'error', message: 'That link was already used. Sign in again to continue.' },
  invalid: { kind: 'error', message: 'That link is not valid. Sign in again to continue.' },
  signed_out: { kind: 'success', message: 'You are signed out.' },
  signed_out_everywhere: { kind: 'success', message: 'You are signed out on every device.' },
};

type Env = { Variables: SessionVariables };

/** The newest failed emails the dashboard lists; the operator's CLI lists them all. */
const FAILED_EMAILS_SHOWN = 20;

/** A specialist's message to the customer: the API's rules for a cancellation reason. */
const DashboardMessageSchema = z.object({ message: CancelBookingRequestSchema.shape.reason });

/** Bookings the dashboard lists in each of its two tables. */
const BOOKINGS_SHOWN = 20;

function dashboardRow(booking: ManagedBooking): DashboardBooking {
  return {
    id: booking.id,
    start: new Date(booking.start),
    serviceTitle: booking.service.title,
    customerName: booking.customer.name,
    customerEmail: booking.customer.email,
    status: booking.status,
    joinUrl: booking.zoomJoinUrl,
    isRescheduleOffered: booking.changeWindow.isLiftedByOffer,
    cancelledBy: booking.cancellation?.by ?? null,
  };
}

/**
 * The hosted pages for specialists: passwordless sign-in, the dashboard,
 * and settings. Every state-changing form carries a CSRF token.
 */
export function specialistRoutes(deps: SpecialistRoutesDeps): Hono<Env> {
  const app = new Hono<Env>();
  app.get('/', (c) => c.redirect(c.get('session') ? '/dashboard' : '/sign-in', 302));

  app.get('/sign-in', (c) => {
    const next = safeNextPath(c.req.query('next'));
    if (c.get('session')) return c.redirect(next ?? '/dashboard', 302);
    const csrfToken = deps.cookies.preSessionCsrf(c);
    return c.html(signInPage({ csrfToken, next, flash: SIGN_IN_REASONS[c.req.query('reason') ?? ''] }));
  });

  app.post('/sign-in', async (c) => {
    const form = await c.req.parseBody();
    const cookieToken = deps.cookies.readPreSessionCsrf(c);
    if (!cookieToken || form._csrf !== cookieToken) return c.html(expiredFormPage('/sign-in'), 403);
    const next = safeNextPath(typeof form.next === 'string' ? form.next : undefined);
    const email = SignInEmailSchema.safeParse(typeof form.email === 'string' ? form.email.trim() : '');
    if (!email.success) {
      return c.html(signInPage({ csrfToken: cookieToken, next, email: String(form.email ?? ''), flash: { kind: 'error', message: email.error.issues[0]!.message } }), 400);
    }
    const result = await requestSignInLink(deps, {
      email: email.data,
      clientAddressKey: addressLimitKey(deps.clientAddressOf(c)),
      knownBrowserMark: deps.cookies.readKnownBrowser(c),
      next,
    });
    if (result.kind === 'rate_limited') {
      c.header('Retry-After', String(result.retryAfterSeconds));
      const minutes = Math.ceil(result.retryAfterSeconds / 60);
      const wait =
        result.retryAfterSeconds > 3600 ? 'Please use a link already sent, or try again tomorrow.' : `Please wait ${minutes} minute${minutes === 1 ? '' : 's'} and try again.`;
      return c.html(signInPage({ csrfToken: cookieToken, next, flash: { kind: 'error', message: `Too many sign-in requests. ${wait}` } }), 429);
    }
    return c.html(checkEmailPage(email.data));
  });

  app.post('/sign-out', async (c) => {
    if (!(await hasValidCsrf(c))) return c.html(expiredFormPage(), 403);
    const token = deps.cookies.readSession(c);
    if (token) await deleteSession(deps.db, token);
    deps.cookies.clearSession(c);
    return c.redirect('/sign-in?reason=signed_out', 303);
  });

  app.post('/sign-out/everywhere', async (c) => {
    const session = c.get('session');
    if (!session) return c.redirect('/sign-in', 303);
    if (!(await hasValidCsrf(c))) return c.html(expiredFormPage(), 403);
    await deleteSessionsOf(deps.db, session.specialistId);
    deps.cookies.clearSession(c);
    return c.redirect('/sign-in?reason=signed_out_everywhere', 303);
  });

  async function renderDashboard(c: Context<Env>, flash: Flash | undefined, status: ContentfulStatusCode = 200) {
    const session = c.get('session')!;
    const specialist = await deps.db.selectFrom('specialists').selectAll().where('id', '=', session.specialistId).executeTakeFirstOrThrow();
    return c.html(
      dashboardPage({
        specialist,
        connection: await deps.connections.find(specialist.id),
        waitingRequests: await listHeldRequests(deps.db, specialist.id),
        upcoming: (await deps.lifecycle.listForSpecialist(specialist.id, { when: 'upcoming', limit: BOOKINGS_SHOWN })).map(dashboardRow),
        past: (await deps.lifecycle.listForSpecialist(specialist.id, { when: 'past', limit: BOOKINGS_SHOWN })).map(dashboardRow),
        pendingZoomChanges: await countPendingZoomChanges(deps.db, specialist.id),
        failedEmails: await listFailedEmails(deps.db, { specialistId: specialist.id, limit: FAILED_EMAILS_SHOWN }),
        csrfToken: session.csrfToken,
        flash,
      }),
      status,
    );
  }

  app.get('/dashboard', async (c) => {
    if (!c.get('session')) return c.redirect('/sign-in?next=%2Fdashboard', 302);
    return renderDashboard(c, FLASHES[c.req.query('zoom') ?? c.req.query('flash') ?? '']);
  });

  /**
   * A booking button on the dashboard: signed in, CSRF checked, the message
   * read with the API's rules for a reason, the change made, back to the
   * list. A refusal (a bad message, another specialist's booking, one that
   * started meanwhile) shows the dashboard again with why.
   */
  const bookingForm = (done: string, change: (specialistId: string, bookingId: string, message: string | undefined) => Promise<unknown>) =>
    async function handleBookingForm(c: Context<Env>) {
      const session = c.get('session');
      if (!session) return c.redirect('/sign-in?next=%2Fdashboard', 303);
      if (!(await hasValidCsrf(c))) return c.html(expiredFormPage('/dashboard'), 403);
      const form = await c.req.parseBody();
      try {
        const { message } = parseOrThrow(DashboardMessageSchema, { message: typeof form.message === 'string' && form.message.trim() !== '' ? form.message : undefined }, { summarize: listProblems });
        await change(session.specialistId, c.req.param('bookingId') ?? '', message);
      } catch (error) {
        if (error instanceof DomainError && (error.code === 'validation_failed' || error.code === 'not_found' || error.code === 'booking_not_changeable')) {
          return renderDashboard(c, { kind: 'error', message: error.message }, STATUS_BY_CODE[error.code]);
        }
        throw error;
      }
      return c.redirect(`/dashboard?flash=${done}#upcoming`, 303);
    };

  app.post(
    '/dashboard/bookings/:bookingId/cancel',
    bookingForm('cancelled', (specialistId, bookingId, message) => deps.lifecycle.cancel(bookingId, { kind: 'specialist', specialistId }, { reason: message })),
  );
  app.post(
    '/dashboard/bookings/:bookingId/offer-reschedule',
    bookingForm('offered', (specialistId, bookingId, message) => deps.lifecycle.offerReschedule(bookingId, specialistId, { message })),
  );

  async function renderSettings(c: Context<Env>, flash: Flash | undefined, status: 200 | 400 = 200) {
    const session = c.get('session')!;
    const specialist = await deps.db.selectFrom('specialists').selectAll().where('id', '=', session.specialistId).executeTakeFirstOrThrow();
    return c.html(
      settingsPage({
        specialist,
        services: await listAllServices(deps.db, specialist.id),
        weeklyHours: await weeklyHoursText(deps.db, specialist.id),
        allowedOrigins: allowedOriginsOf(specialist),
        connection: await deps.connections.find(specialist.id),
        waitingRequests: await listHeldRequests(deps.db, specialist.id),
        csrfToken: session.csrfToken,
        publicUrl: deps.publicUrl,
        timeZones: timeZoneChoices(specialist.time_zone),
        bookingRules: bookingRulesText(specialist),
        holdWindowHours: holdWindowText(specialist),
        flash,
      }),
      status,
    );
  }

  app.get('/settings', async (c) => {
    if (!c.get('session')) return c.redirect('/sign-in?next=%2Fsettings', 302);
    return renderSettings(c, FLASHES[c.req.query('zoom') ?? c.req.query('flash') ?? '']);
  });

  /** A settings form: signed in, CSRF checked, the change made, back to its section. */
  const settingsForm = (section: string, change: (specialistId: string, form: Record<string, string>, c: Context<Env>) => Promise<void>) =>
    async function handleSettingsForm(c: Context<Env>) {
      const session = c.get('session');
      if (!session) return c.redirect('/sign-in', 303);
      if (!(await hasValidCsrf(c))) return c.html(expiredFormPage(), 403);
      const body = await c.req.parseBody();
      const form = Object.fromEntries(Object.entries(body).filter((e): e is [string, string] => typeof e[1] === 'string'));
      try {
        await change(session.specialistId, form, c);
      } catch (error) {
        if (error instanceof DomainError && (error.code === 'validation_failed' || error.code === 'not_found')) {
          return renderSettings(c, { kind: 'error', message: error.message }, 400);
        }
        throw error;
      }
      return c.redirect(`/settings?flash=saved#${section}`, 303);
    };

  app.post('/settings/profile', settingsForm('profile', (id, form) => updateProfile(deps.db, deps.clock, id, form)));
  app.post('/settings/services', settingsForm('services', (id, form) => addService(deps.db, deps.clock, id, form)));
  app.post('/settings/services/:serviceId', settingsForm('services', (id, form, c) => updateService(deps.db, id, c.req.param('serviceId') ?? '', form)));
  app.post('/settings/services/:serviceId/hide', settingsForm('services', (id, _form, c) => setServiceActive(deps.db, id, c.req.param('serviceId') ?? '', false)));
  app.post('/settings/services/:serviceId/show', settingsForm('services', (id, _form, c) => setServiceActive(deps.db, id, c.req.param('serviceId') ?? '', true)));
  app.post(
    '/settings/availability',
    settingsForm('availability', (id, form) => replaceWeeklyHours(deps.db, id, [1, 2, 3, 4, 5, 6, 7].map((d) => form[`day${d}`] ?? ''))),
  );
  app.post('/settings/booking-rules', settingsForm('changes', (id, form) => updateBookingRules(deps.db, deps.clock, id, form)));
  app.post('/settings/hold-window', settingsForm('held-requests', (id, form) => updateHoldWindow(deps.db, deps.clock, id, form)));
  app.post('/settings/origins', settingsForm('embed', (id, form) => setAllowedOrigins(deps.db, deps.clock, id, form.origins ?? '')));

  return app;
}
