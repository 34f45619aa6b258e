import { googleCalendarUrl, outlookCalendarUrl } from '../../sdk/calendar-links.js';
import { escapeHtml } from '../text/html.js';
import type { OutgoingEmail } from './outbox.js';
import { formatWhen } from './format.js';
import { BRAND, button, frame, oneLine, withoutHostileText } from './layout.js';
import { expiredRequestsLine, formatDayAndTime, waitingCustomersDetail, waitingCustomersLine, type HeldRequestsNotice } from './held-templates.js';

/** What brought the re-auth email about: a customer's booking attempt, Zoom changes that wait (issue #16), or the health check (issue #17). */
export type ReauthEmailTrigger =
  | { trigger: 'booking_attempt'; service: { title: string }; customer: { name: string }; start: Date; attemptedAt: Date; holdExpiresAt?: Date | undefined }
  | { trigger: 'changes_waiting' }
  | { trigger: 'held_requests' }
  | { trigger: 'health_check'; reminder: number; failedBookingAttempts: number };

export type ReauthEmailInput = ReauthEmailTrigger & {
  specialist: { name: string; email: string; timeZone: string };
  /** Booking attempts that failed since the last such email: this one included when a booking attempt sends it. */
  failedAttempts: number;
  /** Cancellations and reschedules whose Zoom change waits for the connection (issue #16); named when there are some. */
  pendingZoomChanges: number;
  /** Held requests (issue #17): how many wait and the earliest deadline (the email leads with them), and which expired since the last email. */
  heldRequests: HeldRequestsNotice;
  /** When the email is written: "by 14:00" means today's 14:00. */
  now: Date;
  reauthorizeUrl: string;
  settingsUrl: string;
  linkValidHours: number;
};

/** How many changes wait, in words: "1 change … waits" or "3 changes … wait". */
function pendingChangesSentence(count: number): string {
  return `${count === 1 ? '1 change' : `${count} changes`} to booked sessions (cancelled or moved) ${count === 1 ? 'waits' : 'wait'} to reach Zoom. Your customers have been told; Zoom is updated as soon as you re-authorize.`;
}

/**
 * The email that asks a specialist to re-authorize Zoom, with a one-click
 * link. A booking attempt leads with the customer who could not book (subject
 * ends with the service); waiting changes lead with how many (subject ends
 * "changes waiting"), since no customer is involved; the health check
 * (issue #17) says a routine check found it, and whether any customer has
 * been turned away yet (subject ends "found by a routine check"; a reminder's
 * starts "Reminder").
 */
