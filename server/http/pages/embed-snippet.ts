import { slotsPath, specialistPath } from '../../../sdk/api-paths.js';
import { html, type SafeHtml } from './layout.js';

/**
 * The widget as a page embeds it: the script, the element, and a preload
 * hint for each answer the widget asks for first (the profile, and a named
 * service's times). The hints let the browser ask for them while the script
 * is on its way, not after it has run: one round trip less before the
 * customer sees anything (BENCHMARKS.md, "page load"). The URLs are the
 * SDK's own (`sdk/api-paths.ts`); a browser reuses a preloaded answer only
 * for the same URL.
 *
 * `serverUrl`: the booking server's public URL, for a page of another site;
 * without it, the paths are the page's own origin's.
 */
export function embedSnippet(slug: string, options: { serverUrl?: string; serviceId?: string } = {}): SafeHtml {
  const { serverUrl, serviceId } = options;
  const base = serverUrl ?? '';
  const preload = (path: string) => html`\n<link rel="preload" href="${base + path}" as="fetch" crossorigin>`;
  const paths = serviceId === undefined ? [specialistPath(slug)] : [specialistPath(slug), slotsPath(slug, serviceId)];
  const apiBase = serverUrl === undefined ? '' : html` api-base="${serverUrl}"`;
  const service = serviceId === undefined ? '' : html` service="${serviceId}"`;
  return html`<script type="module" src="${base}/widget/specialist-booking.js"></script>${paths.map(preload)}
<specialist-booking specialist="${slug}"${apiBase}${service}></specialist-booking>`;
}
