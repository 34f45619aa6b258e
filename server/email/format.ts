import { HOSTILE_IN_LINE, HOSTILE_IN_TEXT } from '../../sdk/contract.js';

const hostileInLine = new RegExp(HOSTILE_IN_LINE.source, 'g');
const hostileInText = new RegExp(HOSTILE_IN_TEXT.source, 'g');

/**
 * Text from elsewhere (service titles, names) made safe for an email or a
 * calendar: control characters and bidi overrides removed; `multiline`
 * keeps tabs and line breaks.
 *
 * @example withoutControlCharacters('Intro\u202e call\u0000') // 'Intro call'
 */
export function withoutControlCharacters(value: string, options: { multiline?: boolean } = {}): string {
  return value.replace(options.multiline ? hostileInText : hostileInLine, '');
}

/** "Tuesday, 8 January 2030 at 10:00 (Europe/Berlin)", in the reader's own zone. */
export function formatWhen(date: Date, timeZone: string): string {
  const text = formatterFor(timeZone).format(date);
  return `${text} (${timeZone})`;
}

// Building an Intl.DateTimeFormat costs far more than formatting with one; a
// server formats in a handful of zones, so each zone's formatter is kept.
const formatters = new Map<string, Intl.DateTimeFormat>();
function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-GB', { timeZone, dateStyle: 'full', timeStyle: 'short' });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}
