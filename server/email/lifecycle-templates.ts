/**
 * The emails of a booking's life after confirmation (issue #16): its
 * cancellation and its reschedule, to both parties each in their own time
 * zone, and a reschedule offer to the customer. Customer emails have the
 * specialist as Reply-To. Names and titles are put on one line, customer
 * text is escaped in HTML, and control characters leave every part.
 */
import type { BookingCancelledEvent, BookingParties, BookingRescheduledEvent, RescheduleOfferedEvent } from '../bookings/lifecycle-events.js';
import { escapeHtml } from '../text/html.js';
import { formatWhen } from './format.js';
import { BRAND, button, frame, oneLine, withoutHostileText } from './layout.js';
import type { OutgoingEmail } from './outbox.js';

/** A cancellation, with its `.ics` (METHOD:CANCEL) and the specialist's booking page to book again. */
export interface CancellationEmailInput extends BookingCancelledEvent {
  ics: string;
  /** The specialist's hosted booking page (`/book/{slug}`). */
  bookUrl: string;
}

/** A reschedule, with its updated `.ics` (METHOD:REQUEST, higher SEQUENCE) and the customer's manage link. */
export interface RescheduleEmailInput extends BookingRescheduledEvent {
  ics: string;
  manageUrl: string;
}

/** A reschedule offer, with the customer's manage link. */
export interface RescheduleOfferEmailInput extends RescheduleOfferedEvent {
  manageUrl: string;
}

/** The parties' names and the service's title on one line: a line break in them could forge a line of the email. */
function namesOnOneLine<T extends BookingParties>(input: T): T {
  return {
    ...input,
    service: { ...input.service, title: oneLine(input.service.title) },
    specialist: { ...input.specialist, name: oneLine(input.specialist.name) },
    customer: { ...input.customer, name: oneLine(input.customer.name) },
  };
}

const customerZone = (input: BookingParties) => input.customer.timeZone ?? input.specialist.timeZone;

const paragraph = (inner: string) => `<p style="margin:0 0 12px">${inner}</p>`;
const small = (inner: string) => `<p style="margin:0;font-size:14px;color:#4b5563">${inner}</p>`;
/** Someone's own words, escaped, keeping their line breaks. */
const quoted = (label: string, words: string) =>
  `<p style="margin:0 0 12px;padding:10px 14px;background:#f3f4f6;border-radius:8px;white-space:pre-line">${escapeHtml(label)}: ${escapeHtml(words)}</p>`;
const link = (href: string, label: string) => `<a href="${escapeHtml(href)}" style="color:${BRAND}">${escapeHtml(label)}</a>`;

/**
 * The customer's cancellation notice, in their zone: who cancelled, the
 * reason or the specialist's message, and where to book again; the
 * METHOD:CANCEL invitation removes the event from their calendar.
 */
export function customerCancellationEmail(event: CancellationEmailInput): OutgoingEmail {
  const input = namesOnOneLine(event);
  const when = formatWhen(input.start, customerZone(input));
  const subject = `Cancelled: ${input.service.title} with ${input.specialist.name}`;
  const byYou = input.cancelledBy === 'customer';
  const who = byYou ? 'You cancelled it.' : `${input.specialist.name} cancelled it.`;
  const words = input.reason ? (byYou ? `Your reason: ${input.reason}` : `Their message: ${input.reason}`) : undefined;
  const text = [
    `Hi ${input.customer.name},`,
    '',
    `Your ${input.service.title} with ${input.specialist.name} on ${when} is cancelled. ${who}`,
    ...(words ? ['', words] : []),
    '',
    `Book another time: ${input.bookUrl}`,
  ].join('\n');
  const html = frame(
    subject,
    `<h1 style="font-size:22px;margin:0 0 16px">Your booking is cancelled</h1>
${paragraph(`Hi ${escapeHtml(input.customer.name)},`)}
${paragraph(`Your <strong>${escapeHtml(input.service.title)}</strong> with <strong>${escapeHtml(input.specialist.name)}</strong> on <strong>${escapeHtml(when)}</strong> is cancelled. ${escapeHtml(who)}`)}
${input.reason ? quoted(byYou ? 'Your reason' : 'Their message', input.reason) : ''}
${button(input.bookUrl, 'Book another time')}
${small(`Or open ${link(input.bookUrl, input.bookUrl)}. Reply to this email to reach ${escapeHtml(input.specialist.name)}.`)}`,
  );
  return withoutHostileText({
    kind: 'booking_cancelled_customer',
    to: input.customer.email,
    replyTo: input.specialist.email,
    subject,
    text,
    html,
    calendar: { method: 'CANCEL', content: input.ics },
  });
}

