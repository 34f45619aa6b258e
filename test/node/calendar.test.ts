import ical, { type VEvent } from 'node-ical';
import { describe, expect, it } from 'vitest';
import { googleCalendarUrl, outlookCalendarUrl } from '../../sdk/calendar-links.js';
import { buildBookingIcs, type BookingCalendarEvent } from '../../server/email/ics.js';

const UID = '0b7f3c9e-2d1a-4f5b-9c8e-7a6b5c4d3e2f@booking.test';
const CONFIRMED: BookingCalendarEvent = {
  method: 'REQUEST',
  uid: UID,
  sequence: 0,
  stamp: new Date('2030-01-01T12:00:00Z'),
  start: new Date('2030-01-07T09:00:00Z'),
  end: new Date('2030-01-07T09:30:00Z'),
  summary: 'Intro call: Anna Berg and Carla Customer',
  description: 'Zoom: https://zoom.test/j/123?pwd=abc',
  location: 'https://zoom.test/j/123?pwd=abc',
  organizer: { name: 'Anna Berg', email: 'anna@example.test' },
  attendee: { name: 'Carla Customer', email: 'carla@example.test' },
};

/** The calendar's METHOD and its one event, as node-ical reads them. */
function parse(ics: string): { method: unknown; event: VEvent } {
  const parsed = ical.sync.parseICS(ics);
  const events = Object.values(parsed).filter((c): c is VEvent => c?.type === 'VEVENT');
  expect(events).toHaveLength(1);
  return { method: (parsed.vcalendar as { method?: unknown } | undefined)?.method, event: events[0]! };
}

/** The fields calendar apps match and update an event by. */
const essentials = ({ method, event }: ReturnType<typeof parse>) => ({
  method,
  uid: event.uid,
  sequence: Number(event.sequence),
  start: new Date(event.start).toISOString(),
  end: new Date(event.end!).toISOString(),
  status: event.status,
});

