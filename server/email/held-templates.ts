/**
 * The emails of held requests (issue #17): the customer's "we're holding
 * your time", the customer's "it could not be confirmed", and the lines the
 * specialist's re-auth email gains (how many customers wait, by when to act,
 * and which requests expired since the last email).
 */
import { escapeHtml } from '../text/html.js';
import type { OutgoingEmail } from './outbox.js';
import { formatWhen } from './format.js';
import { BRAND, button, frame, oneLine, withoutHostileText } from './layout.js';

/** A held request, for the customer's emails. */
export interface HeldRequestEmailInput {
  /** `email` is the Reply-To. */
  specialist: { name: string; email: string; timeZone: string };
  service: { title: string };
  customer: { name: string; email: string; timeZone: string | null };
  start: Date;
  holdExpiresAt: Date;
}

/** "Tuesday 8 January at 10:00": a day and a time in `timeZone`, without the year or the zone. */
export function formatDayAndTime(date: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone, weekday: 'long', day: 'numeric', month: 'long', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(date);
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return `${part('weekday')} ${part('day')} ${part('month')} at ${part('hour')}:${part('minute')}`;
}

/**
 * Tells the customer their request is held until the specialist
 * re-authorizes Zoom (the widget's modal says the same), with the link to
 * withdraw it: the manage link, which goes on working once it is confirmed.
 */
export function heldRequestEmail(input: HeldRequestEmailInput & { manageUrl: string }): OutgoingEmail {
  const specialistName = oneLine(input.specialist.name);
  const title = oneLine(input.service.title);
  const customerName = oneLine(input.customer.name);
  const zone = input.customer.timeZone ?? input.specialist.timeZone;
  const slot = formatDayAndTime(input.start, zone);
  const until = formatDayAndTime(input.holdExpiresAt, zone);
  const subject = `We're holding ${title} with ${specialistName} for you`;
  const holding = `We're holding ${slot} for you until ${until} (${zone}). You'll get an email as soon as it's confirmed; there is nothing else to do.`;
  const why = `${specialistName}'s video link needs to be reconnected before the booking can be confirmed, and ${specialistName} has been notified by email.`;
  const ifNot = `If it cannot be confirmed by then, the time is released and we'll email you a link to pick another one. Nothing has been charged.`;
  const text = [
    `Hi ${customerName},`,
    '',
    `Thank you for booking ${title} with ${specialistName}.`,
    '',
    holding,
    '',
    why,
    '',
    ifNot,
    '',
    `Changed your mind? Withdraw the request: ${input.manageUrl}`,
  ].join('\n');
  const html = frame(
    subject,
    `<h1 style="font-size:22px;margin:0 0 16px">Your time is held for you</h1>
<p style="margin:0 0 12px">Hi ${escapeHtml(customerName)},</p>
<p style="margin:0 0 12px">Thank you for booking <strong>${escapeHtml(title)}</strong> with <strong>${escapeHtml(specialistName)}</strong>.</p>
<p style="margin:0 0 12px;padding:10px 14px;background:#eef2ff;border-radius:8px">${escapeHtml(holding)}</p>
<p style="margin:0 0 12px">${escapeHtml(why)}</p>
<p style="margin:0 0 12px">${escapeHtml(ifNot)}</p>
<p style="margin:0;font-size:14px;color:#4b5563">Changed your mind? <a href="${escapeHtml(input.manageUrl)}" style="color:${BRAND}">Withdraw the request</a>.</p>`,
  );
  return withoutHostileText({ kind: 'booking_held_customer', to: input.customer.email, replyTo: input.specialist.email, subject, text, html });
}

