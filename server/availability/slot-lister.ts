import { requireSpecialist, type SpecialistRow } from '../specialists/index.js';
import { isStillFresh } from '../specialists/local-changes.js';
import { computeSlotList, resolveSlotRange, type AvailabilityDeps, type ListSlotsInput, type SlotList, type SlotRange } from './index.js';

export interface SlotLister {
  /**
   * Free slots of a service over a range. A repeated question gets the same
   * object back while the answer holds, so callers may cache what they derive
   * from it (a serialized body) by identity.
   *
   * @throws DomainError as `listFreeSlots` does.
   */
  list(input: ListSlotsInput): Promise<SlotList>;
  /**
   * The answer `list` would give without reading the database, when it holds
   * one that is still fresh; otherwise undefined. Synchronous, for the hot
   * path of a repeated question.
   *
   * @throws DomainError `validation_failed` for a range `list` refuses.
   */
  peek(input: ListSlotsInput): SlotList | undefined;
}

export interface SlotListerOptions {
  /** How long an answer is served without asking the database whether it changed. Default 250 ms. */
  recheckMs?: number;
  /** Most slots held across all answers; the least recently used answers go first. Default 200 000. */
  maxSlots?: number;
  /** A monotonic clock in milliseconds that `recheckMs` is measured on. Default `performance.now()`. */
  monotonicNow?: () => number;
}

interface Entry {
  specialistId: string;
  stamp: string;
  /** `monotonicNow()` when the stamp was last read from the database. */
  checkedAt: number;
  /** Clock time (epoch ms) after which the answer is stale by itself. */
  validUntil: number;
  list: SlotList;
  size: number;
}

/** Everything about a specialist that a slot list depends on, as one comparable string. */
function stampOf(specialist: SpecialistRow): string {
  return [
    specialist.availability_version,
    specialist.time_zone,
    specialist.slot_step_minutes,
    specialist.min_notice_minutes,
    specialist.booking_horizon_days,
  ].join(' ');
}

/**
 * Lists free slots, keeping each answer until it changes. Slot lists are read
 * far more often than bookings are made — every visitor of every page that
 * embeds the widget asks — so an answer is reused while:
 *
 * - the clock has not reached the instant it goes stale by itself (the first
 *   slot falls inside the minimum notice, or the next one comes inside the
 *   booking horizon), and
 * - the specialist's `availability_version` (raised in the same transaction
 *   as every change to claims, weekly hours and services) and slot settings
 *   are what they were. Changes made by this process are checked at once;
 *   changes by another process sharing the database are seen within
 *   `recheckMs`. A slot shown free that was taken that instant is refused
 *   at booking by the claim it collides with, as any race is.
 *
 * Questions are kept by the range they are answered over: one without a
 * `from`, or with one that has passed, is answered from the start of the
 * current hour, so all of them in that hour share one answer, and the first
 * rule above keeps it from offering a slot that can no longer be booked.
 */
export function createSlotLister(deps: AvailabilityDeps, options: SlotListerOptions = {}): SlotLister {
  const recheckMs = options.recheckMs ?? 250;
  const maxSlots = options.maxSlots ?? 200_000;
  const monotonicNow = options.monotonicNow ?? performance.now.bind(performance);
  const entries = new Map<string, Entry>();
  let heldSlots = 0;

  function remember(key: string, entry: Entry): void {
    forget(key);
    if (entry.size > maxSlots) return;
    while (heldSlots + entry.size > maxSlots) forget(entries.keys().next().value!);
    entries.set(key, entry);
    heldSlots += entry.size;
  }

  function forget(key: string): void {
    const entry = entries.get(key);
    if (!entry) return;
    entries.delete(key);
    heldSlots -= entry.size;
  }

  /** True while the entry may be served without reading the database. */
  function isFresh(entry: Entry, checkTime: number): boolean {
    return isStillFresh(entry.specialistId, entry.checkedAt, checkTime, recheckMs);
  }

  /**
   * The cache key of a question: its range as answered, so every question
   * whose range has begun in this hour shares one key (`resolveSlotRange`).
   *
   * @throws DomainError `validation_failed` for a range `list` refuses.
   */
  function cacheKeyOf(input: ListSlotsInput, now: number): { key: string; range: SlotRange } {
    const range = resolveSlotRange(input, now);
    return { key: `${input.slug} ${input.serviceId} ${range.from} ${range.to}`, range };
  }

  function freshEntry(key: string, now: number, checkTime: number): SlotList | undefined {
    const cached = entries.get(key);
    return cached && now <= cached.validUntil && isFresh(cached, checkTime) ? touch(key, cached) : undefined;
  }

  return {
    peek(input) {
      const now = deps.clock().getTime();
      return freshEntry(cacheKeyOf(input, now).key, now, monotonicNow());
    },

    async list(input) {
      const now = deps.clock().getTime();
      const { key, range } = cacheKeyOf(input, now);
      const checkTime = monotonicNow();
      const fresh = freshEntry(key, now, checkTime);
      if (fresh) return fresh;
      const cached = entries.get(key);

      // The stamp is read before the slots: a write in between leaves the entry
      // with an older stamp than the database's, and the next check recomputes.
      const specialist = await requireSpecialist(deps.db, input.slug);
      const stamp = stampOf(specialist);
      if (cached && cached.stamp === stamp && cached.specialistId === specialist.id && now <= cached.validUntil) {
        cached.checkedAt = checkTime;
        return touch(key, cached);
      }
      const { list, validUntil } = await computeSlotList(deps.db, specialist, input.serviceId, range, now);
      remember(key, { specialistId: specialist.id, stamp, checkedAt: checkTime, validUntil, list, size: list.slots.length + 1 });
      return list;
    },
  };

  function touch(key: string, entry: Entry): SlotList {
    // Most recently used goes last.
    entries.delete(key);
    entries.set(key, entry);
    return entry.list;
  }
}
