import { timingSafeEqual } from 'node:crypto';

/**
 * Whether a secret someone sent (a signature, a mark) equals the expected
 * one, compared in constant time so the answer's timing tells nothing about
 * how much of it matched. Different lengths are unequal at once; the length
 * of a signature is no secret.
 *
 * @example isSameSecret(signatureFromLink, sign(id))
 */
export function isSameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
