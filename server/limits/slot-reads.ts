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
  /** Keys counted at once; the least recently seen beyond it are forgotten. Default 10 000. */
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
  windowStart: number;
  /** Every process's reads in this window, as the database had them at the last share. */
  shared: number;
  /** This process's reads since then. */
  pending: number;
}

/**
 * A per-key limit on slot reads that puts no database round trip on a read:
 * reads are counted in memory, and at most every `shareEveryMs` (on the
 * next read after that) the counts go to the database in one transaction,
 * which answers each key's total across processes.
 *
 * The slack, by design: a process learns the other processes' reads only
 * when it shares, so a key may get up to (processes − 1) × its reads in one
 * share interval beyond the limit; counts of a key forgotten (beyond
 * `capacity`) or not shared when a process stops are lost.
 */
export function createSlotReadLimiter(options: SlotReadLimiterOptions): SlotReadLimiter {
  const { db, clock, logger, limit } = options;
  const windowMs = options.windowMs ?? MINUTE_MS;
  const shareEveryMs = options.shareEveryMs ?? 1000;
  const counts = new LruMap<string, Count>(options.capacity ?? 10_000);
  let unshared = new Map<string, Count>();
  let nextShareAt = 0;
  let sharing: Promise<void> | undefined;

  async function shareCounts(): Promise<void> {
    const now = clock().getTime();
    nextShareAt = now + shareEveryMs;
    const batch = [...unshared].filter(([, count]) => count.windowStart + windowMs > now).sort(([a], [b]) => (a < b ? -1 : 1));
    unshared = new Map();
    if (batch.length === 0) return;
    const added = batch.map(([, count]) => {
      const pending = count.pending;
      count.shared += pending;
      count.pending = 0;
      return pending;
    });
    try {
      await db.transaction().execute(async (trx) => {
        for (const [i, [key, count]] of batch.entries()) {
          const total = await addHits(trx, count.windowStart, `slots:address:${key}`, windowMs, added[i]!);
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
      const { start, end } = windowOf(now, windowMs);
      let count = counts.get(key);
      if (!count || count.windowStart !== start) {
        count = { windowStart: start, shared: 0, pending: 0 };
        counts.set(key, count);
      }
      if (count.shared + count.pending >= limit) return secondsUntil(end, now);
      count.pending++;
      unshared.set(key, count);
      if (now >= nextShareAt && !sharing) void startSharing();
      return undefined;
    },
    async share() {
      if (sharing) await sharing;
      await startSharing();
    },
  };
}
