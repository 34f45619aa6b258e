import { Hono, type Context } from 'hono';
import { escapeHtml } from '../text/html.js';
import { isCrossSiteRequest } from '../http/cross-site.js';
import type { EmulatorControls } from './index.js';
import { MAX_QUEUED_FAILURES, type EmulatorUser, type Failure } from './state.js';

const TARGETS = new Set(['api', 'token', 'any']);
const RATE_LIMIT_TYPES = new Set(['QPS', 'Daily-limit']);

function controlPage(users: EmulatorUser[], meetingCount: number): string {
  const rows = users
    .map((u) => {
      const id = encodeURIComponent(u.id);
      const who = escapeHtml(u.display_name);
      return `<tr><td>${who}</td><td>${escapeHtml(u.email)}</td><td><code>${escapeHtml(u.id)}</code></td>
<td><form method="post" action="/__emulator/users/${id}/expire"><button aria-label="Expire access tokens of ${who}">Expire access tokens</button></form></td>
<td><form method="post" action="/__emulator/users/${id}/revoke"><button aria-label="Revoke all tokens of ${who}">Revoke all tokens</button></form></td></tr>`;
    })
    .join('\n');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Zoom emulator controls</title>
<style>body{font:16px/1.5 system-ui,sans-serif;margin:24px}table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:6px 10px;text-align:left}
button{font:inherit}button:focus-visible{outline:3px solid #1d4ed8;outline-offset:2px}</style></head>
<body><main><h1>Zoom emulator</h1>
<p>Users who authorized the app (a user appears when someone connects Zoom). Meetings: ${meetingCount}.</p>
<table><thead><tr><th scope="col">Name</th><th scope="col">Email</th><th scope="col">Id</th><th scope="col" colspan="2">Actions</th></tr></thead>
<tbody>${rows}</tbody></table></main></body></html>`;
}

/** Reads `{count, status, retryAfter?, rateLimitType?, body?, target?}`, or undefined when it is not that. */
function parseFailNext(input: unknown): { count: number; failure: Failure } | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  const { count, status, retryAfter, rateLimitType, body, target } = input as Record<string, unknown>;
  if (!Number.isInteger(count) || (count as number) < 0 || (count as number) > MAX_QUEUED_FAILURES) return undefined;
  if (!Number.isInteger(status) || (status as number) < 400 || (status as number) > 599) return undefined;
  if (retryAfter !== undefined && typeof retryAfter !== 'string') return undefined;
  if (body !== undefined && typeof body !== 'string') return undefined;
  if (rateLimitType !== undefined && !RATE_LIMIT_TYPES.has(rateLimitType as string)) return undefined;
  if (target !== undefined && !TARGETS.has(target as string)) return undefined;
  return { count: count as number, failure: { status: status as number, retryAfter, body, rateLimitType, target } as Failure };
}

/**
 * Controls for demos, over HTTP: a page listing the emulator's users with
 * buttons to expire or revoke their tokens, and the same as JSON endpoints.
 * Mounted at `/__emulator`. Its POSTs refuse cross-site requests with 403,
 * so a page on another site cannot revoke tokens or queue failures.
 */
export function controlRoutes(controls: EmulatorControls): Hono {
  const app = new Hono();

  app.on('POST', '*', async function refuseCrossSite(c, next) {
    if (isCrossSiteRequest(c)) return c.json({ code: 403, message: 'Cross-site requests to the emulator controls are refused.' }, 403);
    await next();
  });

  app.get('/', (c) => c.html(controlPage(controls.users(), controls.meetings().length)));

  app.get('/users', (c) => c.json(controls.users()));
  app.post('/users', async (c) => {
    const partial: unknown = await c.req.json().catch(() => ({}));
    const { email, first_name, last_name, display_name, timezone } = (typeof partial === 'object' && partial !== null ? partial : {}) as Record<string, unknown>;
    const fields = Object.entries({ email, first_name, last_name, display_name, timezone }).filter(([, v]) => typeof v === 'string');
    return c.json(controls.addUser(Object.fromEntries(fields) as Partial<EmulatorUser>), 201);
  });
  app.get('/meetings', (c) => c.json(controls.meetings()));

  // Forms on the page come back to it (303, so the browser GETs); JSON callers get JSON.
  const userAction = (action: (id: string) => void) => (c: Context) => {
    const id = c.req.param('id') ?? '';
    if (!controls.users().some((u) => u.id === id)) return c.json({ code: 1001, message: 'User does not exist.' }, 404);
    action(id);
    return (c.req.header('accept') ?? '').includes('application/json') ? c.json({ ok: true }) : c.redirect('/__emulator', 303);
  };
  app.post('/users/:id/expire', userAction((id) => controls.expireAccessTokens(id)));
  app.post('/users/:id/revoke', userAction((id) => controls.revokeAllTokens(id)));

  app.post('/fail-next', async (c) => {
    const parsed = parseFailNext(await c.req.json().catch(() => undefined));
    if (!parsed) {
      return c.json(
        { message: `Send {"count": 0-${MAX_QUEUED_FAILURES}, "status": 4xx|5xx, "retryAfter"?, "rateLimitType"?: "QPS"|"Daily-limit", "body"?, "target"?: "api"|"token"|"any"}` },
        400,
      );
    }
    try {
      controls.failNext(parsed.count, parsed.failure);
    } catch (error) {
      if (error instanceof RangeError) return c.json({ message: error.message }, 400);
      throw error;
    }
    return c.json({ ok: true });
  });

  return app;
}
