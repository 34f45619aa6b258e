/**
 * A faithful local Zoom: OAuth (consent page, PKCE, rotating single-use
 * refresh tokens, revocation), the REST endpoints the project uses, Zoom's
 * error bodies and rate-limit headers, and signed webhooks — plus controls
 * for tests and demos. It follows ../shared/zoom-contract.md point by point.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { loopbackOnly } from '../http/loopback-host.js';
import { bodyLimit } from 'hono/body-limit';
import { apiRoutes } from './api-routes.js';
import { controlRoutes } from './control-routes.js';
import { ConnectionDropped } from './faults.js';
import { oauthRoutes } from './oauth-routes.js';
import { EmulatorState, s256Challenge, type EmulatorMeeting, type EmulatorUser, type Failure, type TokenRequest } from './state.js';
import { deauthorizationEvent, deliverWebhook, signWebhook, type WebhookSignatureHeaders } from './webhooks.js';

export type { EmulatorMeeting, EmulatorUser, Failure as EmulatorFailure, TokenRequest as EmulatorTokenRequest } from './state.js';

export interface EmulatorOptions {
  /**
   * The app's redirect URL, as configured in Zoom's Marketplace: authorize
   * and the code exchange accept this one only (e.g.
   * `http://localhost:3000/oauth/zoom/callback`).
   */
  redirectUri: string;
  /** Default: random. */
  clientId?: string;
  /** Default: random. */
  clientSecret?: string;
  /** Default: random. */
  webhookSecret?: string;
  /** Drives every expiry: codes, tokens, the daily limit's day. Default `() => new Date()`. */
  clock?: () => Date;
  /** Default 3599, as Zoom. */
  accessTokenSeconds?: number;
  /** Default 15 years (Zoom's support article; third parties say 90 days, hence configurable). */
  refreshTokenSeconds?: number;
  /** Meeting create requests per user per UTC day. Default 100. */
  dailyMeetingLimit?: number;
}

