import { escapeHtml } from '../text/html.js';
import type { EmulatorUser } from './state.js';

const APP_NAME = 'specialist-booking';

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f3f4f6;color:#111827}
main{max-width:480px;margin:48px auto;background:#fff;border-radius:12px;padding:24px 28px;box-shadow:0 1px 3px #0002}
h1{font-size:1.4rem;margin-top:0}.brand{color:#0b5cff;font-weight:700}
label{display:block;font-weight:600;margin:16px 0 4px}select{font:inherit;padding:8px;width:100%}
.actions{display:flex;gap:12px;margin-top:24px}button{font:inherit;font-weight:600;border-radius:8px;padding:10px 20px;cursor:pointer}
.allow{background:#0b5cff;color:#fff;border:0}.deny{background:#fff;border:1px solid #6b7280;color:#111827}
button:focus-visible,select:focus-visible{outline:3px solid #1d4ed8;outline-offset:2px}ul{padding-left:20px}`;

function page(title: string, main: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><main>
<p class="brand">zoom <small>(local emulator)</small></p>
${main}
</main></body></html>`;
}

/**
 * The emulator's consent page: what a specialist sees on zoom.us when
 * connecting. The OAuth parameters travel in hidden inputs, so the form's
 * POST carries everything the code is bound to. Every value is escaped.
 */
export function consentPage(input: { params: Record<string, string>; users: EmulatorUser[]; scope: string; redirectUri: string }): string {
  const hidden = Object.entries(input.params)
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('\n');
  const options = input.users.map((u) => `<option value="${escapeHtml(u.id)}">${escapeHtml(u.display_name)} (${escapeHtml(u.email)})</option>`).join('');
  const scopes = input.scope
    .split(/\s+/)
    .filter(Boolean)
    .map((s) => `<li><code>${escapeHtml(s)}</code></li>`)
    .join('');
  return page(
    `Authorize ${APP_NAME} · Zoom (emulator)`,
    `<h1>${APP_NAME} would like to access your Zoom account</h1>
<p>It will be able to:</p>
<ul>${scopes}</ul>
<p>You will then return to <code>${escapeHtml(new URL(input.redirectUri).origin)}</code>.</p>
<form method="post" action="/oauth/authorize">
${hidden}
<label for="user_id">Zoom account</label>
<select id="user_id" name="user_id">${options}</select>
<div class="actions">
<button class="allow" type="submit" name="decision" value="allow">Allow</button>
<button class="deny" type="submit" name="decision" value="deny">Deny</button>
</div>
</form>`,
  );
}

/** A plain error page for requests the emulator will not redirect (bad client, bad redirect URI). */
export function errorPage(message: string): string {
  return page('Zoom (emulator): error', `<h1>Something is wrong with this request</h1><p>${escapeHtml(message)}</p>`);
}
