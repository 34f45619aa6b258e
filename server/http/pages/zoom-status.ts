import type { ZoomConnectionRow } from '../../zoom/connections.js';
import type { ReauthReason } from '../../zoom/connections.js';
import type { WaitingRequest } from '../../bookings/held-requests.js';
import { formatWhen } from '../../email/format.js';
import { formatDayAndTime } from '../../email/held-templates.js';
import type { ZoomHealthResult } from '../../zoom/health.js';
import { html, type SafeHtml } from './layout.js';

const REASONS_FOR_SPECIALISTS: Record<ReauthReason, string> = {
  not_connected: 'no Zoom account is connected',
  refresh_token_rejected: 'Zoom no longer accepts this app’s authorization (it expired or was revoked)',
  access_token_rejected: 'Zoom refused this app’s access (it was revoked or lacks a permission)',
  deauthorized_in_zoom: 'the app was removed from your Zoom account',
};

const HEALTH_RESULTS: Record<ZoomHealthResult, string> = {
  ok: 'Zoom answered; the connection works',
  dead: 'the connection no longer works',
  unreachable: 'Zoom could not be reached; it is checked again shortly',
};

/** When the routine check (issue #17) last looked at the connection and what it found (a new authorization clears it). */
function lastCheckLine(connection: ZoomConnectionRow, timeZone: string): SafeHtml {
  const checkedAt = connection.health_checked_at;
  if (checkedAt === null) return html`<p class="hint" id="zoom-last-check">Not checked yet: a routine check looks at the connection every few hours.</p>`;
  const result = HEALTH_RESULTS[(connection.health_check_result ?? 'unreachable') as ZoomHealthResult];
  return html`<p class="hint" id="zoom-last-check">Last checked ${formatWhen(new Date(checkedAt), timeZone)}: ${result}.</p>`;
}

/** A button that starts Zoom's consent flow: a POST with the session's CSRF token, since it changes state. */
function connectButton(csrfToken: string, label: string, kind: 'button' | 'button secondary' = 'button'): SafeHtml {
  return html`<form class="inline" method="post" action="/settings/zoom/connect">
    <input type="hidden" name="_csrf" value="${csrfToken}">
    <button class="${kind}" type="submit">${label}</button>
  </form>`;
}

/**
 * The customers whose requests are held (issue #17), soonest deadline first:
 * who, what, when, and until when it is held. Nothing when none wait.
 */
function waitingRequestsList(waiting: readonly WaitingRequest[], connection: ZoomConnectionRow | undefined, timeZone: string): SafeHtml | '' {
  if (waiting.length === 0) return '';
  const customers = waiting.length === 1 ? '1 customer is waiting' : `${waiting.length} customers are waiting`;
  const title = !connection
    ? `${customers} for you to connect Zoom`
    : connection.status === 'active'
      ? `${customers}: their requests are being confirmed now`
      : `${customers} for you to re-authorize`;
  return html`<div id="waiting-requests">
  <h3 id="waiting-requests-title">${title}</h3>
  <p class="hint">Each request is confirmed by itself, with both invitations, the moment Zoom works again; one not confirmed by its deadline expires and the customer is told. Times in ${timeZone}.</p>
  <table aria-labelledby="waiting-requests-title"><thead><tr><th scope="col">Customer</th><th scope="col">Service</th><th scope="col">Session</th><th scope="col">Held until</th></tr></thead><tbody>
${waiting.map(
  (w) =>
    html`<tr id="waiting-${w.id}"><td>${w.customerName}</td><td>${w.serviceTitle}</td><td>${formatDayAndTime(new Date(w.start), timeZone)}</td><td>held until ${formatDayAndTime(new Date(w.holdExpiresAt), timeZone)}</td></tr>`,
)}</tbody></table>
</div>`;
}

/**
 * The Zoom status card: who is connected, whether it works, the one action
 * that helps, and the customers whose requests wait for it (`waiting`).
 */
export function zoomStatusCard(
  connection: ZoomConnectionRow | undefined,
  csrfToken: string,
  timeZone: string,
  options: {
    heading?: string;
    waiting?: readonly WaitingRequest[];
    /** Whether the specialist holds requests while Zoom needs re-authorizing (a hold window above 0). */
    holdsRequests?: boolean;
  } = {},
): SafeHtml {
  const heading = options.heading ?? 'Zoom';
  const waiting = waitingRequestsList(options.waiting ?? [], connection, timeZone);
  if (!connection) {
    return html`<section class="card" aria-labelledby="zoom-status-title">
  <h2 id="zoom-status-title">${heading} <span class="badge none">Not connected</span></h2>
  <p>Every booking needs a Zoom meeting. Connect your Zoom account so customers can book you.</p>
  ${waiting}
  <div class="actions">${connectButton(csrfToken, 'Connect Zoom')}</div>
</section>`;
  }
  const disconnect = html`<form class="inline" method="post" action="/settings/zoom/disconnect">
    <input type="hidden" name="_csrf" value="${csrfToken}">
    <button class="button secondary" type="submit">Disconnect</button>
  </form>`;
  if (connection.status === 'active') {
    return html`<section class="card" aria-labelledby="zoom-status-title">
  <h2 id="zoom-status-title">${heading} <span class="badge ok">Healthy</span></h2>
  <p>Connected as <strong>${connection.zoom_display_name}</strong> (${connection.zoom_email}). New bookings get a Zoom meeting automatically.</p>
  ${lastCheckLine(connection, timeZone)}
  ${waiting}
  <div class="actions">${connectButton(csrfToken, 'Switch Zoom account', 'button secondary')} ${disconnect}</div>
</section>`;
  }
  const reason = REASONS_FOR_SPECIALISTS[(connection.invalid_reason ?? 'refresh_token_rejected') as ReauthReason];
  const attempts = connection.failed_booking_attempts;
  return html`<section class="card" aria-labelledby="zoom-status-title">
  <h2 id="zoom-status-title">${heading} <span class="badge bad">Needs re-authorization</span></h2>
  <p>Since ${formatWhen(new Date(connection.invalid_since ?? connection.updated_at), timeZone)}: ${reason}.
  ${attempts > 0 ? html`<strong>${attempts} booking attempt${attempts === 1 ? '' : 's'} failed</strong> since then.` : ''}</p>
  <p>${
    options.holdsRequests
      ? 'Customers who book now have their time held until you re-authorize, within your hold time, and are confirmed the moment you do. It takes under a minute.'
      : 'Customers cannot book you until you re-authorize. It takes under a minute.'
  }</p>
  ${lastCheckLine(connection, timeZone)}
  ${waiting}
  <div class="actions">${connectButton(csrfToken, 'Re-authorize Zoom')} ${disconnect}</div>
</section>`;
}
