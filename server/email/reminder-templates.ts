import { escapeHtml } from '../text/html.js';
import { formatWhen } from './format.js';
import type { OutgoingEmail } from './outbox.js';
import { BRAND, button, frame, oneLine, withoutHostileText } from './templates.js';

/** A confirmed booking about to start, for its two reminders (issue #16, "Reminders"). */
export interface ReminderInput {
  service: { title: string; durationMinutes: number };
  specialist: { name: string; email: string; timeZone: string };
  customer: { name: string; email: string; timeZone: string | null; note: string | null };
  start: Date;
  joinUrl: string;
  /** The customer's manage link (cancel or reschedule); only in the customer's reminder. */
  manageUrl: string;
  /** The host's start link; only in the specialist's reminder, and only when the booking has one. */
  startUrl: string | null;
}

const namesOnOneLine = (input: ReminderInput) => ({
  title: oneLine(input.service.title),
  specialistName: oneLine(input.specialist.name),
  customerName: oneLine(input.customer.name),
});

/** The customer's reminder, in the customer's time zone (the specialist's when the customer gave none), with the join and manage links. */
export function customerReminderEmail(input: ReminderInput): OutgoingEmail {
  const { title, specialistName, customerName } = namesOnOneLine(input);
  const when = formatWhen(input.start, input.customer.timeZone ?? input.specialist.timeZone);
  const subject = `Reminder: ${title} with ${specialistName}, ${when}`;
  const text = [
    `Hi ${customerName},`,
    '',
    `A reminder: your ${title} (${input.service.durationMinutes} minutes) with ${specialistName} is on ${when}.`,
    '',
    `Join on Zoom: ${input.joinUrl}`,
    '',
    `Cannot make it? Cancel or reschedule: ${input.manageUrl}`,
  ].join('\n');
  const html = frame(
    subject,
    `<h1 style="font-size:22px;margin:0 0 16px">See you soon</h1>
<p style="margin:0 0 12px">Hi ${escapeHtml(customerName)},</p>
<p style="margin:0 0 12px">A reminder: your <strong>${escapeHtml(title)}</strong> (${input.service.durationMinutes} minutes) with <strong>${escapeHtml(specialistName)}</strong> is on <strong>${escapeHtml(when)}</strong>.</p>
${button(input.joinUrl, 'Join on Zoom')}
<p style="margin:0 0 12px;font-size:14px;color:#4b5563">Zoom link: <a href="${escapeHtml(input.joinUrl)}" style="color:${BRAND}">${escapeHtml(input.joinUrl)}</a></p>
<p style="margin:0;font-size:14px;color:#4b5563">Cannot make it? <a href="${escapeHtml(input.manageUrl)}" style="color:${BRAND}">Cancel or reschedule</a>.</p>`,
  );
  return withoutHostileText({ kind: 'booking_reminder_customer', to: input.customer.email, subject, text, html });
}

/** The specialist's reminder, in the specialist's time zone, with the host start link when there is one. */
export function specialistReminderEmail(input: ReminderInput): OutgoingEmail {
  const { title, specialistName, customerName } = namesOnOneLine(input);
  const when = formatWhen(input.start, input.specialist.timeZone);
  const subject = `Reminder: ${title} with ${customerName}, ${when}`;
  const note = input.customer.note ? `Their note: ${input.customer.note}` : 'They left no note.';
  const text = [
    `Hi ${specialistName},`,
    '',
    `A reminder: ${customerName} (${input.customer.email}) booked ${title} (${input.service.durationMinutes} minutes) for ${when}.`,
    note,
    '',
    ...(input.startUrl ? [`Start the meeting as host: ${input.startUrl}`] : []),
    `Join link for participants: ${input.joinUrl}`,
  ].join('\n');
  const html = frame(
    subject,
    `<h1 style="font-size:22px;margin:0 0 16px">Coming up</h1>
<p style="margin:0 0 12px">Hi ${escapeHtml(specialistName)},</p>
<p style="margin:0 0 12px">A reminder: <strong>${escapeHtml(customerName)}</strong> (${escapeHtml(input.customer.email)}) booked <strong>${escapeHtml(title)}</strong> (${input.service.durationMinutes} minutes) for <strong>${escapeHtml(when)}</strong>.</p>
<p style="margin:0 0 12px">${escapeHtml(note)}</p>
${input.startUrl ? button(input.startUrl, 'Start the meeting as host') : ''}
<p style="margin:0;font-size:14px;color:#4b5563">Join link for participants: <a href="${escapeHtml(input.joinUrl)}" style="color:${BRAND}">${escapeHtml(input.joinUrl)}</a></p>`,
  );
  return withoutHostileText({ kind: 'booking_reminder_specialist', to: input.specialist.email, subject, text, html });
}
