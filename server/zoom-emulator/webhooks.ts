import { createHmac } from 'node:crypto';
import type { EmulatorUser } from './state.js';

// A type alias, not an interface, so callers can pass it where a Record<string, string> of headers is expected.
export type WebhookSignatureHeaders = { 'x-zm-request-timestamp': string; 'x-zm-signature': string };

/**
 * Zoom's webhook signature: `v0=` + hex HMAC-SHA256(secret, `v0:{timestamp}:{raw body}`),
 * the timestamp in seconds.
 *
 * @example
 * signWebhook(secret, '{"event":"app_deauthorized"}', 1_700_000_000)
 * // { 'x-zm-request-timestamp': '1700000000', 'x-zm-signature': 'v0=…' }
 */
export function signWebhook(secret: string, body: string, timestampSeconds: number): WebhookSignatureHeaders {
  const ts = String(timestampSeconds);
  return { 'x-zm-request-timestamp': ts, 'x-zm-signature': `v0=${createHmac('sha256', secret).update(`v0:${ts}:${body}`).digest('hex')}` };
}

/**
 * The raw body of Zoom's `app_deauthorized` event. `event_ts` is both
 * top-level and in the payload, since receivers meet both shapes.
 */
export function deauthorizationEvent(input: { user: EmulatorUser; clientId: string; secret: string; now: number }): string {
  const { user, clientId, secret, now } = input;
  return JSON.stringify({
    event: 'app_deauthorized',
    event_ts: now,
    payload: {
      account_id: user.account_id,
      user_id: user.id,
      // Zoom's legacy per-event signature; receivers should rely on x-zm-signature instead.
      signature: createHmac('sha256', secret).update(`${user.account_id}:${user.id}:${now}`).digest('hex'),
      deauthorization_time: new Date(now).toISOString(),
      client_id: clientId,
      event_ts: now,
    },
  });
}

/** POSTs a signed webhook body as Zoom does. */
export function deliverWebhook(url: string, body: string, headers: WebhookSignatureHeaders): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
}
