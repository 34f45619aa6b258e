/**
 * A faithful local Zoom: OAuth (consent page, PKCE, rotating single-use
 * refresh tokens, revocation), the REST endpoints the project uses, Zoom's
 * error bodies and rate-limit headers, and signed webhooks — plus controls
 * for tests and demos. It follows ../shared/zoom-contract.md point by point.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { apiRoutes } from './api-routes.js';
import { controlRoutes } from './control-routes.js';
import { oauthRoutes } from './oauth-routes.js';
import { EmulatorState, type EmulatorMeeting, type EmulatorUser, type Failure } from './state.js';

export type { EmulatorMeeting, EmulatorUser } from './state.js';

export interface EmulatorOptions {
  clientId?: string;
  clientSecret?: string;
  webhookSecret?: string;
  clock?: () => Date;
  /** Default 3599, as Zoom. */
  accessTokenSeconds?: number;
  /** Default 15 years (Zoom's support article; unverified, hence configurable). */
  refreshTokenSeconds?: number;
  /** Meeting creates per user per UTC day. Default 100. */
  dailyMeetingLimit?: number;
}

export interface EmulatorControls {
  addUser(partial?: Partial<EmulatorUser>): EmulatorUser;
  users(): EmulatorUser[];
  /** The user's access tokens answer 401 code 124 "Access token is expired." from now on. */
  expireAccessTokens(userId: string): void;
  /** Access tokens answer "Invalid access token."; refresh tokens `invalid_grant`. */
  revokeAllTokens(userId: string): void;
  /** The next `count` matching requests fail with this status (429s with Zoom's headers and bodies). */
  failNext(count: number, failure: Failure): void;
  /** The next refreshes rotate the tokens, then cut the connection instead of answering. */
  dropNextRefreshResponses(count?: number): void;
  setTokenLifetimes(lifetimes: { accessTokenSeconds?: number; refreshTokenSeconds?: number }): void;
  /** Meetings that exist (not deleted), of one user or all. */
  meetings(userId?: string): EmulatorMeeting[];
  /** Every token endpoint call: grant type, time, and `ok`, `dropped` or the OAuth error. */
  tokenRequests(): { grantType: string; at: Date; outcome: string }[];
  /** Revokes the user's tokens and POSTs a signed `app_deauthorized` event to `webhookUrl`. */
  sendDeauthorization(userId: string, webhookUrl: string): Promise<Response>;
  /** A code as if the user had clicked "Allow" (for seeding demos without a browser). */
  issueAuthorizationCode(input: { userId: string; redirectUri: string; codeChallenge?: string }): string;
  /** Zoom's webhook signature headers for a body. */
  signWebhook(body: string, timestampSeconds?: number): { 'x-zm-request-timestamp': string; 'x-zm-signature': string };
}

export interface ZoomEmulator {
  app: Hono;
  clientId: string;
  clientSecret: string;
  webhookSecret: string;
  controls: EmulatorControls;
}

export interface RunningZoomEmulator extends ZoomEmulator {
  url: string;
  /** Use as the client's OAuth base (`https://zoom.us` in production). */
  oauthBaseUrl: string;
  /** Use as the client's API base (`https://api.zoom.us/v2` in production). */
  apiBaseUrl: string;
  close(): Promise<void>;
}

/** Builds the emulator as a Hono app; `startZoomEmulator` serves it on a port. */
export function createZoomEmulator(options: EmulatorOptions = {}, baseUrl: () => string = () => 'http://127.0.0.1'): ZoomEmulator {
  const state = new EmulatorState({
    clientId: options.clientId ?? `emu_${randomBytes(8).toString('hex')}`,
    clientSecret: options.clientSecret ?? randomBytes(24).toString('base64url'),
    webhookSecret: options.webhookSecret ?? randomBytes(24).toString('base64url'),
    clock: options.clock ?? (() => new Date()),
    accessTokenSeconds: options.accessTokenSeconds ?? 3599,
    refreshTokenSeconds: options.refreshTokenSeconds ?? 15 * 365 * 24 * 3600,
    dailyMeetingLimit: options.dailyMeetingLimit ?? 100,
  });
  const { settings } = state;

  const signWebhook = (body: string, timestampSeconds = Math.floor(state.now() / 1000)) => {
    const ts = String(timestampSeconds);
    return {
      'x-zm-request-timestamp': ts,
      'x-zm-signature': `v0=${createHmac('sha256', settings.webhookSecret).update(`v0:${ts}:${body}`).digest('hex')}`,
    };
  };

  const controls: EmulatorControls = {
    addUser: (partial) => state.addUser(partial),
    users: () => [...state.users.values()],
    expireAccessTokens: (userId) => state.expireAccessTokens(userId),
    revokeAllTokens: (userId) => state.revokeAllTokens(userId),
    failNext: (count, failure) => {
      for (let i = 0; i < count; i++) state.failures.push({ ...failure });
    },
    dropNextRefreshResponses: (count = 1) => {
      state.droppedRefreshResponses += count;
    },
    setTokenLifetimes: (lifetimes) => {
      if (lifetimes.accessTokenSeconds !== undefined) settings.accessTokenSeconds = lifetimes.accessTokenSeconds;
      if (lifetimes.refreshTokenSeconds !== undefined) settings.refreshTokenSeconds = lifetimes.refreshTokenSeconds;
    },
    meetings: (userId) => [...state.meetings.values()].filter((m) => !m.deleted && (userId === undefined || m.host_id === userId)).map(({ deleted: _d, ...m }) => m),
    tokenRequests: () => [...state.tokenLog],
    async sendDeauthorization(userId, webhookUrl) {
      const user = state.users.get(userId);
      if (!user) throw new Error(`No emulator user ${userId}`);
      state.revokeAllTokens(userId);
      const eventTs = state.now();
      const body = JSON.stringify({
        event: 'app_deauthorized',
        event_ts: eventTs,
        payload: {
          account_id: user.account_id,
          user_id: user.id,
          signature: createHmac('sha256', settings.webhookSecret).update(`${user.id}:${eventTs}`).digest('hex'),
          deauthorization_time: new Date(eventTs).toISOString(),
          client_id: settings.clientId,
          event_ts: eventTs,
        },
      });
      return fetch(webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...signWebhook(body) }, body });
    },
    issueAuthorizationCode: ({ userId, redirectUri, codeChallenge }) =>
      state.issueCode({ userId, redirectUri, challenge: codeChallenge, challengeMethod: 'S256' }),
    signWebhook,
  };

  const app = new Hono();
  app.route('/', oauthRoutes(state));
  app.route('/v2', apiRoutes(state, baseUrl));
  app.route('/__emulator', controlRoutes(state, controls));
  return { app, clientId: settings.clientId, clientSecret: settings.clientSecret, webhookSecret: settings.webhookSecret, controls };
}

/** Serves the emulator on its own port (default: any free port on 127.0.0.1). */
export async function startZoomEmulator(options: EmulatorOptions & { port?: number; hostname?: string } = {}): Promise<RunningZoomEmulator> {
  let url = '';
  const emulator = createZoomEmulator(options, () => url);
  const server = serve({ fetch: emulator.app.fetch, port: options.port ?? 0, hostname: options.hostname ?? '127.0.0.1' });
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const host = options.hostname && options.hostname !== '0.0.0.0' ? options.hostname : '127.0.0.1';
  url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    ...emulator,
    url,
    oauthBaseUrl: url,
    apiBaseUrl: `${url}/v2`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}
