import type { Context } from 'hono';
import { Hono } from 'hono';
import { consentPage, errorPage } from './consent-page.js';
import { failureResponse, dropConnection } from './faults.js';
import type { EmulatorState } from './state.js';

const DEFAULT_SCOPE = 'meeting:write user:read';
const OAUTH_PARAMS = ['response_type', 'client_id', 'redirect_uri', 'state', 'code_challenge', 'code_challenge_method', 'scope'] as const;

function isHttpUrl(value: string | undefined): value is string {
  if (!value) return false;
  try {
    return ['http:', 'https:'].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

/** Zoom's OAuth endpoints: authorize (consent page), token, revoke. */
export function oauthRoutes(state: EmulatorState): Hono {
  const app = new Hono();
  const { settings } = state;

  const checkAuthorizeParams = (p: Record<string, string | undefined>): string | undefined => {
    if (p.client_id !== settings.clientId) return 'Invalid client_id.';
    if (!isHttpUrl(p.redirect_uri)) return 'Invalid redirect_uri.';
    if (p.response_type !== 'code') return 'Unsupported response_type: only "code" is supported.';
    if (p.code_challenge_method && !['S256', 'plain'].includes(p.code_challenge_method)) return 'Invalid code_challenge_method.';
    return undefined;
  };

  app.get('/oauth/authorize', (c) => {
    const params = c.req.query();
    const problem = checkAuthorizeParams(params);
    if (problem) return c.html(errorPage(problem), 400);
    if (state.users.size === 0) state.addUser();
    const carried = Object.fromEntries(OAUTH_PARAMS.filter((k) => params[k] !== undefined).map((k) => [k, params[k]!]));
    return c.html(consentPage(carried, [...state.users.values()], params.scope || DEFAULT_SCOPE));
  });

  app.post('/oauth/authorize', async (c) => {
    const form = Object.fromEntries(Object.entries(await c.req.parseBody()).map(([k, v]) => [k, typeof v === 'string' ? v : undefined]));
    const problem = checkAuthorizeParams(form);
    if (problem) return c.html(errorPage(problem), 400);
    const back = new URL(form.redirect_uri!);
    if (form.decision !== 'allow') {
      back.searchParams.set('error', 'access_denied');
      back.searchParams.set('error_description', 'The user denied the authorization request.');
    } else {
      const user = state.users.get(form.user_id ?? '');
      if (!user) return c.html(errorPage('Choose a Zoom account.'), 400);
      const code = state.issueCode({
        userId: user.id,
        redirectUri: form.redirect_uri!,
        challenge: form.code_challenge || undefined,
        challengeMethod: form.code_challenge_method === 'S256' ? 'S256' : 'plain',
      });
      back.searchParams.set('code', code);
    }
    if (form.state !== undefined) back.searchParams.set('state', form.state);
    return c.redirect(back.toString(), 302);
  });

  app.post('/oauth/token', async (c) => {
    const failure = state.takeFailure('token');
    if (failure) return failureResponse(c, failure, state);
    const params = await oauthParams(c);
    const grantType = params.grant_type ?? '';
    const log = (outcome: string) => state.tokenLog.push({ grantType, at: state.settings.clock(), outcome });
    if (!hasClientCredentials(c, settings.clientId, settings.clientSecret)) {
      log('invalid_client');
      return c.json({ reason: 'Invalid client_id or client_secret', error: 'invalid_client' }, 400);
    }
    const answer = (pair: { accessToken: string; refreshToken: string }) =>
      c.json({
        access_token: pair.accessToken,
        token_type: 'bearer',
        refresh_token: pair.refreshToken,
        expires_in: settings.accessTokenSeconds,
        scope: DEFAULT_SCOPE,
      });
    if (grantType === 'authorization_code') {
      const userId = state.redeemCode(params.code ?? '', params.redirect_uri, params.code_verifier);
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
        state.droppedRefreshResponses--;
        log('dropped');
        return dropConnection(c);
      }
      log('ok');
      return answer(pair);
    }
    log('unsupported_grant_type');
    return c.json({ reason: 'Unsupported grant type', error: 'unsupported_grant_type' }, 400);
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

/** Zoom takes OAuth parameters from the form body or the query string. */
async function oauthParams(c: Context): Promise<Record<string, string | undefined>> {
  const query = c.req.query();
  const contentType = c.req.header('content-type') ?? '';
  const body = contentType.includes('application/x-www-form-urlencoded') ? Object.fromEntries(new URLSearchParams(await c.req.text())) : {};
  return { ...query, ...body };
}

function hasClientCredentials(c: Context, clientId: string, clientSecret: string): boolean {
  const header = c.req.header('authorization') ?? '';
  if (!header.startsWith('Basic ')) return false;
  return Buffer.from(header.slice(6), 'base64').toString('utf8') === `${clientId}:${clientSecret}`;
}