export function reauthRequiredEmail(input: ReauthEmailInput): OutgoingEmail {
  const specialist = { ...input.specialist, name: oneLine(input.specialist.name) };
  // A booking attempt counts itself: only earlier ones are news. Waiting changes count none.
  const newsFrom = input.trigger === 'booking_attempt' ? 2 : 1;
  // With held requests, an attempt did not fail: its customer waits (issue #17).
  const more =
    input.failedAttempts < newsFrom
      ? undefined
      : input.heldRequests.waiting > 0
        ? `${input.failedAttempts === 1 ? '1 customer has' : `${input.failedAttempts} customers have`} tried to book since our last email about this.`
        : `${input.failedAttempts === 1 ? '1 booking attempt has' : `${input.failedAttempts} booking attempts have`} failed since our last email about this.`;
  const pending = input.pendingZoomChanges > 0 ? pendingChangesSentence(input.pendingZoomChanges) : undefined;
  const waiting = waitingCustomersLine(input.heldRequests, specialist.timeZone, input.now);
  const held = [waitingCustomersDetail(input.heldRequests, specialist.timeZone), expiredRequestsLine(input.heldRequests, specialist.timeZone)].filter((line): line is string => line !== undefined);
  let subject: string;
  let lead: { text: string; html: string };
  let notes: string[];
  if (input.trigger === 'booking_attempt') {
    const service = { title: oneLine(input.service.title) };
    const customer = { name: oneLine(input.customer.name) };
    subject = `⚠️ Action Required: Re-authorize Your Zoom Account - ${service.title}`;
    const slot = formatWhen(input.start, specialist.timeZone);
    const attempted = formatWhen(input.attemptedAt, specialist.timeZone);
    const outcome = input.holdExpiresAt
      ? `could not be confirmed yet: your Zoom connection needs to be re-authorized. We're holding the time for them until ${formatDayAndTime(input.holdExpiresAt, specialist.timeZone)}.`
      : 'could not be completed: your Zoom connection needs to be re-authorized.';
    lead = {
      text: `${customer.name} tried to book "${service.title}" for ${slot}, on ${attempted}, but the booking ${outcome}`,
      html: `<strong>${escapeHtml(customer.name)}</strong> tried to book <strong>${escapeHtml(service.title)}</strong> for ${escapeHtml(slot)}, on ${escapeHtml(attempted)}, but the booking ${escapeHtml(outcome)}`,
    };
    notes = [...held, ...(more ? [more] : []), ...(pending ? [pending] : [])];
  } else if (input.trigger === 'health_check') {
    subject = `⚠️ ${input.reminder > 0 ? 'Reminder' : 'Action Required'}: Re-authorize Your Zoom Account - found by a routine check`;
    const turnedAway =
      input.failedBookingAttempts === 0
        ? 'no customer has been turned away yet. Re-authorize now and nobody will be.'
        : `since then, ${input.failedBookingAttempts === 1 ? '1 booking attempt has' : `${input.failedBookingAttempts} booking attempts have`} failed.`;
    const sentence = `Your Zoom connection needs to be re-authorized. This was found by a routine check; ${turnedAway}`;
    lead = { text: sentence, html: escapeHtml(sentence) };
    notes = [...held, ...(pending ? [pending] : [])];
  } else if (input.trigger === 'held_requests') {
    subject = '⚠️ Action Required: Re-authorize Your Zoom Account - customers waiting';
    const sentence = 'Your Zoom connection needs to be re-authorized again: it stopped working while waiting booking requests were being confirmed.';
    lead = { text: sentence, html: escapeHtml(sentence) };
    notes = [...held, ...(pending ? [pending] : [])];
  } else {
    subject = '⚠️ Action Required: Re-authorize Your Zoom Account - changes waiting';
    const sentence = `Your Zoom connection needs to be re-authorized. ${pending ?? 'Changes to booked sessions (cancelled or moved) wait to reach Zoom.'}`;
    lead = { text: sentence, html: escapeHtml(sentence) };
    notes = [...held, ...(more ? [more] : [])];
  }
  const why =
    input.trigger !== 'changes_waiting'
      ? 'every session booked through your booking page gets its own Zoom meeting. Until Zoom is reconnected, customers cannot book you.'
      : 'until Zoom is reconnected, the meetings of cancelled sessions stay in your Zoom account, moved ones keep their old time, and customers cannot book you.';
  const done =
    input.heldRequests.waiting > 0
      ? 'Done: the waiting customers are confirmed, and customers can book again.'
      : input.trigger !== 'changes_waiting'
        ? 'Done: customers can book again.'
        : 'Done: Zoom is updated and customers can book again.';
  const closing = input.trigger === 'booking_attempt' ? ['We let the customer know you have been notified.'] : [];
  const text = [
    `Hi ${specialist.name},`,
    '',
    ...(waiting ? [waiting, ''] : []),
    lead.text,
    ...notes.flatMap((note) => ['', note]),
    '',
    `Why this matters: ${why}`,
    '',
    'It takes under a minute:',
    '1. Open the link below: it takes you to Zoom.',
    '2. On Zoom’s page, click "Allow".',
    `3. ${done}`,
    '',
    `Re-authorize Zoom: ${input.reauthorizeUrl}`,
    `(This link restores the Zoom account connected before. It works once and expires in ${input.linkValidHours} hours.)`,
    '',
    `Or open your Zoom settings: ${input.settingsUrl}`,
    ...closing.flatMap((line) => ['', line]),
  ].join('\n');
  const html = frame(
    subject,
    `<h1 style="font-size:22px;margin:0 0 16px">Your Zoom connection needs attention</h1>
<p style="margin:0 0 12px">Hi ${escapeHtml(specialist.name)},</p>
${waiting ? `<p style="margin:0 0 12px;padding:12px 14px;background:#fee2e2;border-radius:8px;font-size:17px"><strong>${escapeHtml(waiting)}</strong></p>` : ''}
<p style="margin:0 0 12px">${lead.html}</p>
${notes.map((note) => `<p style="margin:0 0 12px;padding:10px 14px;background:#fef3c7;border-radius:8px">${escapeHtml(note)}</p>`).join('\n')}
<p style="margin:0 0 12px"><strong>Why this matters:</strong> ${escapeHtml(why)}</p>
<p style="margin:0 0 4px">It takes under a minute:</p>
<ol style="margin:0 0 8px;padding-left:22px"><li>Click the button below: it takes you to Zoom.</li><li>On Zoom’s page, click <strong>Allow</strong>.</li><li>${escapeHtml(done)}</li></ol>
${button(input.reauthorizeUrl, 'Re-authorize Zoom')}
<p style="margin:0 0 12px;font-size:14px;color:#4b5563">The button restores the Zoom account connected before. It works once and expires in ${input.linkValidHours} hours. You can also open your <a href="${escapeHtml(input.settingsUrl)}" style="color:${BRAND}">Zoom settings</a>.</p>
${closing.map((line) => `<p style="margin:0;font-size:14px;color:#4b5563">${escapeHtml(line)}</p>`).join('')}`,
  );
  return withoutHostileText({ kind: 'reauth_required', to: specialist.email, subject, text, html });
}

