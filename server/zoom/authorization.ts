import { createHash } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { LiveLink, SignInLinks } from '../auth/links.js';
import type { Clock } from '../clock.js';
import type { Database } from '../db/schema.js';
import type { Logger } from '../logger.js';
import { hashToken, randomToken } from '../security/random.js';
import type { TokenCipher } from '../security/token-cipher.js';
import type { ZoomClient, ZoomTokens, ZoomUser } from './client.js';
import type { ZoomConnectionRow, ZoomConnectionStore } from './connections.js';
import { ZoomApiError, ZoomMalformedAnswerError, ZoomNetworkError, ZoomOAuthError } from './errors.js';
import { makeZoomChangesDue } from '../bookings/zoom-changes.js';
import { makeHeldRequestsDue } from '../bookings/held-requests.js';

const OAUTH_STATE_LIFETIME_MS = 10 * 60_000;

/** A specialist's connected Zoom account changed from one Zoom user to another. */
export interface ZoomAccountChange {
  specialistId: string;
  previous: { email: string; displayName: string };
  current: { email: string; displayName: string };
}

/** Called inside the transaction that switches the account, so what it queues commits with the switch. */
export type ZoomAccountChangeNotifier = (trx: Transaction<Database>, change: ZoomAccountChange) => Promise<void>;

export interface AuthorizationDeps {
  db: Kysely<Database>;
  clock: Clock;
  cipher: TokenCipher;
  zoom: ZoomClient;
  connections: ZoomConnectionStore;
  logger: Logger;
  links: SignInLinks;
  notifyZoomAccountChanged: ZoomAccountChangeNotifier;
}

/**
 * Starts Zoom's OAuth flow for a specialist: a single-use state (stored
 * hashed, expiring in 10 minutes) and a PKCE S256 verifier (stored
 * encrypted). The state is bound to the signed-in specialist, or — when an
 * emailed re-auth link started the flow — to that link. Returns the consent
 * URL to redirect to.
 */
export async function startZoomAuthorization(deps: AuthorizationDeps, specialistId: string, linkId?: string): Promise<string> {
  const state = randomToken();
  const codeVerifier = randomToken(48);
  const stateHash = hashToken(state);
  const now = deps.clock();
  await deps.db
    .insertInto('oauth_states')
    .values({
      state_hash: stateHash,
      specialist_id: specialistId,
      code_verifier_enc: deps.cipher.encrypt(codeVerifier, `oauth:${stateHash}`),
      created_at: now.toISOString(),
      expires_at: new Date(now.getTime() + OAUTH_STATE_LIFETIME_MS).toISOString(),
      used_at: null,
      sign_in_link_id: linkId ?? null,
    })
    .execute();
  const codeChallenge = createHash('sha256').update(codeVerifier).digest('base64url');
  return deps.zoom.authorizeUrl({ state, codeChallenge });
}

/**
 * What opening an emailed re-auth link does: it signs nobody in and uses
 * nothing up (mail scanners open links too); it starts the OAuth flow with a
 * state bound to the link. A specialist with no connection has nothing to
 * restore: connecting needs a normal sign-in.
 */
export async function startReauthorizationFromLink(
  deps: AuthorizationDeps,
  link: LiveLink,
): Promise<{ kind: 'redirect'; url: string } | { kind: 'nothing_to_restore' }> {
  if (!(await deps.connections.find(link.specialistId))) return { kind: 'nothing_to_restore' };
  return { kind: 'redirect', url: await startZoomAuthorization(deps, link.specialistId, link.id) };
}

export type AuthorizationOutcome =
  | { kind: 'connected'; user: ZoomUser; wasReauthorization: boolean }
  /** Restored from an emailed link: no session was involved, and none is granted. */
  | { kind: 'reauthorized_by_link'; user: ZoomUser }
  | { kind: 'denied'; byLink: boolean }
  | { kind: 'invalid_state'; message: string }
  | { kind: 'other_zoom_account'; connectedEmail: string; offeredEmail: string }
  | { kind: 'nothing_to_restore' }
  | { kind: 'failed'; message: string };

/** Thrown inside the saving transaction to refuse the change (it rolls back). */
class Refusal extends Error {
  constructor(readonly outcome: AuthorizationOutcome) {
    super(outcome.kind);
  }
}

/**
 * Finishes the flow on Zoom's redirect:
 *
 * 1. Checks the state: known, and bound to the signed-in specialist — or to
 *    an emailed re-auth link, which needs no session; then claims it
 *    (unused, unexpired: single use).
 * 2. Exchanges the code with the verifier and reads `/users/me`.
 * 3. Saves the connection, in one transaction with what the flow demands:
 *    - from a link: only the Zoom user connected before may be restored, and
 *      the link is used up there (a forwarded email must not let someone
 *      else's Zoom account in; switching accounts needs a sign-in);
 *    - from a session: when the Zoom user differs from the one connected
 *      last (connected now, or before a disconnect), the specialist is told
 *      by email.
 *    A refusal leaves the connection and the link as they were. The
 *    specialist's Zoom changes waiting in the job queue, and their held
 *    requests, are made due now.
 */
