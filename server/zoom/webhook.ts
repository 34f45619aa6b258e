import { createHmac } from 'node:crypto';
import { isSameSecret } from '../security/constant-time.js';

/**
 * How far a webhook's timestamp may be from now, either way: older is a
 * replay; newer is a captured-in-advance or forged clock, which would stay
 * replayable for as long as it lies ahead.
 */
export const WEBHOOK_TOLERANCE_SECONDS = 300;

/**
 * Checks Zoom's `x-zm-signature` (`v0=` hex HMAC-SHA256 of
 * `v0:{timestamp}:{raw body}`) in constant time, and that the timestamp is
 * within the window: at most `toleranceSeconds` (default 300) before or
 * after `now`.
 */
export function isValidZoomSignature(input: {
  secret: string;
  rawBody: string;
  timestamp: string | undefined;
  signature: string | undefined;
  now: Date;
  toleranceSeconds?: number;
}): boolean {
  const { secret, rawBody, timestamp, signature } = input;
  if (!timestamp || !signature || !/^\d{1,12}$/.test(timestamp)) return false;
  const distance = Math.abs(input.now.getTime() / 1000 - Number(timestamp));
  if (distance > (input.toleranceSeconds ?? WEBHOOK_TOLERANCE_SECONDS)) return false;
  return isSameSecret(signature, `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${rawBody}`).digest('hex')}`);
}

/** The answer to Zoom's `endpoint.url_validation` challenge. */
export function urlValidationAnswer(secret: string, plainToken: string): { plainToken: string; encryptedToken: string } {
  return { plainToken, encryptedToken: createHmac('sha256', secret).update(plainToken).digest('hex') };
}