/** A booking just confirmed: what its invitations say. */
export interface BookingConfirmedEvent {
  bookingId: string;
  service: { title: string; durationMinutes: number };
  /** `id` files both invitations under the specialist (their failed mail shows on their dashboard). */
  specialist: { id: string; name: string; email: string; timeZone: string };
  customer: { name: string; email: string; timeZone: string | null; note: string | null };
  start: Date;
  end: Date;
  joinUrl: string;
  /** Host link; only in the specialist's copy. */
  startUrl: string;
}

/** A confirmed booking with its calendar file and its customer's links, for the two invitations. */
export interface InviteInput extends BookingConfirmedEvent {
  /** The `.ics` invitation (METHOD:REQUEST). */
  ics: string;
  /** The customer's manage link (`/bookings/{id}/manage?token=…`). */
  manageUrl: string;
}

function withNamesOnOneLine(input: InviteInput): InviteInput {
  return {
    ...input,
    service: { ...input.service, title: oneLine(input.service.title) },
    specialist: { ...input.specialist, name: oneLine(input.specialist.name) },
    customer: { ...input.customer, name: oneLine(input.customer.name) },
  };
}

/**
 * The customer's confirmation, in the customer's time zone: the join link,
 * the manage link, "Add to calendar" links for Google and Outlook, and the
 * invitation (an inline `text/calendar` part). Replies go to the specialist.
 * The calendar links carry the join link but not the manage link: its token
 * would otherwise sit in a third party's URL and in a shared calendar.
 */
export function customerInviteEmail(invite: InviteInput): OutgoingEmail {
  const input = withNamesOnOneLine(invite);
  const zone = input.customer.timeZone ?? input.specialist.timeZone;
  const when = formatWhen(input.start, zone);
  const subject = `Confirmed: ${input.service.title} with ${input.specialist.name}`;
  const calendarEvent = { title: `${input.service.title} with ${input.specialist.name}`, start: input.start, end: input.end, details: `Join on Zoom: ${input.joinUrl}`, location: input.joinUrl };
  const google = googleCalendarUrl(calendarEvent);
  const outlook = outlookCalendarUrl(calendarEvent);
  const text = [
    `Hi ${input.customer.name},`,
    '',
    `Your ${input.service.title} (${input.service.durationMinutes} minutes) with ${input.specialist.name} is booked for ${when}.`,
    '',
    `Join on Zoom: ${input.joinUrl}`,
    '',
    `Cancel or reschedule: ${input.manageUrl}`,
    '',
    `Add to Google Calendar: ${google}`,
    `Add to Outlook: ${outlook}`,
    '',
    'The attached invite.ics adds it to any other calendar. Reply to this email to reach the specialist.',
  ].join('\n');
  const html = frame(
    subject,
    `<h1 style="font-size:22px;margin:0 0 16px">You’re booked</h1>
<p style="margin:0 0 12px">Hi ${escapeHtml(input.customer.name)},</p>
<p style="margin:0 0 12px">Your <strong>${escapeHtml(input.service.title)}</strong> (${input.service.durationMinutes} minutes) with <strong>${escapeHtml(input.specialist.name)}</strong> is booked for <strong>${escapeHtml(when)}</strong>.</p>
${button(input.joinUrl, 'Join on Zoom')}
<p style="margin:0 0 12px;font-size:14px;color:#4b5563">Zoom link: <a href="${escapeHtml(input.joinUrl)}" style="color:${BRAND}">${escapeHtml(input.joinUrl)}</a></p>
<p style="margin:0 0 12px">Add to calendar: <a href="${escapeHtml(google)}" style="color:${BRAND}">Google Calendar</a> · <a href="${escapeHtml(outlook)}" style="color:${BRAND}">Outlook</a></p>
<p style="margin:0 0 12px">Can’t make it? <a href="${escapeHtml(input.manageUrl)}" style="color:${BRAND}">Cancel or reschedule</a></p>
<p style="margin:0;font-size:14px;color:#4b5563">The attached invite.ics adds it to any other calendar. Reply to this email to reach the specialist.</p>`,
  );
  return withoutHostileText({
    kind: 'booking_confirmed_customer',
    to: input.customer.email,
    replyTo: input.specialist.email,
    subject,
    text,
    html,
    calendar: { method: 'REQUEST', content: input.ics },
  });
}