export interface EmulatorControls {
  /** Adds a Zoom user (random `zu_…` id, sensible defaults, overridden by `partial`). */
  addUser(partial?: Partial<EmulatorUser>): EmulatorUser;
  users(): EmulatorUser[];
  /** The user's current access tokens answer 401 code 124 "Access token is expired." from now on. */
  expireAccessTokens(userId: string): void;
  /** Access tokens answer "Invalid access token."; refresh tokens `invalid_grant`. */
  revokeAllTokens(userId: string): void;
  /** Whether the user still has a grant the app could use (an unrevoked, unexpired refresh token). */
  hasLiveGrant(userId: string): boolean;
  /**
   * The next `count` matching requests fail with this status, in the order
   * queued: 429s with Zoom's bodies and headers, 5xx with
   * `{"code":500,"message":"Internal server error"}`, unless `body` is given
   * (it may be non-JSON). `target` defaults to `api`. At most
   * 100 wait at once.
   *
   * @throws RangeError past that cap.
   */
  failNext(count: number, failure: Failure): void;
  /** The next `count` (default 1) successful refreshes rotate the tokens, then cut the connection instead of answering. */
  dropNextRefreshResponses(count?: number): void;
  /** Lifetimes of tokens issued from now on. */
  setTokenLifetimes(lifetimes: { accessTokenSeconds?: number; refreshTokenSeconds?: number }): void;
  /** Meeting create requests per user per UTC day from now on (a busy account in a test or demo). */
  setDailyMeetingLimit(limit: number): void;
  /** Meetings that exist (not deleted), of one user or all. */
  meetings(userId?: string): EmulatorMeeting[];
  /** Every token endpoint call: grant type, time, and `ok`, the OAuth error, `dropped` or `http_<status>` (injected). */
  tokenRequests(): TokenRequest[];
  /** Revokes the user's tokens, then POSTs a signed `app_deauthorized` event to `webhookUrl`. */
  sendDeauthorization(userId: string, webhookUrl: string): Promise<Response>;
  /**
   * A code for the configured redirect URI as if the user had clicked
   * "Allow" (for seeding demos without a browser), with the PKCE verifier to
   * exchange it with.
   */
  issueAuthorizationCode(input: { userId: string }): { code: string; codeVerifier: string };
  /** Zoom's webhook signature headers for a body; the timestamp defaults to the clock's. */
  signWebhook(body: string, timestampSeconds?: number): WebhookSignatureHeaders;
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

const FIFTEEN_YEARS_SECONDS = 15 * 365 * 24 * 3600;
/** Zoom's largest request body here is a meeting (agenda ≤ 2000 characters); nothing honest comes near this. */
const MAX_BODY_BYTES = 64 * 1024;

/**
 * Builds the emulator as a Hono app, without a socket; `startZoomEmulator`
 * serves it. Join and start links use the origin of the request.
 *
 * Request bodies are limited to 64 KiB (413 in Zoom's error shape).
 *
 * @example
 * const zoom = createZoomEmulator({ redirectUri: 'http://localhost:3000/oauth/zoom/callback', clientId: 'id', clientSecret: 'secret' });
 * const user = zoom.controls.addUser({ email: 'ada@zoom.test' });
 * await zoom.app.request('/v2/users/me', { headers: { authorization: `Bearer ${token}` } });
 */
export function createZoomEmulator(options: EmulatorOptions): ZoomEmulator {
  const state = new EmulatorState({
    clientId: options.clientId ?? `emu_${randomBytes(8).toString('hex')}`,
    clientSecret: options.clientSecret ?? randomBytes(24).toString('base64url'),
    webhookSecret: options.webhookSecret ?? randomBytes(24).toString('base64url'),
    redirectUri: options.redirectUri,
    clock: options.clock ?? (() => new Date()),
    accessTokenSeconds: options.accessTokenSeconds ?? 3599,
    refreshTokenSeconds: options.refreshTokenSeconds ?? FIFTEEN_YEARS_SECONDS,
    dailyMeetingLimit: options.dailyMeetingLimit ?? 100,
  });
  const { settings } = state;
  const sign = (body: string, timestampSeconds = Math.floor(state.now() / 1000)) => signWebhook(settings.webhookSecret, body, timestampSeconds);

  const controls: EmulatorControls = {
    addUser: (partial) => ({ ...state.addUser(partial) }),
    users: () => [...state.users.values()].map((u) => ({ ...u })),
    expireAccessTokens: (userId) => state.expireAccessTokens(userId),
    revokeAllTokens: (userId) => state.revokeAllTokens(userId),
    hasLiveGrant: (userId) => state.hasLiveGrant(userId),
    failNext: (count, failure) => state.queueFailures(count, failure),
    dropNextRefreshResponses: (count = 1) => {
      state.droppedRefreshResponses += count;
    },
    setTokenLifetimes: (lifetimes) => {
      if (lifetimes.accessTokenSeconds !== undefined) settings.accessTokenSeconds = lifetimes.accessTokenSeconds;
      if (lifetimes.refreshTokenSeconds !== undefined) settings.refreshTokenSeconds = lifetimes.refreshTokenSeconds;
    },
    setDailyMeetingLimit: (limit) => {
      settings.dailyMeetingLimit = limit;
    },
    meetings: (userId) => [...state.meetings.values()].filter((m) => userId === undefined || m.host_id === userId).map((m) => structuredClone(m)),
    tokenRequests: () => state.tokenLog.map((r) => ({ ...r })),
    async sendDeauthorization(userId, webhookUrl) {
      const user = state.users.get(userId);
      if (!user) throw new Error(`No emulator user ${userId}`);
      // Revoked first: by the time the receiver reacts, Zoom has already killed the tokens.
      state.revokeAllTokens(userId);
      const body = deauthorizationEvent({ user, clientId: settings.clientId, secret: settings.webhookSecret, now: state.now() });
      return deliverWebhook(webhookUrl, body, sign(body));
    },
    issueAuthorizationCode: ({ userId }) => {
      const codeVerifier = randomBytes(32).toString('base64url');
      const code = state.issueCode({ clientId: settings.clientId, userId, redirectUri: settings.redirectUri, challenge: s256Challenge(codeVerifier) });
      return { code, codeVerifier };
    },
    signWebhook: sign,
  };

  const app = new Hono();
  app.onError((err, c) => {
    // A dropped response must look like a network failure to an in-process caller too.
    if (err instanceof ConnectionDropped) throw err;
    return c.json({ code: 500, message: 'Internal server error' }, 500);
  });
  app.use(loopbackOnly());
  app.use(bodyLimit({ maxSize: MAX_BODY_BYTES, onError: (c) => c.json({ code: 413, message: `Request body is larger than ${MAX_BODY_BYTES} bytes.` }, 413) }));
  app.route('/', oauthRoutes(state));
  app.route('/v2', apiRoutes(state));
  app.route('/__emulator', controlRoutes(controls));
  return { app, clientId: settings.clientId, clientSecret: settings.clientSecret, webhookSecret: settings.webhookSecret, controls };
}

/**
 * Serves the emulator with @hono/node-server, by default on a free port of
 * 127.0.0.1. `oauthBaseUrl` is its URL, `apiBaseUrl` that URL + `/v2`.
 *
 * @example
 * const zoom = await startZoomEmulator({ redirectUri: `${publicUrl}/oauth/zoom/callback`, clock });
 * // … point the Zoom client at zoom.oauthBaseUrl and zoom.apiBaseUrl …
 * await zoom.close();
 */
export async function startZoomEmulator(options: EmulatorOptions & { port?: number; hostname?: string }): Promise<RunningZoomEmulator> {
  const emulator = createZoomEmulator(options);
  const hostname = options.hostname ?? '127.0.0.1';
  const server = serve({ fetch: emulator.app.fetch, port: options.port ?? 0, hostname });
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  // A wildcard address is not something a client can connect to; loopback is.
  const host = hostname === '0.0.0.0' || hostname === '::' ? '127.0.0.1' : hostname;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    ...emulator,
    url,
    oauthBaseUrl: url,
    apiBaseUrl: `${url}/v2`,
    close: () =>
      new Promise<void>((resolve) => {
        // Resolves even when already closed: test teardowns may close twice.
        server.close(() => resolve());
        // Keep-alive sockets would hold close() open until they time out.
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}