/** The specialist's cancellation notice, in their zone: who cancelled and why; the time is free again. */
export function specialistCancellationEmail(event: CancellationEmailInput): OutgoingEmail {
  const input = namesOnOneLine(event);
  const when = formatWhen(input.start, input.specialist.timeZone);
  const subject = `Cancelled: ${input.service.title} with ${input.customer.name}`;
  const byCustomer = input.cancelledBy === 'customer';
  const who = byCustomer ? `${input.customer.name} (${input.customer.email}) cancelled it.` : 'You cancelled it.';
  const words = input.reason ? (byCustomer ? `Their reason: ${input.reason}` : `Your message: ${input.reason}`) : undefined;
  const text = [
    `Hi ${input.specialist.name},`,
    '',
    `${input.service.title} with ${input.customer.name} on ${when} is cancelled. ${who}`,
    ...(words ? ['', words] : []),
    '',
    'The time is free for other bookings again, and its Zoom meeting will be deleted.',
  ].join('\n');
  const html = frame(
    subject,
    `<h1 style="font-size:22px;margin:0 0 16px">Booking cancelled</h1>
${paragraph(`Hi ${escapeHtml(input.specialist.name)},`)}
${paragraph(`<strong>${escapeHtml(input.service.title)}</strong> with <strong>${escapeHtml(input.customer.name)}</strong> on <strong>${escapeHtml(when)}</strong> is cancelled. ${escapeHtml(who)}`)}
${input.reason ? quoted(byCustomer ? 'Their reason' : 'Your message', input.reason) : ''}
${small('The time is free for other bookings again, and its Zoom meeting will be deleted.')}`,
  );
  return withoutHostileText({
    kind: 'booking_cancelled_specialist',
    to: input.specialist.email,
    subject,
    text,
    html,
    calendar: { method: 'CANCEL', content: input.ics },
  });
}

/**
 * The customer's reschedule notice, in their zone: the old and the new time,
 * the same join link, the manage link; the updated invitation moves the
 * event in their calendar.
 */
export function customerRescheduleEmail(event: RescheduleEmailInput): OutgoingEmail {
  const input = namesOnOneLine(event);
  const zone = customerZone(input);
  const before = formatWhen(input.previousStart, zone);
  const after = formatWhen(input.start, zone);
  const subject = `Rescheduled: ${input.service.title} with ${input.specialist.name}`;
  const who = input.rescheduledBy === 'customer' ? 'You moved it.' : `${input.specialist.name} moved it.`;
  const text = [
    `Hi ${input.customer.name},`,
    '',
    `Your ${input.service.title} with ${input.specialist.name} is now on ${after} (it was on ${before}). ${who}`,
    '',
    `Join on Zoom (the same link as before): ${input.joinUrl}`,
    '',
    `Cancel or reschedule: ${input.manageUrl}`,
    '',
    'The attached invite.ics updates the event in your calendar. Reply to this email to reach the specialist.',
  ].join('\n');
  const html = frame(
    subject,
    `<h1 style="font-size:22px;margin:0 0 16px">Your booking has moved</h1>
${paragraph(`Hi ${escapeHtml(input.customer.name)},`)}
${paragraph(`Your <strong>${escapeHtml(input.service.title)}</strong> with <strong>${escapeHtml(input.specialist.name)}</strong> is now on <strong>${escapeHtml(after)}</strong> (it was on <s>${escapeHtml(before)}</s>). ${escapeHtml(who)}`)}
${button(input.joinUrl, 'Join on Zoom')}
${paragraph(`The Zoom link stays the same: ${link(input.joinUrl, input.joinUrl)}`)}
${paragraph(`Can’t make it? ${link(input.manageUrl, 'Cancel or reschedule')}`)}
${small('The attached invite.ics updates the event in your calendar. Reply to this email to reach the specialist.')}`,
  );
  return withoutHostileText({
    kind: 'booking_rescheduled_customer',
    to: input.customer.email,
    replyTo: input.specialist.email,
    subject,
    text,
    html,
    calendar: { method: 'REQUEST', content: input.ics },
  });
}

