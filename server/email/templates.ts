import { escapeHtml } from '../text/html.js';
import type { OutgoingEmail } from './outbox.js';
import { formatWhen, withoutControlCharacters } from './format.js';

export const BRAND = '#4f46e5';

/**
 * An email whose subject and bodies hold no control characters or bidi
 * overrides: names and service titles come from settings and bookings.
 */
export function withoutHostileText(email: OutgoingEmail): OutgoingEmail {
  // Names and titles have their line breaks removed before they are used (see `oneLine`); here the rest goes.
  return {
    ...email,
    subject: withoutControlCharacters(email.subject),
    text: withoutControlCharacters(email.text, { multiline: true }),
    html: withoutControlCharacters(email.html, { multiline: true }),
  };
}

/** A simple, table-based HTML frame that common mail clients render alike. */
export function frame(title: string, inner: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)}</title></head>
<body style="margin:0;padding:0;background:#f3f4f6;font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#111827">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f3f4f6"><tr><td align="center" style="padding:24px 12px">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="max-width:560px;background:#ffffff;border-radius:12px"><tr><td style="padding:28px 28px 20px;font-size:16px;line-height:1.5">
${inner}
</td></tr></table>
<p style="font-size:12px;color:#6b7280;margin:16px 0 0">Sent by specialist-booking.</p>
</td></tr></table></body></html>`;
}

export function button(href: string, label: string): string {
  return `<table role="presentation" cellpadding="0" cellspacing="0" style="margin:24px 0"><tr><td style="border-radius:8px;background:${BRAND}">
<a href="${escapeHtml(href)}" style="display:inline-block;padding:14px 28px;font-weight:700;color:#ffffff;text-decoration:none;border-radius:8px">${escapeHtml(label)}</a>
</td></tr></table>`;
}

export interface ReauthEmailInput {
  specialist: { name: string; email: string; timeZone: string };
  service: { title: string };
  customer: { name: string };
  start: Date;
  attemptedAt: Date;
  /** Booking attempts that failed since the last such email, this one included. */
  failedAttempts: number;
  reauthorizeUrl: string;
  settingsUrl: string;
  linkValidHours: number;
}

/** A name or a title on one line: a line break in it could forge a line of the email. */
export const oneLine = (value: string) => withoutControlCharacters(value);

/** The email that asks a specialist to re-authorize Zoom, with a one-click link. */
export function reauthRequiredEmail(input: ReauthEmailInput): OutgoingEmail {
  const specialist = { ...input.specialist, name: oneLine(input.specialist.name) };
  const service = { title: oneLine(input.service.title) };
  const customer = { name: oneLine(input.customer.name) };
  const subject = `⚠️ Action Required: Re-authorize Your Zoom Account - ${service.title}`;
  const slot = formatWhen(input.start, specialist.timeZone);
  const attempted = formatWhen(input.attemptedAt, specialist.timeZone);
  const more =
    input.failedAttempts > 1 ? `${input.failedAttempts} booking attempts have failed since our last email about this.` : undefined;
  const text = [
    `Hi ${specialist.name},`,
    '',
    `${customer.name} tried to book "${service.title}" for ${slot}, on ${attempted}, but the booking could not be completed: your Zoom connection needs to be re-authorized.`,
    ...(more ? ['', more] : []),
    '',
    'Why this matters: every session booked through your booking page gets its own Zoom meeting. Until Zoom is reconnected, customers cannot book you.',
    '',
    'It takes under a minute:',
    '1. Open the link below: it takes you to Zoom.',
    '2. On Zoom’s page, click "Allow".',
    '3. Done: customers can book again.',
    '',
    `Re-authorize Zoom: ${input.reauthorizeUrl}`,
    `(This link restores the Zoom account connected before. It works once and expires in ${input.linkValidHours} hours.)`,
    '',
    `Or open your Zoom settings: ${input.settingsUrl}`,
    '',
    'We let the customer know you have been notified.',
  ].join('\n');
  const html = frame(
    subject,
    `<h1 style="font-size:22px;margin:0 0 16px">Your Zoom connection needs attention</h1>
