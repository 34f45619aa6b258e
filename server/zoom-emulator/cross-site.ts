import type { Context } from 'hono';

/**
 * Whether a request comes from a page of another site (or another origin on
 * this one): a browser says so in `Sec-Fetch-Site`, or in an `Origin` other
 * than the emulator's own. Callers that are not browsers (tests, scripts,
 * curl) send neither and pass.
 */
export function isCrossSite(c: Context): boolean {
  const fetchSite = c.req.header('sec-fetch-site');
  if (fetchSite !== undefined && fetchSite !== 'same-origin' && fetchSite !== 'none') return true;
  const origin = c.req.header('origin');
  return origin !== undefined && origin !== new URL(c.req.url).origin;
}