/** The specialist's copy, in the specialist's zone, with the host start link and the invitation. */
export function specialistInviteEmail(invite: InviteInput): OutgoingEmail {
  const input = withNamesOnOneLine(invite);
  const when = formatWhen(input.start, input.specialist.timeZone);
  const subject = `New booking: ${input.service.title} with ${input.customer.name}`;
  const note = input.customer.note ? `Their note: ${input.customer.note}` : 'They left no note.';
  const text = [
    `Hi ${input.specialist.name},`,
    '',
    `${input.customer.name} (${input.customer.email}) booked ${input.service.title} (${input.service.durationMinutes} minutes) for ${when}.`,
    note,
    '',
    `Start the meeting as host: ${input.startUrl}`,
    `Join link for participants: ${input.joinUrl}`,
    '',
    'The attached invite.ics adds it to your calendar.',
  ].join('\n');
  const html = frame(
    subject,
    `<h1 style="font-size:22px;margin:0 0 16px">New booking</h1>
<p style="margin:0 0 12px"><strong>${escapeHtml(input.customer.name)}</strong> (${escapeHtml(input.customer.email)}) booked <strong>${escapeHtml(input.service.title)}</strong> (${input.service.durationMinutes} minutes) for <strong>${escapeHtml(when)}</strong>.</p>
<p style="margin:0 0 12px">${input.customer.note ? `Their note: ${escapeHtml(input.customer.note)}` : 'They left no note.'}</p>
${button(input.startUrl, 'Start the meeting as host')}
<p style="margin:0 0 12px;font-size:14px;color:#4b5563">Join link for participants: <a href="${escapeHtml(input.joinUrl)}" style="color:${BRAND}">${escapeHtml(input.joinUrl)}</a></p>
<p style="margin:0;font-size:14px;color:#4b5563">The attached invite.ics adds it to your calendar.</p>`,
  );
  return withoutHostileText({
    kind: 'booking_confirmed_specialist',
    to: input.specialist.email,
    subject,
    text,
    html,
    calendar: { method: 'REQUEST', content: input.ics },
  });
}

/** A pending booking the server could not finish in time, for the customer's email. */
export interface BookingNotGoneThroughInput {
  /** `email` is the Reply-To. */
  specialist: { name: string; email: string; timeZone: string };
  service: { title: string };
  customer: { name: string; email: string; timeZone: string | null };
  start: Date;
  /** The specialist's hosted booking page (`/book/{slug}`), to pick another time. */
  bookUrl: string;
}

/**
 * Tells a customer that a booking they asked for did not go through (its
 * meeting could not be set up before the time came too close, issue #15),
 * in their own time zone, with a link to pick another time.
 */
