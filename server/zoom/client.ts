import { z } from 'zod';
import { systemClock, type Clock } from '../clock.js';
import { retryAfterDelay } from '../../sdk/retry-after.js';
import { readJsonOrUndefined } from '../../sdk/response-json.js';
import { ZoomApiError, ZoomMalformedAnswerError, ZoomMeetingNotFoundError, ZoomNetworkError, ZoomOAuthError } from './errors.js';

export interface ZoomClientOptions {
  clientId: string;
  clientSecret: string;
  /** Where Zoom sends the browser back: `<public URL>/oauth/zoom/callback`. */
  redirectUri: string;
  /** Default `https://zoom.us`. */
  oauthBaseUrl?: string;
  /** Default `https://api.zoom.us/v2`. */
  apiBaseUrl?: string;
  /** Attempts for a rate-limited or failing API call, the first included. Default 4. */
  maxAttempts?: number;
  /** Longest wait between attempts (and longest Retry-After honoured), ms. Default 2 000. */
  maxRetryDelayMs?: number;
  /** Per-request timeout, ms. Default 10 000. */
  timeoutMs?: number;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  /** Dates a Retry-After that names a time (Zoom's daily limit does). Default: the system clock. */
  clock?: Clock;
  /** Told of every request to Zoom and every token refresh (metrics). */
  observer?: ZoomCallObserver;
}

/** Which of Zoom's endpoints a request went to. */
export type ZoomOperation =
  | 'token_exchange'
  | 'token_refresh'
  | 'token_revoke'
  | 'get_me'
  | 'create_meeting'
  | 'list_meetings'
  | 'get_meeting'
  | 'update_meeting'
  | 'delete_meeting';

/** What went wrong with one request: its status class, or no answer at all. */
export type ZoomErrorKind = '401' | '429' | '4xx' | '5xx' | 'network' | 'timeout';

export interface ZoomCallObserver {
  /** One HTTP request (each retry is one): seconds until Zoom's response headers, and the error kind when it failed. */
  call(operation: ZoomOperation, seconds: number, errorKind: ZoomErrorKind | undefined): void;
  /** A token refresh ended: with new tokens, or without. */
  tokenRefresh(isSuccess: boolean): void;
}

function errorKindOf(status: number): ZoomErrorKind | undefined {
  if (status < 400) return undefined;
  if (status === 401 || status === 429) return String(status) as '401' | '429';
  return status >= 500 ? '5xx' : '4xx';
}

// Zoom's answers, as ../shared/zoom-contract.md describes them. Only what the
// project uses is required; a 2xx without it is refused rather than stored.

/** `POST /oauth/token`, 200. Both tokens are opaque, non-empty strings. */
const TokenAnswerSchema = z.object({
  access_token: z.string().min(1),
  refresh_token: z.string().min(1),
  expires_in: z.number().int().positive(),
  scope: z.string().default(''),
});

/** `GET /users/me`, 200: the connected Zoom user. */
const UserAnswerSchema = z.object({
  id: z.string().min(1),
  email: z.string().min(1),
  first_name: z.string().default(''),
  last_name: z.string().default(''),
  display_name: z.string().default(''),
  account_id: z.string().min(1),
});

/** Meeting ids are numbers. */
const MeetingIdSchema = z.number().int().positive();
/** Join and start links go into emails and pages: web links only. */
const MeetingLinkSchema = z.url({ protocol: /^https?$/ });

/** `POST /users/me/meetings` (201) and `GET /meetings/{id}` (200). */
const MeetingAnswerSchema = z.object({
  id: MeetingIdSchema,
  join_url: MeetingLinkSchema,
  start_url: MeetingLinkSchema,
  agenda: z.string().default(''),
  start_time: z.string().default(''),
});

/** `GET /users/me/meetings`, one page; an empty (or absent) `next_page_token` means the last page. */
const MeetingListAnswerSchema = z.object({
  next_page_token: z.string().default(''),
  meetings: z.array(z.object({ id: MeetingIdSchema, agenda: z.string().default('') })),
});

/** Zoom's `start_time` for an instant: UTC, whole seconds, `YYYY-MM-DDTHH:mm:ssZ`. */
const zoomStartTime = (instant: Date) => instant.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Zoom's contract: 404 code 3001 means the meeting does not exist (any more). */
const isMeetingUnknown = (error: unknown): error is ZoomApiError => error instanceof ZoomApiError && error.status === 404 && error.code === 3001;