describe('a booking’s .ics', () => {
  it('invites with METHOD:REQUEST, SEQUENCE 0 and the booking’s times, the specialist organizing and the customer attending', () => {
    const parsed = parse(buildBookingIcs(CONFIRMED));
    expect(essentials(parsed)).toEqual({ method: 'REQUEST', uid: UID, sequence: 0, start: '2030-01-07T09:00:00.000Z', end: '2030-01-07T09:30:00.000Z', status: 'CONFIRMED' });
    expect(parsed.event.summary).toBe('Intro call: Anna Berg and Carla Customer');
    expect(parsed.event.location).toBe('https://zoom.test/j/123?pwd=abc');
    expect(parsed.event.organizer).toMatchObject({ params: { CN: 'Anna Berg' }, val: 'mailto:anna@example.test' });
    expect(parsed.event.attendee).toMatchObject({ params: { CN: 'Carla Customer', ROLE: 'REQ-PARTICIPANT', PARTSTAT: 'NEEDS-ACTION', RSVP: true } });
    expect(String((parsed.event.attendee as { val: string }).val).toLowerCase()).toBe('mailto:carla@example.test');
  });

  it('moves the same event on a reschedule: METHOD:REQUEST, same UID, the higher SEQUENCE, the new times', () => {
    const moved = parse(buildBookingIcs({ ...CONFIRMED, sequence: 1, start: new Date('2030-01-08T14:00:00Z'), end: new Date('2030-01-08T14:30:00Z') }));
    expect(essentials(moved)).toEqual({ method: 'REQUEST', uid: UID, sequence: 1, start: '2030-01-08T14:00:00.000Z', end: '2030-01-08T14:30:00.000Z', status: 'CONFIRMED' });
  });

  it('cancels the same event: METHOD:CANCEL, same UID and SEQUENCE, STATUS:CANCELLED, no join link, no RSVP asked', () => {
    const ics = buildBookingIcs({ ...CONFIRMED, method: 'CANCEL', sequence: 2, location: undefined, description: 'Cancelled.' });
    const cancelled = parse(ics);
    expect(essentials(cancelled)).toEqual({ method: 'CANCEL', uid: UID, sequence: 2, start: '2030-01-07T09:00:00.000Z', end: '2030-01-07T09:30:00.000Z', status: 'CANCELLED' });
    expect(cancelled.event.location).toBeUndefined();
    expect(cancelled.event.attendee).toMatchObject({ params: { RSVP: false } });
    expect(ics).not.toContain('zoom.test');
  });

  it('strips control characters and bidi overrides, keeps the description’s line breaks, and folds CRLF lines at 75 octets', () => {
    const hostile = buildBookingIcs({
      ...CONFIRMED,
      summary: `Intro\u0007 call\u202e: ${'Ünïcödé '.repeat(12)}\r\nX-Injected: 1`,
      description: 'Line one\r\nLine two\rLine three\u0000',
      organizer: { name: 'Anna\u2066 "Berg"\r\nX-Injected: 1\u001b', email: 'anna@example.test' },
      attendee: { name: 'Carla\u200e\u061c Customer', email: 'carla@example.test' },
    });
    expect(hostile.endsWith('\r\n')).toBe(true);
    for (const line of hostile.slice(0, -2).split('\r\n')) {
      expect(Buffer.byteLength(line)).toBeLessThanOrEqual(75);
      expect(line).not.toMatch(/[\u0000-\u0008\u000a-\u001f\u007f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
    }
    // No forged property: the injected text stays inside its value.
    expect(hostile.replace(/\r\n[ \t]/g, '').split('\r\n').filter((l) => l.startsWith('X-Injected'))).toEqual([]);
    const { event } = parse(hostile);
    expect(event.summary).toBe(`Intro call: ${'Ünïcödé '.repeat(12)}X-Injected: 1`);
    expect(event.description).toBe('Line one\nLine two\nLine three');
    // No DQUOTE inside a quoted parameter (RFC 5545 §3.1): the name's quotes become apostrophes.
    expect(event.organizer).toMatchObject({ params: { CN: "Anna 'Berg'X-Injected: 1" } });
    expect(event.attendee).toMatchObject({ params: { CN: 'Carla Customer' } });
  });
});

describe('add-to-calendar links', () => {
  const event = { title: 'Intro call with Anna & Berg', start: '2030-01-07T09:00:00Z', end: new Date('2030-01-07T09:30:00Z'), details: 'Join on Zoom: https://zoom.test/j/1?pwd=a&b', location: 'https://zoom.test/j/1?pwd=a&b' };

  it('Google Calendar: action=TEMPLATE, the title, UTC dates start/end, details and location', () => {
    const url = new URL(googleCalendarUrl(event));
    expect(url.origin + url.pathname).toBe('https://calendar.google.com/calendar/render');
    expect([...url.searchParams]).toEqual([
      ['action', 'TEMPLATE'],
      ['text', 'Intro call with Anna & Berg'],
      ['dates', '20300107T090000Z/20300107T093000Z'],
      ['details', 'Join on Zoom: https://zoom.test/j/1?pwd=a&b'],
      ['location', 'https://zoom.test/j/1?pwd=a&b'],
    ]);
  });

  it('Outlook: the compose deep link with subject, UTC start and end, body and location', () => {
    const url = new URL(outlookCalendarUrl(event));
    expect(url.origin + url.pathname).toBe('https://outlook.live.com/calendar/0/deeplink/compose');
    expect([...url.searchParams]).toEqual([
      ['path', '/calendar/action/compose'],
      ['rru', 'addevent'],
      ['subject', 'Intro call with Anna & Berg'],
      ['startdt', '2030-01-07T09:00:00Z'],
      ['enddt', '2030-01-07T09:30:00Z'],
      ['body', 'Join on Zoom: https://zoom.test/j/1?pwd=a&b'],
      ['location', 'https://zoom.test/j/1?pwd=a&b'],
    ]);
  });

  it('leaves out details and location that are not given', () => {
    const bare = { title: 'Intro call', start: event.start, end: event.end };
    expect(googleCalendarUrl(bare)).toBe('https://calendar.google.com/calendar/render?action=TEMPLATE&text=Intro+call&dates=20300107T090000Z%2F20300107T093000Z');
    expect(outlookCalendarUrl(bare)).toBe(
      'https://outlook.live.com/calendar/0/deeplink/compose?path=%2Fcalendar%2Faction%2Fcompose&rru=addevent&subject=Intro+call&startdt=2030-01-07T09%3A00%3A00Z&enddt=2030-01-07T09%3A30%3A00Z',
    );
  });
});
