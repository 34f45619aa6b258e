/**
 * An iCalendar invitation (RFC 5545, METHOD:REQUEST) for one booking, in UTC,
 * with the Zoom join link as location. Written by hand: it is one VEVENT, and
 * the rules that matter (escaping, CRLF, folding at 75 octets) are few.
 */
import { withoutControlCharacters } from './format.js';

export interface IcsInvite {
  uid: string;
  /** When the invitation was made. */
  stamp: Date;
  start: Date;
  end: Date;
  summary: string;
  description: string;
  location: string;
  url: string;
  organizer: { name: string; email: string };
  attendee: { name: string; email: string };
}

const utc = (d: Date) => d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');

/**
 * Escapes TEXT values (backslash, semicolon, comma, newline), without
 * control characters (RFC 5545 §3.3.11); only a `multiline` value (the
 * description) keeps its line breaks, as escaped newlines.
 */
function text(value: string, options: { multiline?: boolean } = {}): string {
  // A carriage return alone would end the content line.
  const safe = withoutControlCharacters(value, options).replace(/\r(?!\n)/g, '');
  return safe.replace(/\\/g, '\\\\').replace(/;/g, '\\;').replace(/,/g, '\\,').replace(/\r?\n/g, '\\n');
}

/** Quoted parameter values may not hold quotes or control characters (RFC 5545 §3.1, QSAFE-CHAR). */
function param(value: string): string {
  return `"${withoutControlCharacters(value).replace(/"/g, "'")}"`;
}

/** Folds a content line at 75 octets, never inside a UTF-8 character. */
function fold(line: string): string {
  const parts: string[] = [];
  let current = '';
  let size = 0;
  for (const ch of line) {
    const bytes = Buffer.byteLength(ch);
    if (size + bytes > (parts.length === 0 ? 75 : 74)) {
      parts.push(current);
      current = '';
      size = 0;
    }
    current += ch;
    size += bytes;
  }
  parts.push(current);
  return parts.join('\r\n ');
}

export function buildInviteIcs(invite: IcsInvite): string {
  const lines = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//specialist-booking//EN',
    'CALSCALE:GREGORIAN',
    'METHOD:REQUEST',
    'BEGIN:VEVENT',
    `UID:${invite.uid}`,
    `DTSTAMP:${utc(invite.stamp)}`,
    `DTSTART:${utc(invite.start)}`,
    `DTEND:${utc(invite.end)}`,
    `SUMMARY:${text(invite.summary)}`,
    `DESCRIPTION:${text(invite.description, { multiline: true })}`,
    `LOCATION:${text(invite.location)}`,
    `URL:${invite.url}`,
    `ORGANIZER;CN=${param(invite.organizer.name)}:mailto:${invite.organizer.email}`,
    `ATTENDEE;CN=${param(invite.attendee.name)};ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:${invite.attendee.email}`,
    'SEQUENCE:0',
    'STATUS:CONFIRMED',
    'TRANSP:OPAQUE',
    'END:VEVENT',
    'END:VCALENDAR',
  ];
  return lines.map(fold).join('\r\n') + '\r\n';
}
