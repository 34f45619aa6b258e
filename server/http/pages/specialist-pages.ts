import { LIMITS, type BookingStatus } from '../../../sdk/contract.js';
import type { WaitingRequest } from '../../bookings/held-requests.js';
import { formatWhen } from '../../email/format.js';
import type { FailedEmail } from '../../email/outbox.js';
import type { ServiceRow, SpecialistRow } from '../../specialists/index.js';
import { SERVICE_DURATIONS, WEEKDAYS } from '../../specialists/settings.js';
import type { ZoomConnectionRow } from '../../zoom/connections.js';
import { embedSnippet } from './embed-snippet.js';
import { html, layout, type Flash, type SafeHtml } from './layout.js';
import { zoomStatusCard } from './zoom-status.js';

export function signInPage(options: { csrfToken: string; next: string | undefined; flash?: Flash | undefined; email?: string }): string {
  return layout({
    title: 'Sign in',
    flash: options.flash,
    body: html`<h1>Sign in</h1>
<section class="card" aria-labelledby="sign-in-title">
  <h2 id="sign-in-title">Get a sign-in link by email</h2>
  <p class="muted">No password: we email you a link that signs you in.</p>
  <form method="post" action="/sign-in">
    <input type="hidden" name="_csrf" value="${options.csrfToken}">
    ${options.next ? html`<input type="hidden" name="next" value="${options.next}">` : ''}
    <label for="email">Email address</label>
    <input id="email" name="email" type="email" autocomplete="email" required value="${options.email ?? ''}">
    <div class="actions"><button class="button" type="submit">Email me a sign-in link</button></div>
  </form>
</section>`,
  });
}

/** A form whose CSRF token did not match: nothing was done. */
export function expiredFormPage(reloadPath = '/settings'): string {
  return layout({ title: 'Form expired', body: html`<h1>This form has expired</h1><p><a href="${reloadPath}">Reload the page</a> and try again.</p>` });
}

export function checkEmailPage(email: string): string {
  return layout({
    title: 'Check your email',
    body: html`<h1>Check your email</h1>
<section class="card"><p>If <strong>${email}</strong> belongs to an account, a sign-in link is on its way. It works once, for 15 minutes.</p>
<p><a href="/sign-in">Use another address</a></p></section>`,
  });
}

/** A booking as the dashboard lists it: the lifecycle's `ManagedBooking`, trimmed to what a row shows. */
export interface DashboardBooking {
  id: string;
  start: Date;
  serviceTitle: string;
  customerName: string;
  customerEmail: string;
  status: BookingStatus;
  joinUrl: string | null;
  /** A reschedule offer lifted the cancellation window: the customer may move or cancel it now. */
  isRescheduleOffered: boolean;
  cancelledBy: 'customer' | 'specialist' | null;
}

function statusBadge(b: DashboardBooking): SafeHtml {
  switch (b.status) {
    case 'cancelled':
      return html`<span class="badge bad">Cancelled by ${b.cancelledBy === 'specialist' ? 'you' : 'customer'}</span>`;
    case 'held':
      return html`<span class="badge none">Waiting for Zoom</span>`;
    case 'expired':
      return html`<span class="badge bad">Expired unconfirmed</span>`;
    case 'withdrawn':
      return html`<span class="badge bad">Withdrawn by customer</span>`;
    default:
      return b.isRescheduleOffered ? html`<span class="badge none">New time offered</span>` : html`<span class="badge ok">Confirmed</span>`;
  }
}

/** Cancel (with a message to the customer) and offer a reschedule, each a POST with the session's CSRF token. */
function bookingActions(b: DashboardBooking, csrfToken: string): SafeHtml | '' {
  if (b.status !== 'confirmed') return '';
  const csrf = html`<input type="hidden" name="_csrf" value="${csrfToken}">`;
  return html`<details class="booking-actions"><summary>Change…</summary>
  <form method="post" action="/dashboard/bookings/${b.id}/cancel">${csrf}
    <label for="cancel-message-${b.id}">Message to ${b.customerName}</label>
    <textarea id="cancel-message-${b.id}" name="message" rows="2" maxlength="${String(LIMITS.changeReasonMaxLength)}"></textarea>
    <div class="actions"><button class="button danger" type="submit">Cancel booking</button></div>
  </form>
  ${
    b.isRescheduleOffered
      ? ''
      : html`<form method="post" action="/dashboard/bookings/${b.id}/offer-reschedule">${csrf}
    <label for="offer-message-${b.id}">Message with the offer (optional)</label>
    <textarea id="offer-message-${b.id}" name="message" rows="2" maxlength="${String(LIMITS.changeReasonMaxLength)}"></textarea>
    <div class="actions"><button class="button secondary" type="submit">Offer a new time</button></div>
    <p class="hint">Emails ${b.customerName} their manage link and lets them move or cancel it even inside your cancellation window.</p>
  </form>`
  }
</details>`;
}

