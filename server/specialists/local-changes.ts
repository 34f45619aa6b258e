/**
 * When this process last changed something about a specialist that answers
 * are cached from: availability (slot lists) and allowed origins (CORS).
 * Caches check the database at once after a change made here; changes made
 * by another process sharing the database are seen at their next periodic
 * check.
 */
import { LruMap } from '../lru-map.js';

/** Change times (`performance.now()`); the least recently used are forgotten past 10 000 specialists. */
const localChanges = new LruMap<string, number>(10_000);

/** Notes a change this process is making to a specialist. Call it before the write, inside its transaction if any. */
export function noteLocalChange(specialistId: string): void {
  localChanges.set(specialistId, performance.now());
}

/** When this process last changed a specialist, or -Infinity (long ago, or never). */
function lastLocalChange(specialistId: string): number {
  return localChanges.get(specialistId) ?? -Infinity;
}

/**
 * True while an answer read from the database at `checkedAt` may be served
 * without reading it again: less than `recheckMs` old, and no local change
 * within `recheckMs` before it was read. The margin is for PostgreSQL, where
 * another connection may read between a change and its commit.
 *
 * @param specialistId undefined for an answer about no specialist (an unknown slug)
 */
export function isStillFresh(specialistId: string | undefined, checkedAt: number, now: number, recheckMs: number): boolean {
  return now - checkedAt < recheckMs && (specialistId === undefined || lastLocalChange(specialistId) < checkedAt - recheckMs);
}
