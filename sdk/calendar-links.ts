/**
 * "Add to calendar" links for Google Calendar and Outlook (issue #16): pure
 * functions over a booking's title, times and join link, with no DOM and no
 * Node-only API, so the server's confirmation email and the widget's success
 * view build the very same links.
 */

/** What a calendar link pre-fills. Times are instants (a `Date` or an ISO 8601 string). */
export interface CalendarLinkEvent {
  title: string;
  start: Date | string;
  end: Date | string;
  /** The event's notes, e.g. the join link and the manage link. */
  details?: string;
  /** Where it happens: for a video session, its join link. */
  location?: string;
}

const instant = (value: Date | string) => new Date(value);

/** `20300107T090000Z`: the UTC basic format Google's `dates` parameter takes. */
const googleTime = (value: Date | string) => instant(value).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');

/** `2030-01-07T09:00:00Z`: the ISO 8601 form Outlook's `startdt`/`enddt` take. */
const outlookTime = (value: Date | string) => instant(value).toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * A Google Calendar link that opens a new event pre-filled with this one
 * (`calendar/render?action=TEMPLATE`), its times in UTC so the reader's
 * calendar shows them in the reader's own zone.
 *
 * @example
 * googleCalendarUrl({ title: 'Intro call', start: '2030-01-07T09:00:00Z', end: '2030-01-07T09:30:00Z' })
 * // 'https://calendar.google.com/calendar/render?action=TEMPLATE&text=Intro+call&dates=20300107T090000Z%2F20300107T093000Z'
 */
export function googleCalendarUrl(event: CalendarLinkEvent): string {
  const params = new URLSearchParams({ action: 'TEMPLATE', text: event.title, dates: `${googleTime(event.start)}/${googleTime(event.end)}` });
  if (event.details) params.set('details', event.details);
  if (event.location) params.set('location', event.location);
  return `https://calendar.google.com/calendar/render?${params}`;
}

/**
 * An Outlook link (outlook.live.com's compose deep link, which also signs
 * work accounts in through their Microsoft login) that opens a new event
 * pre-filled with this one, its times in UTC.
 *
 * @example
 * outlookCalendarUrl({ title: 'Intro call', start: '2030-01-07T09:00:00Z', end: '2030-01-07T09:30:00Z' })
 * // 'https://outlook.live.com/calendar/0/deeplink/compose?path=%2Fcalendar%2Faction%2Fcompose&rru=addevent&subject=Intro+call&startdt=2030-01-07T09%3A00%3A00Z&enddt=2030-01-07T09%3A30%3A00Z'
 */
export function outlookCalendarUrl(event: CalendarLinkEvent): string {
  const params = new URLSearchParams({
    path: '/calendar/action/compose',
    rru: 'addevent',
    subject: event.title,
    startdt: outlookTime(event.start),
    enddt: outlookTime(event.end),
  });
  if (event.details) params.set('body', event.details);
  if (event.location) params.set('location', event.location);
  return `https://outlook.live.com/calendar/0/deeplink/compose?${params}`;
}