export function bookingNotGoneThroughEmail(input: BookingNotGoneThroughInput): OutgoingEmail {
  const specialistName = oneLine(input.specialist.name);
  const title = oneLine(input.service.title);
  const customerName = oneLine(input.customer.name);
  const when = formatWhen(input.start, input.customer.timeZone ?? input.specialist.timeZone);
  const subject = `Your booking with ${specialistName} did not go through`;
  const text = [
    `Hi ${customerName},`,
    '',
    `We could not finish your booking of ${title} with ${specialistName} for ${when}: the video meeting could not be set up in time. That time is not booked, and nothing was charged.`,
    '',
    `Pick another time: ${input.bookUrl}`,
  ].join('\n');
  const html = frame(
    subject,
    `<h1 style="font-size:22px;margin:0 0 16px">Your booking did not go through</h1>
<p style="margin:0 0 12px">Hi ${escapeHtml(customerName)},</p>
<p style="margin:0 0 12px">We could not finish your booking of <strong>${escapeHtml(title)}</strong> with <strong>${escapeHtml(specialistName)}</strong> for <strong>${escapeHtml(when)}</strong>: the video meeting could not be set up in time. That time is not booked, and nothing was charged.</p>
${button(input.bookUrl, 'Pick another time')}
<p style="margin:0;font-size:14px;color:#4b5563">Or open <a href="${escapeHtml(input.bookUrl)}" style="color:${BRAND}">${escapeHtml(input.bookUrl)}</a>.</p>`,
  );
  return withoutHostileText({ kind: 'booking_not_gone_through', to: input.customer.email, replyTo: input.specialist.email, subject, text, html });
}

/** The passwordless sign-in email. */
export function signInEmail(input: { name: string; email: string; url: string; validMinutes: number }): OutgoingEmail {
  const name = oneLine(input.name);
  const subject = 'Your sign-in link for specialist-booking';
  const text = [
    `Hi ${name},`,
    '',
    `Sign in: ${input.url}`,
    '',
    `The link works once and expires in ${input.validMinutes} minutes. If you did not ask for it, ignore this email.`,
  ].join('\n');
  const html = frame(
    subject,
    `<h1 style="font-size:22px;margin:0 0 16px">Sign in</h1>
<p style="margin:0 0 12px">Hi ${escapeHtml(name)},</p>
${button(input.url, 'Sign in')}
<p style="margin:0;font-size:14px;color:#4b5563">The button works once and expires in ${input.validMinutes} minutes. If you did not ask for it, ignore this email.</p>`,
  );
  return withoutHostileText({ kind: 'sign_in', to: input.email, subject, text, html });
}

export interface ZoomAccountChangedInput {
  specialist: { name: string; email: string };
  previous: { email: string; displayName: string };
  current: { email: string; displayName: string };
  settingsUrl: string;
}

/** Tells a specialist that the Zoom account their bookings go to has changed, so a change they did not make is noticed. */
export function zoomAccountChangedEmail(input: ZoomAccountChangedInput): OutgoingEmail {
  const subject = 'Your connected Zoom account has changed';
  // The new account's display name is chosen by whoever owns that account.
  const from = oneLine(`${input.previous.displayName} (${input.previous.email})`);
  const to = oneLine(`${input.current.displayName} (${input.current.email})`);
  const name = oneLine(input.specialist.name);
  const warning = 'If you did not make this change, sign in, use "Sign out everywhere" in Settings, and switch back to your Zoom account.';
  const text = [
    `Hi ${name},`,
    '',
    `New bookings now get their Zoom meetings on ${to}, instead of ${from}.`,
    '',
    warning,
    '',
    `Your Zoom settings: ${input.settingsUrl}`,
  ].join('\n');
  const html = frame(
    subject,
    `<h1 style="font-size:22px;margin:0 0 16px">Your Zoom account has changed</h1>
<p style="margin:0 0 12px">Hi ${escapeHtml(name)},</p>
<p style="margin:0 0 12px">New bookings now get their Zoom meetings on <strong>${escapeHtml(to)}</strong>, instead of ${escapeHtml(from)}.</p>
<p style="margin:0 0 12px;padding:10px 14px;background:#fef3c7;border-radius:8px">${escapeHtml(warning)}</p>
${button(input.settingsUrl, 'Open Zoom settings')}`,
  );
  return withoutHostileText({ kind: 'zoom_account_changed', to: input.specialist.email, subject, text, html });
}