/** The specialist's reschedule notice, in their zone: the old and the new time and the same join link. */
export function specialistRescheduleEmail(event: RescheduleEmailInput): OutgoingEmail {
  const input = namesOnOneLine(event);
  const zone = input.specialist.timeZone;
  const before = formatWhen(input.previousStart, zone);
  const after = formatWhen(input.start, zone);
  const subject = `Rescheduled: ${input.service.title} with ${input.customer.name}`;
  const who = input.rescheduledBy === 'customer' ? `${input.customer.name} (${input.customer.email}) moved it.` : 'You moved it.';
  const text = [
    `Hi ${input.specialist.name},`,
    '',
    `${input.service.title} with ${input.customer.name} is now on ${after} (it was on ${before}). ${who}`,
    '',
    `The Zoom meeting moved with it; its join link stays the same: ${input.joinUrl}`,
    '',
    'The attached invite.ics updates the event in your calendar.',
  ].join('\n');
  const html = frame(
    subject,
    `<h1 style="font-size:22px;margin:0 0 16px">Booking rescheduled</h1>
${paragraph(`Hi ${escapeHtml(input.specialist.name)},`)}
${paragraph(`<strong>${escapeHtml(input.service.title)}</strong> with <strong>${escapeHtml(input.customer.name)}</strong> is now on <strong>${escapeHtml(after)}</strong> (it was on <s>${escapeHtml(before)}</s>). ${escapeHtml(who)}`)}
${paragraph(`The Zoom meeting moved with it; its join link stays the same: ${link(input.joinUrl, input.joinUrl)}`)}
${small('The attached invite.ics updates the event in your calendar.')}`,
  );
  return withoutHostileText({
    kind: 'booking_rescheduled_specialist',
    to: input.specialist.email,
    subject,
    text,
    html,
    calendar: { method: 'REQUEST', content: input.ics },
  });
}

/**
 * The specialist's offer to the customer, in the customer's zone: their
 * message, the manage link, and that the cancellation window no longer
 * applies to this booking.
 */
export function rescheduleOfferEmail(event: RescheduleOfferEmailInput): OutgoingEmail {
  const input = namesOnOneLine(event);
  const when = formatWhen(input.start, customerZone(input));
  const subject = `${input.specialist.name} invites you to pick a new time for ${input.service.title}`;
  const lifted = 'The usual cancellation window does not apply: you can reschedule or cancel this booking until it starts.';
  const text = [
    `Hi ${input.customer.name},`,
    '',
    `${input.specialist.name} asks you to choose another time for your ${input.service.title}, now booked for ${when}.`,
    ...(input.message ? ['', `Their message: ${input.message}`] : []),
    '',
    lifted,
    '',
    `Choose a new time: ${input.manageUrl}`,
    '',
    'Reply to this email to reach the specialist.',
  ].join('\n');
  const html = frame(
    subject,
    `<h1 style="font-size:22px;margin:0 0 16px">Pick a new time</h1>
${paragraph(`Hi ${escapeHtml(input.customer.name)},`)}
${paragraph(`<strong>${escapeHtml(input.specialist.name)}</strong> asks you to choose another time for your <strong>${escapeHtml(input.service.title)}</strong>, now booked for <strong>${escapeHtml(when)}</strong>.`)}
${input.message ? quoted('Their message', input.message) : ''}
${paragraph(escapeHtml(lifted))}
${button(input.manageUrl, 'Choose a new time')}
${small('Reply to this email to reach the specialist.')}`,
  );
  return withoutHostileText({ kind: 'reschedule_offered', to: input.customer.email, replyTo: input.specialist.email, subject, text, html });
}
