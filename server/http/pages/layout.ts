import { escapeHtml } from '../../text/html.js';

/** HTML that is already safe to insert: build it only with `html` and `escapeHtml`. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/**
 * Tagged template for server-rendered pages: interpolated strings are
 * escaped, `SafeHtml` (and arrays of it) is inserted as is.
 */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0]!;
  values.forEach((value, i) => {
    out += render(value) + strings[i + 1]!;
  });
  return new SafeHtml(out);
}

function render(value: unknown): string {
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === null || value === undefined || value === false) return '';
  return escapeHtml(String(value));
}

export type Flash = { kind: 'success' | 'error'; message: string };

/** The page frame shared by the specialist-facing pages. Pass `csrfToken` when signed in. */
export function layout(options: { title: string; body: SafeHtml; flash?: Flash | undefined; csrfToken?: string | undefined }): string {
  const nav = options.csrfToken
    ? html`<nav aria-label="Main"><a href="/dashboard">Dashboard</a><a href="/settings">Settings</a>
<form class="inline" method="post" action="/sign-out"><input type="hidden" name="_csrf" value="${options.csrfToken}"><button class="link" type="submit">Sign out</button></form></nav>`
    : '';
  return `<!doctype html>${html`<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>${options.title} · specialist-booking</title>
<style>${new SafeHtml(STYLES)}</style>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top"><a href="${options.csrfToken ? '/dashboard' : '/sign-in'}" class="brand">specialist-booking</a>${nav}</header>
<main id="main" tabindex="-1">
${options.flash ? html`<p class="flash ${options.flash.kind}" role="${options.flash.kind === 'error' ? 'alert' : 'status'}">${options.flash.message}</p>` : ''}
${options.body}
</main>
</body>
</html>`}`;
}

const STYLES = `
:root{--brand:#4f46e5;--ok:#047857;--warn:#b45309;--bad:#b91c1c;--ink:#111827;--muted:#4b5563;--line:#e5e7eb;font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--ink)}
body{margin:0;background:#f9fafb}
.top{background:#fff;border-bottom:1px solid var(--line);padding:12px 24px;display:flex;flex-wrap:wrap;gap:16px;align-items:center;justify-content:space-between}
.top nav{display:flex;gap:16px;align-items:center}.top nav a{color:var(--ink)}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:8px;z-index:1}
button.link{background:none;border:0;padding:0;font:inherit;color:var(--ink);text-decoration:underline;cursor:pointer}
label{display:block;font-weight:600;margin:12px 0 4px}
input[type=text],input[type=email],input[type=url],select,textarea{font:inherit;padding:8px 10px;border:1px solid #9ca3af;border-radius:8px;width:100%;box-sizing:border-box;background:#fff}
input:focus-visible,select:focus-visible,textarea:focus-visible,button:focus-visible{outline:3px solid #a5b4fc;outline-offset:2px}
.hint{color:var(--muted);font-size:.875rem;margin:4px 0 0}
.row{display:grid;grid-template-columns:repeat(auto-fit,minmax(160px,1fr));gap:12px}
table{width:100%;border-collapse:collapse}th,td{text-align:left;padding:8px;border-bottom:1px solid var(--line);vertical-align:top}
pre.snippet{background:#111827;color:#f9fafb;padding:12px;border-radius:8px;overflow:auto;font-size:.875rem;white-space:pre-wrap;overflow-wrap:anywhere}
.actions{display:flex;flex-wrap:wrap;gap:12px;align-items:center;margin-top:16px}
details{margin:8px 0}summary{cursor:pointer;font-weight:600}
.brand{font-weight:700;color:var(--ink);text-decoration:none}
main{max-width:720px;margin:0 auto;padding:24px}
h1{font-size:1.6rem;margin:0 0 16px}
.card{background:#fff;border:1px solid var(--line);border-radius:12px;padding:20px;margin:16px 0}
.badge{display:inline-block;border-radius:999px;padding:2px 10px;font-size:.875rem;font-weight:600}
.badge.ok{background:#d1fae5;color:var(--ok)}.badge.bad{background:#fee2e2;color:var(--bad)}.badge.none{background:#f3f4f6;color:var(--muted)}
.flash{border-radius:8px;padding:12px 16px}.flash.success{background:#d1fae5;color:#064e3b}.flash.error{background:#fee2e2;color:#7f1d1d}
.button{display:inline-block;border:0;border-radius:8px;padding:10px 18px;font:inherit;font-weight:600;cursor:pointer;text-decoration:none;background:var(--brand);color:#fff}
.button.danger{background:var(--bad)}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0}dl.facts dt{font-weight:600}dl.facts dd{margin:0;overflow-wrap:anywhere}
@media (max-width:480px){main{padding:12px}.card{padding:14px}.top{padding:10px 12px}}
.button.secondary{background:#fff;color:var(--ink);border:1px solid var(--line)}
.button:focus-visible,a:focus-visible{outline:3px solid #a5b4fc;outline-offset:2px}
.muted{color:var(--muted)}
form.inline{display:inline}
`;
