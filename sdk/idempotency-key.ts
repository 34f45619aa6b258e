/**
 * A new random idempotency key: a UUID, or 32 hex digits where
 * `crypto.randomUUID` is missing (it exists only in secure contexts, so a
 * page served over plain HTTP lacks it). Send one key per booking attempt and
 * the same key with every retry of it, so the server books it once.
 *
 * @example client.createBooking(slug, request, { idempotencyKey: randomIdempotencyKey() })
 */
export function randomIdempotencyKey(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