/** Zoom's largest `page_size` for meeting lists. */
const MAX_PAGE_SIZE = 300;

/** A 2xx body checked against its schema. @throws ZoomMalformedAnswerError when it does not match. */
function parseAnswer<S extends z.ZodType>(operation: ZoomOperation, schema: S, body: unknown): z.output<S> {
  const parsed = schema.safeParse(body);
  // The issues name fields and rules, never the values: a token answer's values are secrets.
  if (!parsed.success) throw new ZoomMalformedAnswerError(operation, z.prettifyError(parsed.error));
  return parsed.data;
}

export interface ZoomTokens {
  accessToken: string;
  refreshToken: string;
  /** Seconds the access token lives, as Zoom said. */
  expiresIn: number;
  scope: string;
}

export interface ZoomUser {
  id: string;
  email: string;
  displayName: string;
  accountId: string;
}

export interface ZoomMeetingInput {
  topic: string;
  /** UTC instant. */
  startTime: Date;
  durationMinutes: number;
  timeZone: string;
  agenda: string;
}

/** A new time for an existing meeting (`PATCH /meetings/{id}`). */
export interface ZoomMeetingTimeChange {
  /** UTC instant. */
  startTime: Date;
  durationMinutes: number;
  timeZone: string;
}

export interface ZoomMeeting {
  id: string;
  joinUrl: string;
  startUrl: string;
  agenda: string;
  startTime: string;
}

export interface ZoomClient {
  /** The consent URL to send the browser to (PKCE S256). */
  authorizeUrl(params: { state: string; codeChallenge: string }): string;
  exchangeCode(code: string, codeVerifier: string): Promise<ZoomTokens>;
  refreshTokens(refreshToken: string): Promise<ZoomTokens>;
  revokeToken(accessToken: string): Promise<void>;
  getMe(accessToken: string): Promise<ZoomUser>;
  createMeeting(accessToken: string, input: ZoomMeetingInput, options?: CallOptions): Promise<ZoomMeeting>;
  /** Scheduled meetings of the token's user whose agenda contains `marker`, from every page of Zoom's list. */
  findMeetingsByAgendaMarker(accessToken: string, marker: string, options?: CallOptions): Promise<ZoomMeeting[]>;
  /**
   * Moves a meeting to a new time; it keeps its id and join link (Zoom answers 204).
   * @throws ZoomMeetingNotFoundError when Zoom does not know the meeting (404 code 3001): deleted at Zoom, or never there.
   * @throws ZoomApiError for other refusals, after the retries transient ones get.
   */
  updateMeeting(accessToken: string, meetingId: string, change: ZoomMeetingTimeChange, options?: CallOptions): Promise<void>;
  /** Deletes a meeting; one Zoom no longer knows (404 code 3001) counts as deleted. */
  deleteMeeting(accessToken: string, meetingId: string, options?: CallOptions): Promise<void>;
}

/** For API calls whose caller has a deadline or may lose its lease. */
export interface CallOptions {
  /**
   * Ends the call, its retries and the waits between them when it aborts:
   * the call then throws the signal's reason (not a `ZoomNetworkError`, so
   * it is never mistaken for a network failure worth retrying).
   */
  signal?: AbortSignal | undefined;
}

/**
 * The one client for Zoom's OAuth and REST API (user-level app). Base URLs
 * are configurable so tests and the demo point it at the emulator.
 *
 * API calls that hit a rate limit (429) or a server error (5xx) are retried
 * with capped exponential backoff, honouring Retry-After (seconds, or an ISO
 * timestamp as Zoom's daily limit sends); a daily limit is not retried.
 * Token calls are never retried: a refresh token is single-use, and a
 * retried refresh could burn a rotated one.
 *
 * Every answer that is read is checked with zod: a 2xx without what the
 * contract promises (a meeting id, web join and start links, both tokens
 * and their lifetime, the user's id) throws `ZoomMalformedAnswerError` and
 * is never used.
 */
