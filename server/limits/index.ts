/**
 * Abuse limits kept in the database, so every server process over it counts
 * into the same buckets (SQLite or PostgreSQL).
 *
 * Each limit is a fixed window aligned on the epoch: a day window is a UTC
 * day (Zoom's meeting quota is counted per UTC day), an hour window a clock
 * hour. A refused request is told, in seconds, when its window ends.
 */
import { sql, type Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import type { Database } from '../db/schema.js';

export { CHANGES_PER_BOOKING_PER_DAY, countBookingChange, type BookingChangeLimitDeps } from './booking-changes.js';
export { createSlotReadLimiter, type SlotReadLimiter, type SlotReadLimiterOptions } from './slot-reads.js';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

/** The configured limits (see `server/config.ts` for the variables and defaults). */
export interface AbuseLimits {
  /** Bookings per client address (IPv6 by /64) per clock hour. */
  bookingsPerAddressPerHour: number;
  /** Bookings per customer email with one specialist per UTC day. */
  bookingsPerCustomerPerDay: number;
  /** Bookings per specialist per UTC day: each one asks Zoom for a meeting, and Zoom allows 100 a day. */
  bookingsPerSpecialistPerDay: number;
  /** Slot list reads per client address per minute. */
  slotReadsPerAddressPerMinute: number;
}

/** One limit to count a hit on: at most `limit` hits in each window of `windowMs`. */
export interface Limit {
  bucket: string;
  limit: number;
  windowMs: number;
}

/** Whether a hit was allowed; when not, how many seconds until its window ends. */
export type LimitVerdict = { isAllowed: true } | { isAllowed: false; retryAfterSeconds: number };

/** The window `now` falls in, for windows of `windowMs`. */
export function windowOf(now: number, windowMs: number): { start: number; end: number } {
  const start = Math.floor(now / windowMs) * windowMs;
  return { start, end: start + windowMs };
}

/** Seconds from `now` to `end`, rounded up and at least 1 (a Retry-After of 0 would invite a retry at once). */
export function secondsUntil(end: number, now: number): number {
  return Math.max(1, Math.ceil((end - now) / 1000));
}

/**
 * Adds `hits` to a bucket's count in the current window (a row of an
 * earlier window starts over) in one upsert, and returns the new count.
 * Concurrent adds to one bucket queue on its row, so none is lost.
 */
export async function addHits(db: Kysely<Database>, now: number, bucket: string, windowMs: number, hits: number): Promise<number> {
  const window = windowOf(now, windowMs);
  const windowStart = new Date(window.start).toISOString();
  const isOldWindow = sql<boolean>`rate_limits.window_start < excluded.window_start`;
  const row = await db
    .insertInto('rate_limits')
    .values({ bucket, window_start: windowStart, expires_at: new Date(window.end).toISOString(), hits })
    .onConflict((oc) =>
      oc.column('bucket').doUpdateSet({
        hits: sql<number>`case when ${isOldWindow} then excluded.hits else rate_limits.hits + excluded.hits end`,
        window_start: sql<string>`case when ${isOldWindow} then excluded.window_start else rate_limits.window_start end`,
        expires_at: sql<string>`case when ${isOldWindow} then excluded.expires_at else rate_limits.expires_at end`,
      }),
    )
    .returning('hits')
    .executeTakeFirstOrThrow();
  return Number(row.hits);
}

/**
 * Counts one hit on each limit, inside the caller's transaction: when any is
 * over, the verdict says so and the caller must roll the transaction back
 * (throw), which also takes back the hits counted here. Buckets are counted
 * in name order, so two transactions never wait on each other's rows in
 * opposite orders (a deadlock on PostgreSQL).
 */
export async function countHits(trx: Kysely<Database>, clock: Clock, limits: readonly Limit[]): Promise<LimitVerdict> {
  const now = clock().getTime();
  let retryAfterSeconds = 0;
  for (const limit of [...limits].sort((a, b) => (a.bucket < b.bucket ? -1 : a.bucket > b.bucket ? 1 : 0))) {
    const hits = await addHits(trx, now, limit.bucket, limit.windowMs, 1);
    if (hits > limit.limit) retryAfterSeconds = Math.max(retryAfterSeconds, secondsUntil(windowOf(now, limit.windowMs).end, now));
  }
  return retryAfterSeconds === 0 ? { isAllowed: true } : { isAllowed: false, retryAfterSeconds };
}

class LimitRefused extends Error {
  constructor(readonly verdict: LimitVerdict) {
    super('over a limit');
  }
}

/**
 * Counts one hit on each limit in a transaction of its own. A refused hit
 * counts nothing, so being refused does not push the window's end further.
 *
 * @example
 * const verdict = await hitRateLimits(db, clock, [{ bucket: `sign-in:email:${email}`, limit: 5, windowMs: 15 * MINUTE_MS }]);
 * if (!verdict.isAllowed) return { kind: 'rate_limited', retryAfterSeconds: verdict.retryAfterSeconds };
 */
export async function hitRateLimits(db: Kysely<Database>, clock: Clock, limits: readonly Limit[]): Promise<LimitVerdict> {
  try {
    return await db.transaction().execute(async (trx) => {
      const verdict = await countHits(trx, clock, limits);
      if (!verdict.isAllowed) throw new LimitRefused(verdict);
      return verdict;
    });
  } catch (error) {
    if (error instanceof LimitRefused) return error.verdict;
    throw error;
  }
}

/**
 * Deletes limit rows whose window ended before `now`; returns how many. For
 * the retention job: an ended window counts nothing either way.
 */
export async function deleteExpiredLimits(db: Kysely<Database>, now: Date): Promise<number> {
  const result = await db.deleteFrom('rate_limits').where('expires_at', '<=', now.toISOString()).executeTakeFirst();
  return Number(result.numDeletedRows);
}
