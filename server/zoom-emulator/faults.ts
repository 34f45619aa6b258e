import { STATUS_CODES } from 'node:http';
import type { Context } from 'hono';
import type { Failure } from './state.js';

const QPS_MESSAGE = 'You have reached the maximum per-second rate limit for this API. Try again later.';

/** Zoom's timestamps: UTC, whole seconds, `YYYY-MM-DDTHH:mm:ssZ`. */
export const zoomTime = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Zoom's daily meeting-limit message, with the configured limit. */
export function dailyLimitMessage(limit: number): string {
  return `You have exceeded the daily rate limit (${limit}) of Meeting Create/Update API requests permitted for this particular user. You may resume these requests at GMT 00:00:00.`;
}

/** The next 00:00 UTC after `now`, as Zoom's Daily-limit `Retry-After` (an ISO timestamp, not seconds). */
export function nextUtcMidnight(now: number): string {
  const d = new Date(now);
  return zoomTime(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1));
}

/** The headers of a Daily-limit 429, real or injected. */
export function dailyLimitHeaders(now: number, retryAfter?: string): Record<string, string> {
  return { 'X-RateLimit-Type': 'Daily-limit', 'X-RateLimit-Remaining': '0', 'Retry-After': retryAfter ?? nextUtcMidnight(now) };
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Answers an injected failure the way Zoom does: its bodies and rate-limit
 * headers, or the given body verbatim (Zoom's gateway sometimes answers with
 * HTML, so clients must not assume JSON).
 */
export function failureResponse(failure: Failure, now: number, dailyMeetingLimit: number): Response {
  let headers: Record<string, string> = {};
  let body = failure.body;
  if (failure.status === 429 && failure.rateLimitType === 'Daily-limit') {
    headers = dailyLimitHeaders(now, failure.retryAfter);
    body ??= JSON.stringify({ code: 429, message: dailyLimitMessage(dailyMeetingLimit) });
  } else if (failure.status === 429) {
    headers['X-RateLimit-Type'] = 'QPS';
    body ??= JSON.stringify({ code: 429, message: QPS_MESSAGE });
  } else if (failure.status >= 500) {
    body ??= JSON.stringify({ code: 500, message: 'Internal server error' });
  } else {
    body ??= JSON.stringify({ code: failure.status, message: STATUS_CODES[failure.status] ?? 'Error' });
  }
  if (failure.retryAfter) headers['Retry-After'] = failure.retryAfter;
  const contentType = isJson(body) ? 'application/json' : 'text/html; charset=utf-8';
  return new Response(body, { status: failure.status, headers: { 'Content-Type': contentType, ...headers } });
}

/**
 * Thrown (as `fetch` would reject) when a response must be lost but there is
 * no socket to cut: in-process `app.request`. The app's error handler
 * rethrows it, so the caller's promise rejects instead of seeing a 500.
 */
export class ConnectionDropped extends TypeError {
  constructor() {
    super('fetch failed');
    this.name = 'ConnectionDropped';
  }
}

/**
 * Destroys the client's connection instead of answering: the work is done,
 * the response is lost. @hono/node-server passes `{ incoming, outgoing }` as
 * the env bindings; without them (`app.request`) it throws `ConnectionDropped`.
 */
export function dropConnection(c: Context): Response {
  const incoming = (c.env as { incoming?: { socket?: { destroy(): void } } } | undefined)?.incoming;
  if (!incoming?.socket) throw new ConnectionDropped();
  incoming.socket.destroy();
  // Never delivered: the socket is gone. Hono still wants a Response.
  return new Response(null, { status: 204 });
}
