/** "Tuesday, 8 January 2030 at 10:00 (Europe/Berlin)", in the reader's own zone. */
export function formatWhen(date: Date, timeZone: string): string {
  const text = new Intl.DateTimeFormat('en-GB', { timeZone, dateStyle: 'full', timeStyle: 'short' }).format(date);
  return `${text} (${timeZone})`;
}
