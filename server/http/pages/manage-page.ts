import { LIMITS, type BookingStatus } from '../../../sdk/contract.js';
import { DEFAULT_RANGE_DAYS } from '../../availability/index.js';
import { formatWhen } from '../../email/format.js';
import { formatDayAndTime } from '../../email/held-templates.js';
import { html, layout, type Flash, type SafeHtml } from './layout.js';

/** What the manage page shows of a booking: the lifecycle's `ManagedBooking`, in the reader's zone. */
export interface ManageView {
  bookingId: string;
  /** The manage link's token: every form posts it back. */
  token: string;
  /** Never `pending`: the lifecycle does not show a booking still being made. */
  status: BookingStatus;
  start: Date;
  /** Until when a held request (issue #17) is kept for the customer; null unless `held`. */
  holdExpiresAt: Date | null;
  /** The customer's stored zone, else the specialist's: every time on the page is in it. */
  timeZone: string;
  serviceTitle: string;
  specialistName: string;
  /** For the link to the specialist's booking page once a request has ended. */
  specialistSlug: string;
  specialistEmail: string;
  joinUrl: string | null;
  /** When online changes close, and whether an offer from the specialist lifted that. */
  changeWindow: { closesAt: Date; isOpen: boolean; isLiftedByOffer: boolean };
  canCancel: boolean;
  canReschedule: boolean;
  canWithdraw: boolean;
  cancelledBy: 'customer' | 'specialist' | null;
  cancelReason: string | null;
}

/** One day of free times, in the customer's zone. */
export interface SlotDay {
  /** "Tuesday 8 January" */
  label: string;
  slots: { start: string; label: string }[];
}

/**
 * The days offered at most: a week of choices, in one native picker (short
 * on a phone). They are the first days with free times among the slot
 * list's `DEFAULT_RANGE_DAYS`, so an empty list means none in that range.
 */
const SLOT_DAYS_SHOWN = 7;

/**
 * Free slots grouped by day in `timeZone`, in order, at most `SLOT_DAYS_SHOWN`
 * days, leaving out the booking's own start (moving there changes nothing).
 *
 * @example groupSlotsByDay([{ start: '2030-01-08T09:00:00.000Z' }], 'Europe/Berlin', '')
 * // [{ label: 'Tuesday 8 January', slots: [{ start: '2030-01-08T09:00:00.000Z', label: '10:00' }] }]
 */
export function groupSlotsByDay(slots: readonly { start: string }[], timeZone: string, currentStart: string): SlotDay[] {
  const dayOf = new Intl.DateTimeFormat('en-GB', { timeZone, weekday: 'long', day: 'numeric', month: 'long' });
  const timeOf = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  const days: SlotDay[] = [];
  for (const slot of slots) {
    if (slot.start === currentStart) continue;
    const when = new Date(slot.start);
    const label = dayOf.format(when).replace(',', '');
    let day = days[days.length - 1];
    if (day?.label !== label) {
      if (days.length === SLOT_DAYS_SHOWN) break;
      day = { label, slots: [] };
      days.push(day);
    }
    day.slots.push({ start: slot.start, label: timeOf.format(when) });
  }
  return days;
}

/** "24 hours", "1 hour": the window's length, from the start back to when it closes. */
function windowLength(view: ManageView): string {
  const hours = Math.round((view.start.getTime() - view.changeWindow.closesAt.getTime()) / 3_600_000);
  return `${hours} hour${hours === 1 ? '' : 's'}`;
}

function bookingSummary(view: ManageView): SafeHtml {
  return html`<dl class="facts">
  <dt>When</dt><dd>${formatWhen(view.start, view.timeZone)}</dd>
  <dt>Service</dt><dd>${view.serviceTitle}</dd>
  <dt>With</dt><dd>${view.specialistName}</dd>
  ${view.status === 'confirmed' && view.joinUrl ? html`<dt>Join</dt><dd><a href="${view.joinUrl}">Zoom link</a></dd>` : ''}
</dl>`;
}

function cancelledCard(view: ManageView): SafeHtml {
  const by = view.cancelledBy === 'specialist' ? view.specialistName : 'you';
  return html`<section class="card" aria-labelledby="cancelled-title">
  <h2 id="cancelled-title">This booking is cancelled</h2>
  <p>It was cancelled by ${by}.${view.cancelReason ? html` Reason: “${view.cancelReason}”` : ''}</p>
</section>`;
}

/** A held request (issue #17): what it waits for, until when, and the button that withdraws it (a POST: a GET never changes state). */
function heldCard(view: ManageView, csrf: SafeHtml): SafeHtml {
  const until = view.holdExpiresAt ? html` until ${formatDayAndTime(view.holdExpiresAt, view.timeZone)} (${view.timeZone})` : '';
  return html`<section class="card" id="held" aria-labelledby="held-title">
  <h2 id="held-title">Your request is held</h2>
  <p>Waiting for confirmation: we're holding ${formatDayAndTime(view.start, view.timeZone)} for you${until}. You'll get an email as soon as it's confirmed.</p>
  <p class="muted">${view.specialistName}'s video link needs to be reconnected before the booking can be confirmed; ${view.specialistName} has been told. If it is not confirmed in time, the time is released and we'll email you.</p>
  ${
    view.canWithdraw
      ? html`<form method="post" action="/bookings/${view.bookingId}/manage/withdraw">${csrf}
    <div class="actions"><button class="button danger" type="submit">Withdraw request</button></div>
    <p class="hint">Changed your mind? Withdrawing releases the time at once.</p>
  </form>`
      : ''
  }
</section>`;
}

