import type { Context } from 'hono';
import { setCookie } from 'hono/cookie';
import { SESSION_COOKIE, SESSION_LIFETIME_MS } from '../auth/sessions.js';

/** Sets the session cookie: HttpOnly, SameSite=Lax, Secure when the public URL is https. */
export function setSessionCookie(c: Context, token: string, publicUrl: string): void {
  setCookie(c, SESSION_COOKIE, token, {
    httpOnly: true,
    sameSite: 'Lax',
    secure: publicUrl.startsWith('https://'),
    path: '/',
    maxAge: Math.floor(SESSION_LIFETIME_MS / 1000),
  });
}
