import { Hono, type Context } from 'hono';
import { escapeHtml } from '../http/html.js';
import type { EmulatorControls } from './index.js';
import type { EmulatorState } from './state.js';

/**
 * Controls for demos, over HTTP: a page listing the emulator's users with
 * buttons to expire or revoke their tokens, and the same as JSON endpoints.
 */
export function controlRoutes(state: EmulatorState, controls: EmulatorControls): Hono {
  const app = new Hono();

  app.get('/', (c) => {
    const rows = controls
      .users()
      .map(
        (u) => `<tr><td>${escapeHtml(u.display_name)}</td><td>${escapeHtml(u.email)}</td><td><code>${escapeHtml(u.id)}</code></td>
<td><form method="post" action="/__emulator/users/${encodeURIComponent(u.id)}/expire"><button>Expire access tokens</button></form></td>
<td><form method="post" action="/__emulator/users/${encodeURIComponent(u.id)}/revoke"><button>Revoke all tokens</button></form></td></tr>`,
      )
      .join('');
    return c.html(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Zoom emulator controls</title>
<style>body{font:16px/1.5 system-ui,sans-serif;margin:24px}table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:6px 10px;text-align:left}button{font:inherit}</style></head>
<body><h1>Zoom emulator</h1><p>Users who authorized the app (a user appears when someone connects Zoom). Meetings: ${controls.meetings().length}.</p>
<table><thead><tr><th scope="col">Name</th><th scope="col">Email</th><th scope="col">Id</th><th scope="col" colspan="2">Actions</th></tr></thead><tbody>${rows}</tbody></table>
</body></html>`);
  });

  app.get('/users', (c) => c.json(controls.users()));
  app.get('/meetings', (c) => c.json(controls.meetings()));

  const userAction = (action: (id: string) => void) => (c: Context) => {
    const id = c.req.param('id') ?? '';
    if (!state.users.has(id)) return c.json({ code: 1001, message: 'User does not exist.' }, 404);
    action(id);
    return (c.req.header('accept') ?? '').includes('application/json') ? c.json({ ok: true }) : c.redirect('/__emulator', 303);
  };
  app.post('/users/:id/expire', userAction((id) => controls.expireAccessTokens(id)));
  app.post('/users/:id/revoke', userAction((id) => controls.revokeAllTokens(id)));

  app.post('/fail-next', async (c) => {
    const body = (await c.req.json().catch(() => ({}))) as { count?: number; status?: number; rateLimitType?: 'QPS' | 'Daily-limit'; target?: 'api' | 'token' | 'any' };
    if (!Number.isInteger(body.count) || !Number.isInteger(body.status)) return c.json({ message: 'Send {"count": n, "status": 5xx|429}' }, 400);
    controls.failNext(body.count!, { status: body.status!, rateLimitType: body.rateLimitType, target: body.target });
    return c.json({ ok: true });
  });

  return app;
}
