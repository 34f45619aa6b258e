import type { Context } from 'hono';
import type { EmulatorState, Failure } from './state.js';

const QPS_MESSAGE = 'You have reached the maximum per-second rate limit for this API. Try again later.';

/** Answers an injected failure the way Zoom does: its bodies, its rate-limit headers. */
export function failureResponse(c: Context, failure: Failure, state: EmulatorState): Response {
  const headers: Record<string, string> = {};
  let body = failure.body;
  if (failure.status === 429) {
    const type = failure.rateLimitType ?? 'QPS';
    headers['X-RateLimit-Type'] = type;
    if (type === 'Daily-limit') {
      headers['X-RateLimit-Remaining'] = '0';
      headers['Retry-After'] = failure.retryAfter ?? nextUtcMidnight(state.now());
      body ??= JSON.stringify({ code: 429, message: dailyLimitMessage(state.settings.dailyMeetingLimit) });
    } else {
      if (failure.retryAfter) headers['Retry-After'] = failure.retryAfter;
      body ??= JSON.stringify({ code: 429, message: QPS_MESSAGE });
    }
  } else if (failure.retryAfter) {
    headers['Retry-After'] = failure.retryAfter;
  }
  body ??= JSON.stringify({ code: failure.status, message: 'Internal server error' });
  const isJson = body.trimStart().startsWith('{');
  return new Response(body, { status: failure.status, headers: { 'Content-Type': isJson ? 'application/json' : 'text/html', ...headers } });
}

export function dailyLimitMessage(limit: number): string {
  return `You have exceeded the daily rate limit (${limit}) of Meeting Create/Update API requests permitted for this particular user. You may resume these requests at GMT 00:00:00.`;
}

export function nextUtcMidnight(now: number): string {
  const d = new Date(now);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1)).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Destroys the client's connection instead of answering: the response is
 * lost after the work was done. Needs the Node server's socket
 * (`c.env.incoming`); in-process `app.request` has none and throws instead.
 */
export function dropConnection(c: Context): Response {
  const incoming = (c.env as { incoming?: { socket?: { destroy(): void } } } | undefined)?.incoming;
  if (!incoming?.socket) throw new TypeError('fetch failed: the emulator dropped the response');
  incoming.socket.destroy();
  return new Response(null, { status: 204 });
}