<p style="margin:0 0 12px">Hi ${escapeHtml(specialist.name)},</p>
<p style="margin:0 0 12px"><strong>${escapeHtml(customer.name)}</strong> tried to book <strong>${escapeHtml(service.title)}</strong> for ${escapeHtml(slot)}, on ${escapeHtml(attempted)}, but the booking could not be completed: your Zoom connection needs to be re-authorized.</p>
${more ? `<p style="margin:0 0 12px;padding:10px 14px;background:#fef3c7;border-radius:8px">${escapeHtml(more)}</p>` : ''}
<p style="margin:0 0 12px"><strong>Why this matters:</strong> every session booked through your booking page gets its own Zoom meeting. Until Zoom is reconnected, customers cannot book you.</p>
<p style="margin:0 0 4px">It takes under a minute:</p>
<ol style="margin:0 0 8px;padding-left:22px"><li>Click the button below: it takes you to Zoom.</li><li>On Zoom’s page, click <strong>Allow</strong>.</li><li>Done: customers can book again.</li></ol>
${button(input.reauthorizeUrl, 'Re-authorize Zoom')}
<p style="margin:0 0 12px;font-size:14px;color:#4b5563">The button restores the Zoom account connected before. It works once and expires in ${input.linkValidHours} hours. You can also open your <a href="${escapeHtml(input.settingsUrl)}" style="color:${BRAND}">Zoom settings</a>.</p>
<p style="margin:0;font-size:14px;color:#4b5563">We let the customer know you have been notified.</p>`,
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

/** A confirmed booking with its calendar file, for the two invitations. */
export interface InviteInput extends BookingConfirmedEvent {
  ics: string;
}

const icsAttachment = (ics: string) => ({ filename: 'invite.ics', content: ics, contentType: 'text/calendar; charset=utf-8; method=REQUEST' });

function withNamesOnOneLine(input: InviteInput): InviteInput {
  return {
    ...input,
    service: { ...input.service, title: oneLine(input.service.title) },
    specialist: { ...input.specialist, name: oneLine(input.specialist.name) },
    customer: { ...input.customer, name: oneLine(input.customer.name) },
  };
}

/** The customer's confirmation, in the customer's time zone. */
export function customerInviteEmail(invite: InviteInput): OutgoingEmail {
  const input = withNamesOnOneLine(invite);
  const zone = input.customer.timeZone ?? input.specialist.timeZone;
  const when = formatWhen(input.start, zone);
  const subject = `Confirmed: ${input.service.title} with ${input.specialist.name}`;
  const text = [
    `Hi ${input.customer.name},`,
    '',
    `Your ${input.service.title} (${input.service.durationMinutes} minutes) with ${input.specialist.name} is booked for ${when}.`,
    '',
    `Join on Zoom: ${input.joinUrl}`,
    '',
    'The attached invite.ics adds it to your calendar.',
  ].join('\n');
  const html = frame(
    subject,
    `<h1 style="font-size:22px;margin:0 0 16px">You’re booked</h1>
<p style="margin:0 0 12px">Hi ${escapeHtml(input.customer.name)},</p>
<p style="margin:0 0 12px">Your <strong>${escapeHtml(input.service.title)}</strong> (${input.service.durationMinutes} minutes) with <strong>${escapeHtml(input.specialist.name)}</strong> is booked for <strong>${escapeHtml(when)}</strong>.</p>
${button(input.joinUrl, 'Join on Zoom')}
<p style="margin:0 0 12px;font-size:14px;color:#4b5563">Zoom link: <a href="${escapeHtml(input.joinUrl)}" style="color:${BRAND}">${escapeHtml(input.joinUrl)}</a></p>
<p style="margin:0;font-size:14px;color:#4b5563">The attached invite.ics adds it to your calendar.</p>`,
  );
  return withoutHostileText({ kind: 'booking_confirmed_customer', to: input.customer.email, subject, text, html, attachments: [icsAttachment(input.ics)] });
}

/** The specialist's copy, in the specialist's zone, with the host start link. */
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
  return withoutHostileText({ kind: 'booking_confirmed_specialist', to: input.specialist.email, subject, text, html, attachments: [icsAttachment(input.ics)] });
}

/** A pending booking the server could not finish in time, for the customer's email. */
export interface BookingNotGoneThroughInput {
  specialist: { name: string; timeZone: string };
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
  return withoutHostileText({ kind: 'booking_not_gone_through', to: input.customer.email, subject, text, html });
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