function bookingRows(bookings: DashboardBooking[], timeZone: string, csrfToken: string | undefined, empty: string): SafeHtml {
  if (bookings.length === 0) return html`<p class="muted">${empty}</p>`;
  return html`<table><thead><tr><th scope="col">When</th><th scope="col">Service</th><th scope="col">Customer</th><th scope="col">Status</th></tr></thead><tbody>
${bookings.map(
  (b) => html`<tr id="booking-${b.id}"><td>${formatWhen(b.start, timeZone)}</td><td>${b.serviceTitle}</td><td>${b.customerName}<br><span class="muted">${b.customerEmail}</span></td>
<td>${statusBadge(b)}${b.status === 'confirmed' && b.joinUrl ? html`<br><a href="${b.joinUrl}">Join link</a>` : ''}${csrfToken ? bookingActions(b, csrfToken) : ''}</td></tr>`,
)}</tbody></table>`;
}

/** Zoom changes still queued: they go through on their own once Zoom answers (after a re-authorization, if the card asks for one). */
function pendingZoomChangesNote(count: number): SafeHtml | '' {
  if (count === 0) return '';
  const changes = count === 1 ? '1 meeting change waits' : `${count} meeting changes wait`;
  return html`<p class="hint" id="pending-zoom-changes">${changes} to be made in Zoom (cancelled or moved bookings). They go through on their own as soon as Zoom accepts them.</p>`;
}

/** The specialist's emails given up on (issue #15): to whom, what, when and why. Nothing when there are none. */
function failedEmailsCard(emails: FailedEmail[], timeZone: string): SafeHtml | '' {
  if (emails.length === 0) return '';
  return html`<section class="card" id="failed-emails" aria-labelledby="failed-emails-title">
  <h2 id="failed-emails-title">Emails that could not be sent</h2>
  <p class="muted">We tried for up to a day, or the mail server refused them for good.</p>
  <table><thead><tr><th scope="col">To</th><th scope="col">Subject</th><th scope="col">Given up</th><th scope="col">Reason</th></tr></thead><tbody>
${emails.map((e) => html`<tr><td>${e.to}</td><td>${e.subject}</td><td>${formatWhen(new Date(e.failedAt), timeZone)}</td><td>${e.reason}</td></tr>`)}</tbody></table>
</section>`;
}

export function dashboardPage(options: {
  specialist: SpecialistRow;
  connection: ZoomConnectionRow | undefined;
  /** Held requests waiting for Zoom to work again (`listHeldRequests`), soonest deadline first. */
  waitingRequests: WaitingRequest[];
  upcoming: DashboardBooking[];
  past: DashboardBooking[];
  /** Meetings to delete or move in Zoom after a cancel or reschedule, not yet carried out (`countPendingZoomChanges`). */
  pendingZoomChanges: number;
  failedEmails: FailedEmail[];
  csrfToken: string;
  flash?: Flash | undefined;
}): string {
  const { specialist } = options;
  return layout({
    title: 'Dashboard',
    csrfToken: options.csrfToken,
    flash: options.flash,
    body: html`<h1>Hello, ${specialist.name}</h1>
${zoomStatusCard(options.connection, options.csrfToken, specialist.time_zone, { waiting: options.waitingRequests, holdsRequests: specialist.hold_window_minutes > 0 })}
<section class="card" id="upcoming" aria-labelledby="upcoming-title">
  <h2 id="upcoming-title">Upcoming bookings</h2>
  ${pendingZoomChangesNote(options.pendingZoomChanges)}
  ${bookingRows(options.upcoming, specialist.time_zone, options.csrfToken, 'No upcoming bookings yet.')}
</section>
<section class="card" id="past" aria-labelledby="past-title">
  <h2 id="past-title">Past bookings</h2>
  ${bookingRows(options.past, specialist.time_zone, undefined, 'No past bookings yet.')}
</section>
${failedEmailsCard(options.failedEmails, specialist.time_zone)}`,
  });
}

