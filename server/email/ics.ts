/**
 * A booking's iCalendar file (RFC 5545 and iTIP, RFC 5546), written by
 * ical-generator (issue #16: a maintained library, not a hand-written one).
 * One VEVENT in UTC whose UID stays the same for the booking's whole life, so
 * calendar apps update the event they already have: an invitation and a
 * reschedule are `METHOD:REQUEST` (a reschedule with a higher SEQUENCE), a
 * cancellation is `METHOD:CANCEL` with `STATUS:CANCELLED`.
 */
import ical, { ICalAttendeeRole, ICalAttendeeStatus, ICalCalendarMethod, ICalEventStatus } from 'ical-generator';
import { withoutControlCharacters } from './format.js';

/** The iTIP methods a booking's calendar file uses. */
export type CalendarMethod = 'REQUEST' | 'CANCEL';

export interface BookingCalendarEvent {
  method: CalendarMethod;
  /** `${bookingId}@${domain}`: the same for every file of one booking. */
  uid: string;
  /** The booking's `calendar_sequence`: 0 at confirmation, higher after each change. */
  sequence: number;
  /** When this file was made (DTSTAMP). */
  stamp: Date;
  start: Date;
  end: Date;
  summary: string;
  description: string;
  /** The join link, also the event's URL; none on a cancellation. */
  location?: string;
  /** The specialist. */
  organizer: { name: string; email: string };
  /** The customer. */
  attendee: { name: string; email: string };
}

/** Text for a calendar: no control characters or bidi overrides; line breaks only where `multiline`, as `\n`. */
function clean(value: string, options: { multiline?: boolean } = {}): string {
  // A carriage return alone would end the content line; ical-generator escapes `\n`.
  return withoutControlCharacters(value, options).replace(/\r\n?/g, '\n');
}

/**
 * A name for a parameter value (`CN=`): RFC 5545 §3.1 allows no DQUOTE in
 * one, and ical-generator 10 escapes it with a backslash, which no calendar
 * reads (RFC 6868's `^'` is the only escape). A quote becomes an apostrophe.
 */
function cleanParameter(value: string): string {
  return clean(value).replaceAll('"', "'");
}

/**
 * The `.ics` text of one booking event, content lines ending in CRLF and
 * folded at 75 octets.
 *
 * @example
 * buildBookingIcs({ method: 'CANCEL', uid: `${id}@booking.example.com`, sequence: 1, ... })
 */
export function buildBookingIcs(event: BookingCalendarEvent): string {
  const isCancel = event.method === 'CANCEL';
  const calendar = ical({
    prodId: { company: 'specialist-booking', product: 'booking', language: 'EN' },
    method: isCancel ? ICalCalendarMethod.CANCEL : ICalCalendarMethod.REQUEST,
  });
  calendar.createEvent({
    id: event.uid,
    sequence: event.sequence,
    stamp: event.stamp,
    start: event.start,
    end: event.end,
    summary: clean(event.summary),
    description: clean(event.description, { multiline: true }),
    location: event.location === undefined ? null : clean(event.location),
    url: event.location === undefined ? null : clean(event.location),
    organizer: { name: cleanParameter(event.organizer.name), email: clean(event.organizer.email) },
    attendees: [
      {
        name: cleanParameter(event.attendee.name),
        email: clean(event.attendee.email),
        role: ICalAttendeeRole.REQ,
        status: ICalAttendeeStatus.NEEDSACTION,
        rsvp: !isCancel,
      },
    ],
    status: isCancel ? ICalEventStatus.CANCELLED : ICalEventStatus.CONFIRMED,
  });
  // RFC 5545 §3.1: every content line, the last one too, ends in CRLF.
  return `${calendar.toString()}\r\n`;
}
