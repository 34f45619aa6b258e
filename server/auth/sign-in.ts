import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import type { Database } from '../db/schema.js';
import { enqueueEmail, type OutboxDeps } from '../email/outbox.js';
import { signInEmail } from '../email/templates.js';
import { hitRateLimits } from '../limits/index.js';
import type { SignInLinks } from './links.js';

export const SIGN_IN_LINK_TTL_MS = 15 * 60_000;
const WINDOW_MS = 15 * 60_000;
const PER_EMAIL = 5;
const PER_ADDRESS = 20;

export const SignInEmailSchema = z.email('Enter the email address you use for your account').max(254);

export interface SignInDeps {
  db: Kysely<Database>;
  clock: Clock;
  links: SignInLinks;
  outbox: OutboxDeps;
}

/**
 * Emails a sign-in link to a specialist. Answers the same whether or not the
 * email has an account, so the form cannot be used to probe for accounts;
 * limited per email and per client address.
 */
export async function requestSignInLink(
  deps: SignInDeps,
  input: { email: string; clientAddress: string; next: string | undefined },
): Promise<{ kind: 'sent' } | { kind: 'rate_limited' }> {
  const email = input.email.trim().toLowerCase();
  const verdict = await hitRateLimits(deps.db, deps.clock, [
    { bucket: `sign-in:address:${input.clientAddress}`, limit: PER_ADDRESS, windowMs: WINDOW_MS },
    { bucket: `sign-in:email:${email}`, limit: PER_EMAIL, windowMs: WINDOW_MS },
  ]);
  if (!verdict.isAllowed) return { kind: 'rate_limited' };
  const specialist = await deps.db.selectFrom('specialists').select(['id', 'name', 'email']).where('email', '=', email).executeTakeFirst();
  if (!specialist) return { kind: 'sent' };
  await deps.db.transaction().execute(async (trx) => {
    const url = await deps.links.create(trx, { specialistId: specialist.id, purpose: 'sign_in', ttlMs: SIGN_IN_LINK_TTL_MS, next: input.next });
    await enqueueEmail(trx, deps.outbox, signInEmail({ name: specialist.name, email: specialist.email, url, validMinutes: SIGN_IN_LINK_TTL_MS / 60_000 }));
  });
  return { kind: 'sent' };
}

/** Only same-site paths may be a redirect target after sign-in. */
export function safeNextPath(next: string | undefined): string | undefined {
  return next && /^\/(?!\/)[\w\-./?=&#%]*$/.test(next) ? next : undefined;
}
