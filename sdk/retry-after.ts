/**
 * Reading `Retry-After` (RFC 9110 §10.2.3), shared by the SDK and the
 * server's Zoom client. Nothing here assumes a browser or Node, and the
 * caller says what time it is, so the server passes its own clock's time.
 */

/**
 * Milliseconds a Retry-After header asks for, if any: whole or fractional
 * seconds, or an HTTP date counted from `now` (never negative).
 *
 * @param now the caller's current time in epoch milliseconds
 * @example retryAfterDelay(new Headers({ 'retry-after': '2' }), Date.now()) // 2000
 */
export function retryAfterDelay(headers: Headers, now: number): number | undefined {
  const value = headers.get('retry-after');
  if (value === null) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
