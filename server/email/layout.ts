/**
 * What every email shares: the HTML frame, the button, and the cleaning of
 * text that comes from settings and bookings.
 */
import { escapeHtml } from '../text/html.js';
import { withoutControlCharacters } from './format.js';
import type { OutgoingEmail } from './outbox.js';

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

/** A name or a title on one line: a line break in it could forge a line of the email. */
export const oneLine = (value: string) => withoutControlCharacters(value);

