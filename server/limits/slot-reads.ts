import type { Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import type { Database } from '../db/schema.js';
import type { Logger } from '../logger.js';
import { LruMap } from '../lru-map.js';
import { addHits, MINUTE_MS, secondsUntil, windowOf } from './index.js';

export interface SlotReadLimiterOptions {
  db: Kysely<Database>;
  clock: Clock;
  logger: Logger;
  /** Reads per key (a client address) per window. */
  limit: number;
  /** Default one minute. */
  windowMs?: number;
  /** How often this process adds its counts to the shared ones, at most. Default 1 s. */
  shareEveryMs?: number;
  /** Keys counted in one window; past it the least recently read key is forgotten. Default 10 000. */
  capacity?: number;
}

export interface SlotReadLimiter {
  /**
   * Counts a read for `key`. Returns undefined when it is allowed, or the
   * seconds until its window ends when it is over the limit. Never waits
   * for the database.
   */
  hit(key: string): number | undefined;
  /** Adds the counts not yet shared to the database now, and learns the totals. */
  share(): Promise<void>;
}

interface Count {
  key: string;
  windowStart: number;
  /** Every process's reads in this window, as the database had them at the last share. */
  shared: number;
  /** This process's reads since then. */
  pending: number;
  isQueued: boolean;
}

/**
 * A per-key limit on slot reads that puts no database round trip on a read:
 * reads are counted in memory, and at most every `shareEveryMs` (on the
 * next read after that) the counts go to the database in one transaction,
 * which answers each key's total across processes.
 *
 * The slack, by design: a process learns the other processes' reads only
 * when it shares, so a key may get up to (processes − 1) × its reads in one
 * share interval beyond the limit; counts of a process that stops before it
 * shares are lost; and when more than `capacity` keys read in one window,
 * the least recently read key's count is forgotten by this process (what it
 * shared stays in the database, and it learns the total again at its next
 * share). A reader that keeps reading stays counted however many other
 * addresses read: rotating through addresses cannot clear its count.
 */
export function createSlotReadLimiter(options: SlotReadLimiterOptions): SlotReadLimiter {
  const { db, clock, logger, limit } = options;
  const windowMs = options.windowMs ?? MINUTE_MS;
  const shareEveryMs = options.shareEveryMs ?? 1000;
  const capacity = options.capacity ?? 10_000;
  // Only the current window's counts matter: they are dropped when it ends.
  const counts = new LruMap<string, Count>(capacity);
  let window = { start: 0, end: 0 };
  let unshared: Count[] = [];
  let nextShareAt = 0;
  let sharing: Promise<void> | undefined;

  async function shareCounts(): Promise<void> {
    const now = clock().getTime();
    nextShareAt = now + shareEveryMs;
    const batch = unshared.filter((count) => count.windowStart + windowMs > now).sort((a, b) => (a.key < b.key ? -1 : 1));
    for (const count of unshared) count.isQueued = false;
    unshared = [];
    if (batch.length === 0) return;
    const added = batch.map((count) => {
      const pending = count.pending;
      count.shared += pending;
      count.pending = 0;
      return pending;
    });
    try {
      await db.transaction().execute(async (trx) => {
        for (const [i, count] of batch.entries()) {
          const total = await addHits(trx, count.windowStart, `slots:address:${count.key}`, windowMs, added[i]!);
          count.shared = Math.max(count.shared, total);
        }
      });
    } catch (error) {
      // The local counts still hold; only the other processes' share is missed.
      logger.warn('slot read counts not shared', { error: (error as Error).message });
    }
  }

  function startSharing(): Promise<void> {
    sharing = shareCounts().finally(() => (sharing = undefined));
    return sharing;
  }

  return {
    hit(key) {
      const now = clock().getTime();
      if (now >= window.end || now < window.start) {
        window = windowOf(now, windowMs);
        counts.clear();
      }
      let count = counts.get(key);
      if (!count) {
        count = { key, windowStart: window.start, shared: 0, pending: 0, isQueued: false };
        counts.set(key, count);
      }
      if (count.shared + count.pending >= limit) return secondsUntil(window.end, now);
      count.pending++;
      if (!count.isQueued) {
        count.isQueued = true;
        unshared.push(count);
      }
      if (now >= nextShareAt && !sharing) void startSharing();
      return undefined;
    },
    async share() {
      if (sharing) await sharing;
      await startSharing();
    },
  };
}