/** Tells the customer the held request expired unconfirmed, with a link to pick another time. */
export function holdExpiredEmail(input: HeldRequestEmailInput & { bookUrl: string }): OutgoingEmail {
  const specialistName = oneLine(input.specialist.name);
  const title = oneLine(input.service.title);
  const customerName = oneLine(input.customer.name);
  const when = formatWhen(input.start, input.customer.timeZone ?? input.specialist.timeZone);
  const subject = `Your request for ${title} with ${specialistName} could not be confirmed`;
  const sentence = `We held ${when} for you, but ${specialistName}'s video link was not reconnected in time, so the booking could not be confirmed. That time is released, and nothing was charged.`;
  const text = [`Hi ${customerName},`, '', sentence, '', `Pick another time: ${input.bookUrl}`].join('\n');
  const html = frame(
    subject,
    `<h1 style="font-size:22px;margin:0 0 16px">Your request could not be confirmed</h1>
<p style="margin:0 0 12px">Hi ${escapeHtml(customerName)},</p>
<p style="margin:0 0 12px">${escapeHtml(sentence)}</p>
${button(input.bookUrl, 'Pick another time')}
<p style="margin:0;font-size:14px;color:#4b5563">Or open <a href="${escapeHtml(input.bookUrl)}" style="color:${BRAND}">${escapeHtml(input.bookUrl)}</a>.</p>`,
  );
  return withoutHostileText({ kind: 'booking_hold_expired_customer', to: input.customer.email, replyTo: input.specialist.email, subject, text, html });
}

/** What the re-auth email says of held requests: how many wait and the earliest deadline; which expired since the last email. */
export interface HeldRequestsNotice {
  waiting: number;
  earliestDeadline: Date | undefined;
  /** The first few that expired since the last email, and how many did in all. */
  expired: { customerName: string; serviceTitle: string; start: Date }[];
  expiredCount: number;
}

/**
 * "Re-authorize by 14:00 to confirm 3 waiting customers." The deadline is in
 * the specialist's zone: a time alone today, "tomorrow" the next day, the
 * day and date after that. Undefined when nobody waits.
 */
export function waitingCustomersLine(notice: HeldRequestsNotice, timeZone: string, now: Date): string | undefined {
  if (notice.waiting === 0 || !notice.earliestDeadline) return undefined;
  const deadline = notice.earliestDeadline;
  const dayOf = (date: Date) => new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(date);
  const time = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(deadline);
  const days = Math.round((Date.parse(dayOf(deadline)) - Date.parse(dayOf(now))) / 86_400_000);
  const by = days <= 0 ? time : days === 1 ? `${time} tomorrow` : formatDayAndTime(deadline, timeZone).replace(' at ', ', ');
  const customers = notice.waiting === 1 ? '1 waiting customer' : `${notice.waiting} waiting customers`;
  return `Re-authorize by ${by} to confirm ${customers}.`;
}

/** The sentence under it: what happens to the waiting customers, and the zone of the deadline. */
export function waitingCustomersDetail(notice: HeldRequestsNotice, timeZone: string): string | undefined {
  if (notice.waiting === 0) return undefined;
  const they = notice.waiting === 1 ? 'Their request is' : 'Their requests are';
  return `${they} held and confirmed by themselves, with both invitations, the moment you re-authorize. Requests not confirmed by their deadline expire, and the customers are told (times in ${timeZone}).`;
}

/** "2 requests expired before Zoom was reconnected: Ada (Intro call, Tuesday 8 January at 10:00), …" */
export function expiredRequestsLine(notice: HeldRequestsNotice, timeZone: string): string | undefined {
  if (notice.expiredCount === 0) return undefined;
  const named = notice.expired.map((r) => `${oneLine(r.customerName)} (${oneLine(r.serviceTitle)}, ${formatDayAndTime(r.start, timeZone)})`).join('; ');
  const others = notice.expiredCount - notice.expired.length;
  const list = others > 0 ? `${named}; and ${others} more` : named;
  const count = notice.expiredCount === 1 ? '1 request' : `${notice.expiredCount} requests`;
  return `${count} expired since our last email, before Zoom was reconnected: ${list}. Those customers were told and invited to pick another time.`;
}
