import type { Context } from 'hono';

/** What a browser may say in `Sec-Fetch-Site` about a request of this site's own. */
const SAME_ORIGIN_FETCH_SITES = new Set(['same-origin', 'none']);

/**
 * Whether a browser says this request came from a page of another site (or
 * another origin on this one): a `Sec-Fetch-Site` other than `same-origin`
 * or `none`, or an `Origin` that is neither the request's own nor one of
 * `ownOrigins` (e.g. the public URL's, behind a proxy). Callers that are not
 * browsers (tests, scripts, curl) send neither header and are not cross-site.
 *
 * @example if (isCrossSiteRequest(c, [publicOrigin])) return c.text('Refused', 403);
 */
export function isCrossSiteRequest(c: Context, ownOrigins: readonly string[] = []): boolean {
  const fetchSite = c.req.header('sec-fetch-site');
  if (fetchSite !== undefined && !SAME_ORIGIN_FETCH_SITES.has(fetchSite)) return true;
  const origin = c.req.header('origin');
  return origin !== undefined && !ownOrigins.includes(origin) && origin !== new URL(c.req.url).origin;
}