/** A request that ended unconfirmed (expired, withdrawn): why, and where to pick another time. */
function endedRequestCard(view: ManageView, title: string): SafeHtml {
  return html`<section class="card" id="request-ended" aria-labelledby="request-ended-title">
  <h2 id="request-ended-title">${title}</h2>
  <p>The time is released. <a href="/book/${view.specialistSlug}">Pick another time with ${view.specialistName}</a>.</p>
</section>`;
}

/** The card that says where a booking that is not confirmed stands; nothing for a confirmed one. */
function statusCard(view: ManageView, csrf: SafeHtml): SafeHtml | '' {
  switch (view.status) {
    case 'held':
      return heldCard(view, csrf);
    case 'expired':
      return endedRequestCard(view, 'This request expired before it could be confirmed');
    case 'withdrawn':
      return endedRequestCard(view, 'You withdrew this request');
    case 'cancelled':
      return cancelledCard(view);
    default:
      return '';
  }
}

function windowClosedCard(view: ManageView): SafeHtml {
  return html`<section class="card" id="window-closed" aria-labelledby="window-title">
  <h2 id="window-title">Changes are closed online</h2>
  <p>${view.specialistName} takes cancellations and changes online until ${windowLength(view)} before the start
  (${formatWhen(view.changeWindow.closesAt, view.timeZone)}). To cancel or move it now, write to
  <a href="mailto:${view.specialistEmail}">${view.specialistName}</a> (${view.specialistEmail}).</p>
</section>`;
}

function rescheduleCard(view: ManageView, csrf: SafeHtml, days: SlotDay[]): SafeHtml {
  return html`<section class="card" id="reschedule" aria-labelledby="reschedule-title">
  <h2 id="reschedule-title">Move to another time</h2>
  ${
    days.length === 0
      ? html`<p class="muted">No other free times in the next ${DEFAULT_RANGE_DAYS} days. Write to <a href="mailto:${view.specialistEmail}">${view.specialistName}</a>.</p>`
      : html`<form method="post" action="/bookings/${view.bookingId}/manage/reschedule">${csrf}
    <label for="new-time">New time</label>
    <select id="new-time" name="start" required aria-describedby="new-time-hint">
      <option value="">Pick a time</option>
      ${days.map((day) => html`<optgroup label="${day.label}">${day.slots.map((slot) => html`<option value="${slot.start}">${day.label}, ${slot.label}</option>`)}</optgroup>`)}
    </select>
    <p class="hint" id="new-time-hint">Free times of the next days, in ${view.timeZone}.</p>
    <div class="actions"><button class="button" type="submit">Move my booking</button></div>
  </form>`
  }
</section>`;
}

function cancelCard(view: ManageView, csrf: SafeHtml): SafeHtml {
  return html`<section class="card" id="cancel" aria-labelledby="cancel-title">
  <h2 id="cancel-title">Cancel the booking</h2>
  <form method="post" action="/bookings/${view.bookingId}/manage/cancel">${csrf}
    <label for="reason">Reason (optional, sent to ${view.specialistName})</label>
    <textarea id="reason" name="reason" rows="2" maxlength="${String(LIMITS.changeReasonMaxLength)}"></textarea>
    <div class="actions"><button class="button danger" type="submit">Cancel booking</button></div>
  </form>
</section>`;
}

/**
 * The customer's manage page (issue #16): the booking in their zone, and,
 * while changes are open, a reschedule form (free times by day) and a cancel
 * form. Inside the cancellation window it says so, with the specialist's
 * contact, and shows no buttons. A held request (issue #17) shows until when
 * its time is held and a withdraw form; an expired or withdrawn one links to
 * the specialist's booking page. Every form carries the manage token and the
 * browser's double-submit CSRF token.
 */
export function managePage(options: { view: ManageView; csrfToken: string; days: SlotDay[]; flash?: Flash | undefined }): string {
  const { view } = options;
  const csrf = html`<input type="hidden" name="_csrf" value="${options.csrfToken}"><input type="hidden" name="token" value="${view.token}">`;
  const isConfirmed = view.status === 'confirmed';
  return layout({
    title: 'Your booking',
    flash: options.flash,
    body: html`<h1>Your booking with ${view.specialistName}</h1>
<section class="card" aria-labelledby="booking-title">
  <h2 id="booking-title">${view.serviceTitle}</h2>
  ${bookingSummary(view)}
  ${isConfirmed && view.changeWindow.isLiftedByOffer ? html`<p class="hint">${view.specialistName} offered you a new time: you can move or cancel it now.</p>` : ''}
</section>
${statusCard(view, csrf)}
${isConfirmed && !view.canCancel && !view.canReschedule ? windowClosedCard(view) : ''}
${isConfirmed && view.canReschedule ? rescheduleCard(view, csrf, options.days) : ''}
${isConfirmed && view.canCancel ? cancelCard(view, csrf) : ''}`,
  });
}

/** A manage link that does not belong to any booking (forged, mistyped, cut short by a mail client). */
export function invalidManageLinkPage(): string {
  return layout({
    title: 'Link not valid',
    body: html`<h1>This link is not valid</h1>
<section class="card"><p>We could not find a booking for this link. Open the link from your latest confirmation email, whole; if it still fails, reply to that email.</p></section>`,
  });
}

/** A manage link of a session that has started: it worked until then. */
export function endedManageLinkPage(): string {
  return layout({
    title: 'Link ended',
    body: html`<h1>This link has ended</h1>
<section class="card"><p>The session has started, so the booking can no longer be changed here. To reach the specialist, reply to your confirmation email.</p></section>`,
  });
}