function serviceFields(prefix: string, service: ServiceRow | undefined): SafeHtml {
  const price = service?.price_cents != null ? (service.price_cents / 100).toFixed(2) : '';
  return html`<div class="row">
  <div><label for="${prefix}-title">Title</label><input id="${prefix}-title" name="title" type="text" required maxlength="120" value="${service?.title ?? ''}"></div>
  <div><label for="${prefix}-duration">Duration</label><select id="${prefix}-duration" name="durationMinutes">
    ${SERVICE_DURATIONS.map((d) => html`<option value="${String(d)}" ${d === (service?.duration_minutes ?? 60) ? html`selected` : ''}>${String(d)} minutes</option>`)}
  </select></div>
  <div><label for="${prefix}-price">Price (optional)</label><input id="${prefix}-price" name="price" type="text" inputmode="decimal" value="${price}"></div>
  <div><label for="${prefix}-currency">Currency</label><input id="${prefix}-currency" name="currency" type="text" maxlength="3" value="${service?.currency ?? 'EUR'}"></div>
</div>
<label for="${prefix}-description">Description</label>
<textarea id="${prefix}-description" name="description" rows="2" maxlength="1000">${service?.description ?? ''}</textarea>`;
}

export function settingsPage(options: {
  specialist: SpecialistRow;
  services: ServiceRow[];
  weeklyHours: string[];
  allowedOrigins: string[];
  connection: ZoomConnectionRow | undefined;
  /** Held requests waiting for Zoom, as the dashboard's Zoom card lists them. */
  waitingRequests: WaitingRequest[];
  csrfToken: string;
  publicUrl: string;
  timeZones: string[];
  /** The cancellation window and reminder times as the form shows them (`bookingRulesText`). */
  bookingRules: { cancellationWindowHours: string; reminderHours: string };
  /** The hold window as the form shows it (`holdWindowText`). */
  holdWindowHours: string;
  flash?: Flash | undefined;
}): string {
  const { specialist, csrfToken } = options;
  const csrf = html`<input type="hidden" name="_csrf" value="${csrfToken}">`;
  // Shown as text, to copy: escaped once more.
  const snippet = embedSnippet(specialist.slug, { serverUrl: options.publicUrl }).toString();
  return layout({
    title: 'Settings',
    csrfToken,
    flash: options.flash,
    body: html`<h1>Settings</h1>
<div id="zoom">${zoomStatusCard(options.connection, csrfToken, specialist.time_zone, { heading: 'Zoom Integration', waiting: options.waitingRequests, holdsRequests: specialist.hold_window_minutes > 0 })}</div>

<section class="card" id="profile" aria-labelledby="profile-title">
  <h2 id="profile-title">Profile</h2>
  <form method="post" action="/settings/profile">${csrf}
    <label for="profile-name">Name shown to customers</label>
    <input id="profile-name" name="name" type="text" required maxlength="120" value="${specialist.name}">
    <label for="profile-tz">Time zone</label>
    <select id="profile-tz" name="timeZone">${options.timeZones.map((tz) => html`<option ${tz === specialist.time_zone ? html`selected` : ''}>${tz}</option>`)}</select>
    <div class="actions"><button class="button" type="submit">Save profile</button></div>
  </form>
</section>

<section class="card" id="services" aria-labelledby="services-title">
  <h2 id="services-title">Services</h2>
  ${options.services.map(
    (s) => html`<details>
    <summary>${s.title} · ${String(s.duration_minutes)} min${s.is_active ? '' : ' (hidden from customers)'}</summary>
    <form method="post" action="/settings/services/${s.id}">${csrf}${serviceFields(`service-${s.id}`, s)}
      <div class="actions"><button class="button" type="submit">Save service</button></div>
    </form>
    <form method="post" action="/settings/services/${s.id}/${s.is_active ? 'hide' : 'show'}">${csrf}
      <div class="actions"><button class="button secondary" type="submit">${s.is_active ? 'Hide from customers' : 'Offer again'}</button></div>
    </form>
    ${s.is_active ? html`<p>To show this service’s times straight away, paste this on your site:</p>
    <pre class="snippet" tabindex="0" aria-label="Embed snippet for ${s.title}">${embedSnippet(specialist.slug, { serverUrl: options.publicUrl, serviceId: s.id }).toString()}</pre>` : ''}
  </details>`,
  )}
  <h3>Add a service</h3>
  <form method="post" action="/settings/services">${csrf}${serviceFields('new-service', undefined)}
    <div class="actions"><button class="button" type="submit">Add service</button></div>
  </form>
</section>

<section class="card" id="availability" aria-labelledby="availability-title">
  <h2 id="availability-title">Weekly availability</h2>
  <p class="hint" id="availability-hint">In your time zone (${specialist.time_zone}). Write hours like 09:00-12:00, 13:00-17:30; leave a day empty for a day off.</p>
  <form method="post" action="/settings/availability">${csrf}
    ${WEEKDAYS.map(
      (day, i) => html`<label for="hours-${String(i + 1)}">${day}</label>
    <input id="hours-${String(i + 1)}" name="day${String(i + 1)}" type="text" aria-describedby="availability-hint" value="${options.weeklyHours[i] ?? ''}">`,
    )}
    <div class="actions"><button class="button" type="submit">Save availability</button></div>
  </form>
</section>

<section class="card" id="changes" aria-labelledby="changes-title">
  <h2 id="changes-title">Cancellations and reminders</h2>
  <form method="post" action="/settings/booking-rules">${csrf}
    <label for="cancellation-window">Customers may cancel or move a booking online until (hours before the start)</label>
    <input id="cancellation-window" name="cancellationWindowHours" type="text" inputmode="numeric" aria-describedby="cancellation-window-hint" value="${options.bookingRules.cancellationWindowHours}">
    <p class="hint" id="cancellation-window-hint">Inside this window the booking's page shows your email address instead. 0 allows changes until the start.</p>
    <label for="reminder-hours">Reminders (hours before the start)</label>
    <input id="reminder-hours" name="reminderHours" type="text" aria-describedby="reminder-hours-hint" value="${options.bookingRules.reminderHours}">
    <p class="hint" id="reminder-hours-hint">Up to three, separated by commas, like 24, 1. Leave empty for none. They go to the customer and to you.</p>
    <div class="actions"><button class="button" type="submit">Save cancellations and reminders</button></div>
  </form>
</section>

<section class="card" id="held-requests" aria-labelledby="held-requests-title">
  <h2 id="held-requests-title">Held requests</h2>
  <form method="post" action="/settings/hold-window">${csrf}
    <label for="hold-window">Hold requests while Zoom needs re-authorizing (hours)</label>
    <input id="hold-window" name="holdWindowHours" type="text" inputmode="numeric" required aria-describedby="hold-window-hint" value="${options.holdWindowHours}">
    <p class="hint" id="hold-window-hint">When a customer books while your Zoom connection needs re-authorizing, their time is held for them this long and confirmed the moment you re-authorize. Whole hours from 0 to 168; 0 doesn't hold: the time is released at once. A request is never held past the start minus your minimum notice, and holds under 30 minutes are not made.</p>
    <div class="actions"><button class="button" type="submit">Save hold time</button></div>
  </form>
</section>

<section class="card" id="embed" aria-labelledby="embed-title">
  <h2 id="embed-title">Embed on your site</h2>
  <form method="post" action="/settings/origins">${csrf}
    <label for="origins">Websites allowed to show your booking widget</label>
    <textarea id="origins" name="origins" rows="3" aria-describedby="origins-hint">${options.allowedOrigins.join('\n')}</textarea>
    <p class="hint" id="origins-hint">One address per line, like https://www.example.com.</p>
    <div class="actions"><button class="button" type="submit">Save websites</button></div>
  </form>
  <p>Paste this where the booking widget should appear:</p>
  <pre class="snippet" id="embed-snippet" tabindex="0" aria-label="Embed snippet">${snippet}</pre>
  <div class="actions"><button class="button secondary" type="button" id="copy-snippet">Copy snippet</button><span id="copy-status" role="status"></span></div>
  <script src="/assets/settings.js" defer></script>
</section>

<section class="card" id="sessions" aria-labelledby="sessions-title">
  <h2 id="sessions-title">Sessions</h2>
  <p>A sign-in lasts 30 days on its device. Lost a device, or see a change you did not make? Sign out on every device, this one included.</p>
  <form method="post" action="/sign-out/everywhere">${csrf}
    <div class="actions"><button class="button secondary" type="submit">Sign out everywhere</button></div>
  </form>
</section>`,
  });
}
