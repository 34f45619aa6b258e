import { createHmac } from 'node:crypto';
import { isSameSecret } from '../security/constant-time.js';

/** How long a browser stays known after a sign-in: a year, under browsers' 400-day cap on cookies. */
export const KNOWN_BROWSER_LIFETIME_MS = 365 * 24 * 3_600_000;

/**
 * The mark a browser gets when a specialist signs in with it: an HMAC of the
 * specialist's id under the link-signing key, kept in a cookie. It grants
 * nothing by itself; it only lets sign-in requests from that browser count
 * apart from everyone else's, so strangers who use up an email's daily
 * allowance of sign-in links cannot lock its owner out (issue #14).
 *
 * @example cookies.setKnownBrowser(c, knownBrowserMark(signingKey, specialistId))
 */
export function knownBrowserMark(signingKey: Buffer, specialistId: string): string {
  return createHmac('sha256', signingKey).update(`known-browser:${specialistId}`).digest('base64url');
}

/** Whether `mark` (a cookie's value, if any) is the one this specialist's sign-in gave the browser. */
export function isKnownBrowserOf(signingKey: Buffer, specialistId: string, mark: string | undefined): boolean {
  return mark !== undefined && isSameSecret(mark, knownBrowserMark(signingKey, specialistId));
}
