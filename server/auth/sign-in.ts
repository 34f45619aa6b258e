import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import type { Database } from '../db/schema.js';
import { enqueueEmail, type OutboxDeps } from '../email/outbox.js';
import { signInEmail } from '../email/templates.js';
import { DAY_MS, hitRateLimits, type LimitVerdict } from '../limits/index.js';
import { isKnownBrowserOf } from './known-browser.js';
import type { SignInLinks } from './links.js';

export const SIGN_IN_LINK_TTL_MS = 15 * 60_000;
const WINDOW_MS = 15 * 60_000;
/** Sign-in requests per client address (IPv6 by /64), whatever the emails, per 15 minutes. */
const PER_ADDRESS = 20;
/** Requests for one email from one client address per 15 minutes. */
const PER_EMAIL_AND_ADDRESS = 5;
/** Requests for one email from all addresses together per day: the most mail anyone can make one inbox get. */
const PER_EMAIL_PER_DAY = 20;

/** Uses of emailed sign-in links (`POST /auth/link`) per client address (IPv6 by /64) per 15 minutes. */
const LINK_USES_PER_ADDRESS = 30;

export const SignInEmailSchema = z.email('Enter the email address you use for your account').max(254);

export interface SignInDeps {
  db: Kysely<Database>;
  clock: Clock;
  links: SignInLinks;
  outbox: OutboxDeps;
  /** Keys the known-browser mark (see known-browser.ts). */
  signingKey: Buffer;
}

/**
 * Emails a sign-in link to a specialist. Answers the same whether or not the
 * email has an account, so the form cannot be used to probe for accounts.
 * `clientAddressKey` is the client's address as limits count it
 * (`addressLimitKey`).
 *
 * Limits, counted in this order (a refused request counts no further):
 * 1. 20 per 15 minutes per client address (IPv6 by its /64);
 * 2. 5 per 15 minutes per email from one client address — so requests from
 *    elsewhere cannot lock the specialist out (issue #14: five requests by
 *    anyone used to block an email for 15 minutes);
 * 3. 20 per UTC day per email from all addresses together, so many
 *    addresses cannot flood one inbox. A browser the specialist signed in
 *    with before (`knownBrowserMark`, from its cookie) counts in a day
 *    allowance of its own, so strangers who use up the shared one cannot
 *    lock the specialist out until midnight.
 */
export async function requestSignInLink(
  deps: SignInDeps,
  input: { email: string; clientAddressKey: string; knownBrowserMark: string | undefined; next: string | undefined },
): Promise<{ kind: 'sent' } | { kind: 'rate_limited'; retryAfterSeconds: number }> {
  const email = input.email.trim().toLowerCase();
  const address = input.clientAddressKey;
  const nowVerdict = await hitRateLimits(deps.db, deps.clock, [
    { bucket: `sign-in:address:${address}`, limit: PER_ADDRESS, windowMs: WINDOW_MS },
    { bucket: `sign-in:email:${email}:address:${address}`, limit: PER_EMAIL_AND_ADDRESS, windowMs: WINDOW_MS },
  ]);
  if (!nowVerdict.isAllowed) return { kind: 'rate_limited', retryAfterSeconds: nowVerdict.retryAfterSeconds };
  const specialist = await deps.db.selectFrom('specialists').select(['id', 'name', 'email']).where('email', '=', email).executeTakeFirst();
  const isKnownBrowser = specialist !== undefined && isKnownBrowserOf(deps.signingKey, specialist.id, input.knownBrowserMark);
  const dayBucket = isKnownBrowser ? `sign-in:email-day:${email}:known-browser` : `sign-in:email-day:${email}`;
  const dayVerdict = await hitRateLimits(deps.db, deps.clock, [{ bucket: dayBucket, limit: PER_EMAIL_PER_DAY, windowMs: DAY_MS }]);
  if (!dayVerdict.isAllowed) return { kind: 'rate_limited', retryAfterSeconds: dayVerdict.retryAfterSeconds };
  if (!specialist) return { kind: 'sent' };
  await deps.db.transaction().execute(async (trx) => {
    const url = await deps.links.create(trx, { specialistId: specialist.id, purpose: 'sign_in', ttlMs: SIGN_IN_LINK_TTL_MS, next: input.next });
    await enqueueEmail(trx, deps.outbox, { specialistId: specialist.id, ...signInEmail({ name: specialist.name, email: specialist.email, url, validMinutes: SIGN_IN_LINK_TTL_MS / 60_000 }) });
  });
  return { kind: 'sent' };
}

/**
 * Counts one use of an emailed sign-in link (`POST /auth/link`) from a client
 * address (`addressLimitKey`): at most 30 per 15 minutes, counted before the
 * link is looked at, so a script cannot try tokens or churn sessions without
 * bound (issue #14: every public write has a rate limit).
 */
export function hitLinkUseLimit(deps: Pick<SignInDeps, 'db' | 'clock'>, clientAddressKey: string): Promise<LimitVerdict> {
  return hitRateLimits(deps.db, deps.clock, [{ bucket: `link-use:address:${clientAddressKey}`, limit: LINK_USES_PER_ADDRESS, windowMs: WINDOW_MS }]);
}

/** Only same-site paths may be a redirect target after sign-in. */
export function safeNextPath(next: string | undefined): string | undefined {
  return next && /^\/(?!\/)[\w\-./?=&#%]*$/.test(next) ? next : undefined;
}
