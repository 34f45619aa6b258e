import { Hono, type Context } from 'hono';
import { consentPage, errorPage } from './consent-page.js';
import { isCrossSiteRequest } from '../http/cross-site.js';
import { dropConnection, failureResponse } from './faults.js';
import type { EmulatorState, TokenPair } from './state.js';

/** The scopes the emulated app is configured with; Zoom grants these whatever `scope` asks. */
export const APP_SCOPE = 'meeting:write user:read';
const OAUTH_PARAMS = ['response_type', 'client_id', 'redirect_uri', 'state', 'code_challenge', 'code_challenge_method', 'scope'] as const;

type Params = Record<string, string | undefined>;

/**
 * Zoom's OAuth endpoints: authorize (a consent page and its form, whose POST
 * refuses cross-site requests with 403), token, revoke.
 */
export function oauthRoutes(state: EmulatorState): Hono {
  const app = new Hono();
  const { settings } = state;

  // Problems that must not redirect: the redirect target itself is not trusted yet (RFC 6749 §4.1.2.1).
  const authorizeProblem = (p: Params): string | undefined => {
    if (p.client_id !== settings.clientId) return 'Invalid client_id.';
    if (p.redirect_uri !== settings.redirectUri) return 'Invalid redirect_uri: it is not the redirect URL configured for this app.';
    if (p.response_type !== 'code') return 'Unsupported response_type: only "code" is supported.';
    return undefined;
  };

  // PKCE is required, S256 only. The redirect URI is trusted by now, so these
  // go back to the app as `invalid_request` (RFC 7636 §4.4.1); without a
  // method Zoom assumes "plain", which is refused too.
  const pkceProblem = (p: Params): string | undefined => {
    if (!p.code_challenge) return 'code_challenge is required (PKCE).';
    if (p.code_challenge_method !== 'S256') return 'code_challenge_method must be S256.';
    return undefined;
  };

  const redirectBack = (p: Params, outcome: Record<string, string>) => {
    const back = new URL(p.redirect_uri!);
    for (const [name, value] of Object.entries(outcome)) back.searchParams.set(name, value);
    if (p.state !== undefined) back.searchParams.set('state', p.state);
    return back.toString();
  };

  app.get('/oauth/authorize', (c) => {
    const params = c.req.query();
    const problem = authorizeProblem(params);
    if (problem) return c.html(errorPage(problem), 400);
    const pkce = pkceProblem(params);
    if (pkce) return c.redirect(redirectBack(params, { error: 'invalid_request', error_description: pkce }), 302);
    // The page must always offer an account, even before a test or demo added one.
    if (state.users.size === 0) state.addUser();
    const carried = Object.fromEntries(OAUTH_PARAMS.filter((k) => params[k] !== undefined).map((k) => [k, params[k]!]));
    return c.html(consentPage({ params: carried, users: [...state.users.values()], scope: params.scope || APP_SCOPE, redirectUri: params.redirect_uri! }));
  });

  app.post('/oauth/authorize', async (c) => {
    // Like the controls: a page on another site must not press "Allow" for whoever is looking at it.
    if (isCrossSiteRequest(c)) return c.html(errorPage('Cross-site authorization requests are refused.'), 403);
    const form: Params = Object.fromEntries(Object.entries(await c.req.parseBody()).map(([k, v]) => [k, typeof v === 'string' ? v : undefined]));
    const problem = authorizeProblem(form);
    if (problem) return c.html(errorPage(problem), 400);
    const pkce = pkceProblem(form);
    if (pkce) return c.redirect(redirectBack(form, { error: 'invalid_request', error_description: pkce }), 302);
    if (form.decision !== 'allow') {
      return c.redirect(redirectBack(form, { error: 'access_denied', error_description: 'The user denied the authorization request.' }), 302);
    }
    const user = state.users.get(form.user_id ?? '');
    if (!user) return c.html(errorPage('Choose a Zoom account.'), 400);
    const code = state.issueCode({ clientId: settings.clientId, userId: user.id, redirectUri: settings.redirectUri, challenge: form.code_challenge! });
    return c.redirect(redirectBack(form, { code }), 302);
  });

  app.post('/oauth/token', async (c) => {
    const params = await oauthParams(c);
    const grantType = params.grant_type ?? '';
    const log = (outcome: string) => state.tokenLog.push({ grantType, at: settings.clock(), outcome });
    const failure = state.takeFailure('token');
    if (failure) {
      log(`http_${failure.status}`);
      return failureResponse(failure, state.now(), settings.dailyMeetingLimit);
    }
    if (!hasClientCredentials(c, settings.clientId, settings.clientSecret)) {
      log('invalid_client');
      return c.json({ reason: 'Invalid client_id or client_secret', error: 'invalid_client' }, 400);
    }
    const answer = (pair: TokenPair) =>
      c.json({ access_token: pair.accessToken, token_type: 'bearer', refresh_token: pair.refreshToken, expires_in: settings.accessTokenSeconds, scope: APP_SCOPE });

    if (grantType === 'authorization_code') {
      const userId = state.redeemCode(params.code ?? '', settings.clientId, params.redirect_uri, params.code_verifier);
      if (!userId) {
        log('invalid_grant');
        return c.json({ reason: `Invalid authorization code ${params.code ?? ''}`, error: 'invalid_grant' }, 400);
      }
      log('ok');
      return answer(state.grant(userId));
    }
    if (grantType === 'refresh_token') {
      const pair = state.rotate(params.refresh_token ?? '');
      if (!pair) {
        log('invalid_grant');
        return c.json({ reason: 'Invalid Token!', error: 'invalid_grant' }, 400);
      }
      if (state.droppedRefreshResponses > 0) {
        // The rotation above is kept: the client loses the only valid refresh token (zoom-contract.md, "Pitfalls").
        state.droppedRefreshResponses--;
        log('dropped');
        return dropConnection(c);
      }
      log('ok');
      return answer(pair);
    }
    log('unsupported_grant_type');
    return c.json({ error: 'unsupported_grant_type' }, 400);
  });

  app.post('/oauth/revoke', async (c) => {
    if (!hasClientCredentials(c, settings.clientId, settings.clientSecret)) {
      return c.json({ reason: 'Invalid client_id or client_secret', error: 'invalid_client' }, 400);
    }
    const params = await oauthParams(c);
    state.revokeAccessToken(params.token ?? '');
    return c.json({ status: 'success' });
  });

  return app;
}

/** Zoom takes OAuth parameters from the form body or the query string; the body wins. */
async function oauthParams(c: Context): Promise<Params> {
  const query = c.req.query();
  const isForm = (c.req.header('content-type') ?? '').includes('application/x-www-form-urlencoded');
  const body = isForm ? Object.fromEntries(new URLSearchParams(await c.req.text())) : {};
  return { ...query, ...body };
}

function hasClientCredentials(c: Context, clientId: string, clientSecret: string): boolean {
  const encoded = /^Basic\s+(\S+)$/i.exec(c.req.header('authorization') ?? '')?.[1];
  return encoded !== undefined && Buffer.from(encoded, 'base64').toString('utf8') === `${clientId}:${clientSecret}`;
}
