import type { Kysely } from 'kysely';
import type { SlotsResponse } from '../../sdk/contract.js';
import { LIMITS } from '../../sdk/contract.js';
import type { Clock } from '../clock.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { requireActiveService, requireSpecialist, type ServiceRow, type SpecialistRow } from '../specialists/index.js';
import { CLAIM_BLOCK_MINUTES } from './claims.js';
import { freeSlots, type Interval, type SlotRules } from './slots.js';

export { offeredSlots, freeSlots, type Interval, type SlotRules, type WeeklyRule } from './slots.js';
export { claimBlocks, CLAIM_BLOCK_MINUTES } from './claims.js';
export { createSlotLister, type SlotLister } from './slot-lister.js';
export { markAvailabilityChanged } from './version.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Days of slots a list without `to` covers; the manage page names it when it finds none. */
export const DEFAULT_RANGE_DAYS = 14;

export interface AvailabilityDeps {
  db: Kysely<Database>;
  clock: Clock;
}

/** The slot rules of one service of one specialist, read from the database. */
export async function loadSlotRules(db: Kysely<Database>, specialist: SpecialistRow, service: ServiceRow): Promise<SlotRules> {
  const rules = await db
    .selectFrom('availability_rules')
    .select(['weekday', 'start_minute', 'end_minute'])
    .where('specialist_id', '=', specialist.id)
    .execute();
  return {
    timeZone: specialist.time_zone,
    rules: rules.map((r) => ({ weekday: r.weekday, startMinute: r.start_minute, endMinute: r.end_minute })),
    durationMinutes: service.duration_minutes,
    stepMinutes: specialist.slot_step_minutes,
    minNoticeMinutes: specialist.min_notice_minutes,
    horizonDays: specialist.booking_horizon_days,
  };
}

/**
 * Busy intervals of a specialist between two instants, read from the slot
 * claims (the same rows that prevent double booking), adjacent blocks merged.
 */
export async function loadBusyIntervals(db: Kysely<Database>, specialistId: string, from: number, to: number): Promise<Interval[]> {
  const blockMs = CLAIM_BLOCK_MINUTES * MINUTE;
  const rows = await db
    .selectFrom('booking_slot_claims')
    .select('block_start')
    .where('specialist_id', '=', specialistId)
    .where('block_start', '>=', Math.floor(from / MINUTE) - CLAIM_BLOCK_MINUTES)
    .where('block_start', '<', Math.ceil(to / MINUTE))
    .orderBy('block_start')
    .execute();
  const busy: Interval[] = [];
  for (const { block_start } of rows) {
    const start = Number(block_start) * MINUTE;
    const last = busy[busy.length - 1];
    if (last && last.end === start) last.end = start + blockMs;
    else busy.push({ start, end: start + blockMs });
  }
  return busy;
}

export interface ListSlotsInput {
  slug: string;
  serviceId: string;
  /** ISO instants; defaults: the start of the current UTC hour, and 14 days after `from` (see `resolveSlotRange`). */
  from?: string;
  to?: string;
}

export type SlotList = Omit<SlotsResponse, 'success'>;

/** A validated range of slot starts, epoch milliseconds. */
export interface SlotRange {
  from: number;
  to: number;
}

/**
 * The range a request is answered over, which the answer reports as its
 * `from` and `to`. A range that has begun — no `from`, or a `from` before
 * now — starts at the start of the current UTC hour, and a missing `to` is
 * 14 days after that (`DEFAULT_RANGE_DAYS`). Slots before now and inside the
 * minimum notice are never offered, so this changes no slot in the answer; it
 * makes every such question asked within the same hour one question, which
 * the slot cache answers once (issue #18). An hour, because the widget asks
 * from the start of the hour for 14 days: the default range is its question.
 * A range that ended before this hour keeps its bounds: it holds no slot.
 *
 * For example, at 10:25 UTC, no range and `from=10:20` (or yesterday) are
 * all answered over 10:00 to 10:00 fourteen days later.
 *
 * The width limit applies to the range as asked.
 *
 * @throws DomainError `validation_failed` for a reversed or too wide range.
 */
export function resolveSlotRange(input: Pick<ListSlotsInput, 'from' | 'to'>, now: number): SlotRange {
  const hourStart = Math.floor(now / HOUR) * HOUR;
  const from = input.from === undefined ? hourStart : Date.parse(input.from);
  const to = input.to === undefined ? from + DEFAULT_RANGE_DAYS * DAY : Date.parse(input.to);
  if (to <= from) {
    throw new DomainError('validation_failed', '"to" must be after "from".', { errors: [{ path: 'to', message: 'Must be after from' }] });
  }
  if (to - from > LIMITS.maxSlotRangeDays * DAY) {
    const message = `Ask for at most ${LIMITS.maxSlotRangeDays} days of slots at a time.`;
    throw new DomainError('validation_failed', message, { errors: [{ path: 'to', message }] });
  }
  if (from >= now || to <= hourStart) return { from, to };
  return { from: hourStart, to: input.to === undefined ? hourStart + DEFAULT_RANGE_DAYS * DAY : to };
}

/**
 * The free slots of one service over a range, and the last instant at which
 * that answer still holds if nothing is written: slots drop out as the
 * minimum notice passes them and appear as the booking horizon reaches them.
 *
 * @throws DomainError `not_found` for an unknown or inactive service.
 */
export async function computeSlotList(
  db: Kysely<Database>,
  specialist: SpecialistRow,
  serviceId: string,
  range: SlotRange,
  now: number,
): Promise<{ list: SlotList; validUntil: number }> {
  const service = await requireActiveService(db, specialist.id, serviceId);
  const rules = await loadSlotRules(db, specialist, service);
  const busy = await loadBusyIntervals(db, specialist.id, range.from, range.to + service.duration_minutes * MINUTE);
  // Computed without the horizon, then cut at it: the first slot past it says when the answer changes.
  const unbounded = freeSlots({ ...rules, horizonDays: Infinity }, { ...range, now }, busy);
  const latest = now + rules.horizonDays * DAY;
  const cut = unbounded.findIndex((slot) => slot.start >= latest);
  const slots = cut === -1 ? unbounded : unbounded.slice(0, cut);
  const firstDropsOutAfter = slots.length > 0 ? slots[0]!.start - rules.minNoticeMinutes * MINUTE : Infinity;
  const nextAppearsAfter = cut === -1 ? Infinity : unbounded[cut]!.start - rules.horizonDays * DAY;
  return {
    validUntil: Math.min(firstDropsOutAfter, nextAppearsAfter),
    list: {
      timeZone: specialist.time_zone,
      serviceId: service.id,
      durationMinutes: service.duration_minutes,
      from: new Date(range.from).toISOString(),
      to: new Date(range.to).toISOString(),
      slots: slots.map((s) => ({ start: new Date(s.start).toISOString(), end: new Date(s.end).toISOString() })),
    },
  };
}

/**
 * Free slots of a service over a range, in UTC, with the specialist's zone,
 * computed afresh. The API serves them through `createSlotLister`, which
 * keeps answers until they change.
 *
 * @throws DomainError `not_found` for an unknown specialist or service,
 *   `validation_failed` for a reversed or too wide range.
 */
export async function listFreeSlots(deps: AvailabilityDeps, input: ListSlotsInput): Promise<SlotList> {
  const now = deps.clock().getTime();
  const range = resolveSlotRange(input, now);
  const specialist = await requireSpecialist(deps.db, input.slug);
  return (await computeSlotList(deps.db, specialist, input.serviceId, range, now)).list;
}
