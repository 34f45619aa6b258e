import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import type { Database } from '../db/schema.js';
import type { Logger } from '../logger.js';
import { hashToken, randomToken } from '../security/random.js';
import type { TokenCipher } from '../security/token-cipher.js';
import type { ZoomClient, ZoomUser } from './client.js';
import type { ZoomConnectionStore } from './connections.js';
import { ZoomApiError, ZoomNetworkError, ZoomOAuthError } from './errors.js';

const STATE_LIFETIME_MS = 10 * 60_000;

export interface AuthorizationDeps {
  db: Kysely<Database>;
  clock: Clock;
  cipher: TokenCipher;
  zoom: ZoomClient;
  connections: ZoomConnectionStore;
  logger: Logger;
}

/**
 * Starts Zoom's OAuth flow for a specialist: a single-use state bound to that
 * specialist (stored hashed, expiring in 10 minutes) and a PKCE S256
 * verifier (stored encrypted). Returns the consent URL to redirect to.
 */
export async function startZoomAuthorization(deps: AuthorizationDeps, specialistId: string): Promise<string> {
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
      expires_at: new Date(now.getTime() + STATE_LIFETIME_MS).toISOString(),
      used_at: null,
    })
    .execute();
  const codeChallenge = createHash('sha256').update(codeVerifier).digest('base64url');
  return deps.zoom.authorizeUrl({ state, codeChallenge });
}

export type AuthorizationOutcome =
  | { kind: 'connected'; user: ZoomUser; wasReauthorization: boolean }
  | { kind: 'denied' }
  | { kind: 'invalid_state'; message: string }
  | { kind: 'failed'; message: string };

/**
 * Finishes the flow on Zoom's redirect: checks the state (known, unused,
 * unexpired, and belonging to the signed-in specialist), exchanges the code
 * with the verifier, reads `/users/me`, and saves the connection as valid.
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
  if (input.signedInSpecialistId !== row.specialist_id) {
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
  if (input.error) return { kind: 'denied' };
  if (!input.code) return { kind: 'failed', message: 'Zoom did not send an authorization code.' };
  try {
    const codeVerifier = deps.cipher.decrypt(row.code_verifier_enc, `oauth:${stateHash}`);
    const tokens = await deps.zoom.exchangeCode(input.code, codeVerifier);
    const user = await deps.zoom.getMe(tokens.accessToken);
    const previous = await deps.connections.find(row.specialist_id);
    await deps.connections.saveAuthorization(row.specialist_id, tokens, user);
    return { kind: 'connected', user, wasReauthorization: previous !== undefined };
  } catch (error) {
    if (error instanceof ZoomOAuthError || error instanceof ZoomApiError || error instanceof ZoomNetworkError) {
      deps.logger.warn('zoom authorization failed', { specialistId: row.specialist_id, error: error.message });
      return { kind: 'failed', message: 'Zoom did not accept the authorization. Please try connecting again.' };
    }
    throw error;
  }
}