export function createZoomClient(options: ZoomClientOptions): ZoomClient {
  const oauthBase = (options.oauthBaseUrl ?? 'https://zoom.us').replace(/\/+$/, '');
  const apiBase = (options.apiBaseUrl ?? 'https://api.zoom.us/v2').replace(/\/+$/, '');
  const maxAttempts = options.maxAttempts ?? 4;
  const maxRetryDelayMs = options.maxRetryDelayMs ?? 2_000;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const clock = options.clock ?? systemClock;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const basicAuth = `Basic ${Buffer.from(`${options.clientId}:${options.clientSecret}`).toString('base64')}`;
  const { observer } = options;

  async function send(operation: ZoomOperation, url: string, init: RequestInit, caller?: AbortSignal): Promise<Response> {
    const started = performance.now();
    const perRequest = AbortSignal.timeout(timeoutMs);
    try {
      const response = await fetchImpl(url, { ...init, signal: caller ? AbortSignal.any([perRequest, caller]) : perRequest });
      observer?.call(operation, (performance.now() - started) / 1000, errorKindOf(response.status));
      return response;
    } catch (error) {
      const name = (error as Error).name;
      observer?.call(operation, (performance.now() - started) / 1000, name === 'TimeoutError' ? 'timeout' : 'network');
      if (caller?.aborted) throw caller.reason;
      throw new ZoomNetworkError(`Zoom did not answer (${name})`, { cause: error });
    }
  }

  /** Waits `ms`, or throws the caller's reason as soon as its signal aborts. */
  async function sleepUnlessAborted(ms: number, caller: AbortSignal | undefined): Promise<void> {
    if (!caller) return sleep(ms);
    caller.throwIfAborted();
    let onAbort: () => void = () => {};
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(caller.reason);
      caller.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await Promise.race([sleep(ms), aborted]);
    } finally {
      caller.removeEventListener('abort', onAbort);
    }
  }

  async function tokenRequest(operation: 'token_exchange' | 'token_refresh', params: Record<string, string>): Promise<ZoomTokens> {
    const response = await send(operation, `${oauthBase}/oauth/token`, {
      method: 'POST',
      headers: { Authorization: basicAuth, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params),
    });
    const body = await readJsonOrUndefined(response);
    const refusal = body as { error?: unknown; reason?: unknown } | undefined;
    // Key on `error`, not on the status: Zoom has moved this from 401 to 400 before.
    if (!response.ok || typeof refusal?.error === 'string') {
      const error = typeof refusal?.error === 'string' ? refusal.error : `http_${response.status}`;
      throw new ZoomOAuthError(error, response.status, typeof refusal?.reason === 'string' ? refusal.reason : undefined);
    }
    const tokens = parseAnswer(operation, TokenAnswerSchema, body);
    return { accessToken: tokens.access_token, refreshToken: tokens.refresh_token, expiresIn: tokens.expires_in, scope: tokens.scope };
  }

  async function api<T>(operation: ZoomOperation, accessToken: string, method: string, path: string, json?: unknown, caller?: AbortSignal): Promise<T | undefined> {
    for (let attempt = 1; ; attempt++) {
      caller?.throwIfAborted();
      const response = await send(operation, `${apiBase}${path}`, {
        method,
        headers: {
          Authorization: `Bearer ${accessToken}`,
          Accept: 'application/json',
          ...(json === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        body: json === undefined ? undefined : JSON.stringify(json),
      }, caller);
      if (response.ok) return response.status === 204 ? undefined : ((await readJsonOrUndefined(response)) as T);
      const body = (await readJsonOrUndefined(response)) as { code?: unknown; message?: unknown } | undefined;
      // Retry-After comes as seconds or, on Zoom's daily limit, as an ISO timestamp.
      const retryAfter = retryAfterDelay(response.headers, clock().getTime());
      const error = new ZoomApiError(
        response.status,
        typeof body?.code === 'number' ? body.code : undefined,
        typeof body?.message === 'string' ? body.message : `Zoom answered ${response.status}`,
        response.headers.get('x-ratelimit-type') ?? undefined,
        retryAfter === undefined ? undefined : Math.max(1, Math.ceil(retryAfter / 1000)),
      );
      if (!error.isTransient || error.rateLimitType === 'Daily-limit' || attempt >= maxAttempts) throw error;
      const delay = retryAfter ?? Math.min(maxRetryDelayMs, 200 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
      if (delay > maxRetryDelayMs) throw error;
      await sleepUnlessAborted(delay, caller);
    }
  }

  const toMeeting = (operation: 'create_meeting' | 'get_meeting', body: unknown): ZoomMeeting => {
    const m = parseAnswer(operation, MeetingAnswerSchema, body);
    return { id: String(m.id), joinUrl: m.join_url, startUrl: m.start_url, agenda: m.agenda, startTime: m.start_time };
  };

  return {
    authorizeUrl({ state, codeChallenge }) {
      const url = new URL(`${oauthBase}/oauth/authorize`);
      url.search = new URLSearchParams({
        response_type: 'code',
        client_id: options.clientId,
        redirect_uri: options.redirectUri,
        state,
        code_challenge: codeChallenge,
        code_challenge_method: 'S256',
      }).toString();
      return url.toString();
    },

    exchangeCode(code, codeVerifier) {
      return tokenRequest('token_exchange', { grant_type: 'authorization_code', code, redirect_uri: options.redirectUri, code_verifier: codeVerifier });
    },

    async refreshTokens(refreshToken) {
      try {
        const tokens = await tokenRequest('token_refresh', { grant_type: 'refresh_token', refresh_token: refreshToken });
        observer?.tokenRefresh(true);
        return tokens;
      } catch (error) {
        observer?.tokenRefresh(false);
        throw error;
      }
    },

    async revokeToken(accessToken) {
      const response = await send('token_revoke', `${oauthBase}/oauth/revoke`, {
        method: 'POST',
        headers: { Authorization: basicAuth, 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: accessToken }),
      });
      await response.body?.cancel();
      if (!response.ok) throw new ZoomOAuthError(`http_${response.status}`, response.status, undefined);
    },

    async getMe(accessToken) {
      const me = parseAnswer('get_me', UserAnswerSchema, await api<unknown>('get_me', accessToken, 'GET', '/users/me'));
      const name = [me.first_name, me.last_name].filter((p) => p).join(' ');
      return { id: me.id, email: me.email, displayName: me.display_name || name, accountId: me.account_id };
    },

    async createMeeting(accessToken, input, options = {}) {
      const meeting = await api<unknown>('create_meeting', accessToken, 'POST', '/users/me/meetings', {
        topic: input.topic.slice(0, 200),
        type: 2,
        start_time: zoomStartTime(input.startTime),
        duration: input.durationMinutes,
        timezone: input.timeZone,
        agenda: input.agenda.slice(0, 2000),
        settings: { join_before_host: false, waiting_room: true },
      }, options.signal);
      return toMeeting('create_meeting', meeting);
    },

    async findMeetingsByAgendaMarker(accessToken, marker, options = {}) {
      const matches: number[] = [];
      let pageToken = '';
      const seenPageTokens = new Set<string>();
      // Every page: on a busy account the meeting may be on any of them.
      do {
        const query = new URLSearchParams({ type: 'scheduled', page_size: String(MAX_PAGE_SIZE) });
        if (pageToken) query.set('next_page_token', pageToken);
        const page = parseAnswer('list_meetings', MeetingListAnswerSchema, await api<unknown>('list_meetings', accessToken, 'GET', `/users/me/meetings?${query}`, undefined, options.signal));
        matches.push(...page.meetings.filter((m) => m.agenda.includes(marker)).map((m) => m.id));
        // A token handed out twice would page for ever: the list broke Zoom's contract.
        if (seenPageTokens.has(page.next_page_token)) throw new ZoomMalformedAnswerError('list_meetings', 'a page token came back twice');
        pageToken = page.next_page_token;
        seenPageTokens.add(pageToken);
      } while (pageToken);
      // The list omits start_url: read each match in full.
      return Promise.all(matches.map(async (id) => toMeeting('get_meeting', await api<unknown>('get_meeting', accessToken, 'GET', `/meetings/${id}`, undefined, options.signal))));
    },

    async updateMeeting(accessToken, meetingId, change, options = {}) {
      const body = { start_time: zoomStartTime(change.startTime), duration: change.durationMinutes, timezone: change.timeZone };
      try {
        await api('update_meeting', accessToken, 'PATCH', `/meetings/${encodeURIComponent(meetingId)}`, body, options.signal);
      } catch (error) {
        if (isMeetingUnknown(error)) throw new ZoomMeetingNotFoundError(meetingId, error);
        throw error;
      }
    },

    async deleteMeeting(accessToken, meetingId, options = {}) {
      try {
        await api('delete_meeting', accessToken, 'DELETE', `/meetings/${encodeURIComponent(meetingId)}`, undefined, options.signal);
      } catch (error) {
        // A meeting Zoom does not know is gone either way.
        if (isMeetingUnknown(error)) return;
        throw error;
      }
    },
  };
}