export async function completeZoomAuthorization(
  deps: AuthorizationDeps,
  input: { signedInSpecialistId: string | undefined; state: string | undefined; code: string | undefined; error: string | undefined },
): Promise<AuthorizationOutcome> {
  if (!input.state) return { kind: 'invalid_state', message: 'The link from Zoom is missing its state. Please start connecting again.' };
  const stateHash = hashToken(input.state);
  const now = deps.clock().toISOString();
  const row = await deps.db.selectFrom('oauth_states').selectAll().where('state_hash', '=', stateHash).executeTakeFirst();
  if (!row) return { kind: 'invalid_state', message: 'This Zoom authorization is not one we started. Please start connecting again.' };
  const linkId = row.sign_in_link_id;
  if (linkId === null && input.signedInSpecialistId !== row.specialist_id) {
    return { kind: 'invalid_state', message: 'This Zoom authorization was started in another session. Sign in and start connecting again.' };
  }
  // Single use: only the request that marks it used may go on.
  const claimed = await deps.db
    .updateTable('oauth_states')
    .set({ used_at: now })
    .where('state_hash', '=', stateHash)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  if (Number(claimed.numUpdatedRows) !== 1) {
    return { kind: 'invalid_state', message: 'This Zoom authorization link has expired or was already used. Please start connecting again.' };
  }
  if (input.error) return { kind: 'denied', byLink: linkId !== null };
  if (!input.code) return { kind: 'failed', message: 'Zoom did not send an authorization code.' };
  let user: ZoomUser;
  let tokens: ZoomTokens | undefined;
  try {
    const codeVerifier = deps.cipher.decrypt(row.code_verifier_enc, `oauth:${stateHash}`);
    tokens = await deps.zoom.exchangeCode(input.code, codeVerifier);
    user = await deps.zoom.getMe(tokens.accessToken);
    let wasReauthorization = false;
    await deps.connections.saveAuthorization(row.specialist_id, tokens, user, async (trx, previous, lastConnected) => {
      wasReauthorization = previous !== undefined;
      if (linkId !== null) await checkRestoreByLink(deps, trx, linkId, previous, user);
      else if (lastConnected && lastConnected.id !== user.id) {
        // Compared with the last user connected, not the current row: a disconnect first must not hide the switch.
        await deps.notifyZoomAccountChanged(trx, {
          specialistId: row.specialist_id,
          previous: { email: lastConnected.email, displayName: lastConnected.displayName },
          current: { email: user.email, displayName: user.displayName },
        });
      }
      // Zoom changes that waited for this connection (issue #16) run as soon as it is saved, not at their backed-off time,
      // and held requests (issue #17) are confirmed at once, soonest first.
      await makeZoomChangesDue(trx, deps.clock, row.specialist_id);
      await makeHeldRequestsDue(trx, deps.clock, row.specialist_id);
    });
    return linkId !== null ? { kind: 'reauthorized_by_link', user } : { kind: 'connected', user, wasReauthorization };
  } catch (error) {
    if (error instanceof Refusal) {
      deps.logger.warn('zoom re-authorization by link refused', { specialistId: row.specialist_id, outcome: error.outcome.kind });
      // The tokens are not kept, so the grant is given back: otherwise Zoom would go on listing the app as installed on that account.
      if (tokens) await revokeQuietly(deps, tokens.accessToken, row.specialist_id);
      return error.outcome;
    }
    if (error instanceof ZoomOAuthError || error instanceof ZoomApiError || error instanceof ZoomNetworkError || error instanceof ZoomMalformedAnswerError) {
      deps.logger.warn('zoom authorization failed', { specialistId: row.specialist_id, error: error.message });
      return { kind: 'failed', message: 'Zoom did not accept the authorization. Please try connecting again.' };
    }
    throw error;
  }
}

/** A re-auth link restores the Zoom user connected before, and nobody else; it is used up with the change. */
async function checkRestoreByLink(
  deps: AuthorizationDeps,
  trx: Transaction<Database>,
  linkId: string,
  previous: ZoomConnectionRow | undefined,
  user: ZoomUser,
): Promise<void> {
  if (!previous) throw new Refusal({ kind: 'nothing_to_restore' });
  if (previous.zoom_user_id !== user.id) throw new Refusal({ kind: 'other_zoom_account', connectedEmail: previous.zoom_email, offeredEmail: user.email });
  if (!(await deps.links.useUp(trx, linkId))) {
    throw new Refusal({ kind: 'invalid_state', message: 'This re-authorization link has expired or was already used. Sign in to re-authorize Zoom from Settings.' });
  }
}

/** Revokes a grant at Zoom, best effort: failing to give back tokens we are not keeping is logged, not shown. */
async function revokeQuietly(deps: AuthorizationDeps, accessToken: string, specialistId: string): Promise<void> {
  try {
    await deps.zoom.revokeToken(accessToken);
  } catch (error) {
    deps.logger.warn('zoom revoke of a refused authorization failed', { specialistId, error: (error as Error).message });
  }
}
