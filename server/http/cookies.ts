import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { KNOWN_BROWSER_LIFETIME_MS } from '../auth/known-browser.js';
import { SESSION_COOKIE, SESSION_LIFETIME_MS } from '../auth/sessions.js';
import { randomToken } from '../security/random.js';

const PRE_SESSION_CSRF_COOKIE = 'sb_csrf';
const KNOWN_BROWSER_COOKIE = 'sb_known';

/** The cookies of the specialist pages, named and flagged for the server's public URL. */
export interface SiteCookies {
  readSession(c: Context): string | undefined;
  setSession(c: Context, token: string): void;
  clearSession(c: Context): void;
  /**
   * The CSRF token of a signed-out browser (sign-in forms, the sign-in link's
   * button): the cookie's value, set now if the browser has none. A form is
   * accepted only with the same value in its `_csrf` field (double submit),
   * which a page on another site can neither read nor set.
   */
  preSessionCsrf(c: Context): string;
  readPreSessionCsrf(c: Context): string | undefined;
  /** The mark of a browser a specialist signed in with (see auth/known-browser.ts); kept across sign-outs. */
  readKnownBrowser(c: Context): string | undefined;
  setKnownBrowser(c: Context, mark: string): void;
}

/**
 * HttpOnly, SameSite=Lax, Path=/ cookies. When the public URL is https they
 * are Secure and carry the `__Host-` prefix, so the browser keeps them only
 * if they were set by this host over https with no Domain: a sibling
 * subdomain cannot plant or overwrite them.
 */
export function createSiteCookies(publicUrl: string): SiteCookies {
  const isHttps = publicUrl.startsWith('https://');
  const prefix = isHttps ? ('host' as const) : undefined;
  const options = { httpOnly: true, sameSite: 'Lax' as const, secure: isHttps, path: '/', prefix };
  return {
    readSession: (c) => getCookie(c, SESSION_COOKIE, prefix),
    setSession: (c, token) => setCookie(c, SESSION_COOKIE, token, { ...options, maxAge: Math.floor(SESSION_LIFETIME_MS / 1000) }),
    clearSession: (c) => {
      deleteCookie(c, SESSION_COOKIE, options);
    },
    readPreSessionCsrf: (c) => getCookie(c, PRE_SESSION_CSRF_COOKIE, prefix),
    readKnownBrowser: (c) => getCookie(c, KNOWN_BROWSER_COOKIE, prefix),
    setKnownBrowser: (c, mark) => setCookie(c, KNOWN_BROWSER_COOKIE, mark, { ...options, maxAge: Math.floor(KNOWN_BROWSER_LIFETIME_MS / 1000) }),
    preSessionCsrf(c) {
      const existing = getCookie(c, PRE_SESSION_CSRF_COOKIE, prefix);
      if (existing) return existing;
      const token = randomToken(24);
      setCookie(c, PRE_SESSION_CSRF_COOKIE, token, options);
      return token;
    },
  };
}
