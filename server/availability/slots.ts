/**
 * Free-slot computation: a pure function of the weekly rules, the busy
 * intervals and the clock. No database, no HTTP.
 */
import { TZDate } from '@date-fns/tz';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

export interface WeeklyRule {
  /** ISO weekday in the specialist's zone: 1 = Monday … 7 = Sunday. */
  weekday: number;
  /** Minutes after local midnight; end is exclusive and may be 1440. */
  startMinute: number;
  endMinute: number;
}

export interface Interval {
  /** Epoch milliseconds. */
  start: number;
  end: number;
}

export interface SlotRules {
  timeZone: string;
  rules: readonly WeeklyRule[];
  durationMinutes: number;
  stepMinutes: number;
  minNoticeMinutes: number;
  horizonDays: number;
}

export interface SlotWindow {
  /** Only slots starting at or after `from` and before `to` (epoch ms). */
  from: number;
  to: number;
  now: number;
}

/**
 * Every slot start the rules offer whose start lies in [from, to), ignoring
 * existing bookings, notice and horizon. Slot starts step through each
 * availability window in local wall-clock time, so "09:00" stays 09:00 across
 * daylight-saving changes. A start that falls in a DST gap (it does not exist
 * locally) is skipped; an ambiguous one (clocks went back) is taken at its
 * later occurrence, which is what @date-fns/tz resolves to.
 */
export function offeredSlots(rules: SlotRules, from: number, to: number): Interval[] {
  const { timeZone, durationMinutes, stepMinutes } = rules;
  const durationMs = durationMinutes * MINUTE;
  const starts = new Map<number, Interval>();
  // Walk local calendar days that can hold a slot starting in [from, to):
  // one day of margin either side covers any UTC offset.
  const first = new TZDate(from - DAY, timeZone);
  const dayCount = Math.ceil((to - from) / DAY) + 2;
  for (let i = 0; i <= dayCount; i++) {
    const y = first.getFullYear();
    const m = first.getMonth();
    const d = first.getDate() + i;
    const probe = new TZDate(y, m, d, 12, 0, timeZone);
    const isoWeekday = probe.getDay() === 0 ? 7 : probe.getDay();
    for (const rule of rules.rules) {
      if (rule.weekday !== isoWeekday) continue;
      const windowStart = localInstant(y, m, d, rule.startMinute, timeZone);
      const windowEnd = localInstant(y, m, d, rule.endMinute, timeZone);
      // Skip windows wholly outside [from, to) before doing any per-slot work.
      if (windowEnd !== null && windowEnd <= from) continue;
      if (windowStart !== null && windowStart >= to + durationMs) continue;
      // Without a daylight-saving change inside the window, local minutes map to
      // UTC by one fixed offset: plain arithmetic instead of a zone lookup per slot.
      const isSteady = windowStart !== null && windowEnd !== null && windowEnd - windowStart === (rule.endMinute - rule.startMinute) * MINUTE;
      for (let minute = rule.startMinute; minute + durationMinutes <= rule.endMinute; minute += stepMinutes) {
        const start = isSteady ? windowStart + (minute - rule.startMinute) * MINUTE : localInstant(y, m, d, minute, timeZone);
        if (start === null) continue;
        const end = start + durationMs;
        if (windowEnd !== null && end > windowEnd) continue;
        if (start < from || start >= to) continue;
        starts.set(start, { start, end });
      }
    }
  }
  return [...starts.values()].sort((a, b) => a.start - b.start);
}

/**
 * Free slots: offered slots that respect the minimum notice and the booking
 * horizon and overlap no busy interval.
 *
 * @param busy intervals already taken, in any order.
 */
export function freeSlots(rules: SlotRules, window: SlotWindow, busy: readonly Interval[]): Interval[] {
  const earliest = window.now + rules.minNoticeMinutes * MINUTE;
  const latest = window.now + rules.horizonDays * DAY;
  const from = Math.max(window.from, earliest);
  const to = Math.min(window.to, latest);
  if (from >= to) return [];
  const sortedBusy = [...busy].sort((a, b) => a.start - b.start);
  return offeredSlots(rules, from, to).filter((slot) => !overlapsAny(slot, sortedBusy));
}

function overlapsAny(slot: Interval, sortedBusy: readonly Interval[]): boolean {
  for (const b of sortedBusy) {
    if (b.start >= slot.end) return false;
    if (b.end > slot.start) return true;
  }
  return false;
}

/**
 * The instant of a local wall-clock time, or null when that time does not
 * exist in the zone (a daylight-saving gap). Minute 1440 is next midnight.
 */
function localInstant(year: number, month: number, day: number, minuteOfDay: number, timeZone: string): number | null {
  const hours = Math.floor(minuteOfDay / 60);
  const minutes = minuteOfDay % 60;
  const date = new TZDate(year, month, day, hours, minutes, timeZone);
  if (minuteOfDay < 1440 && (date.getHours() !== hours || date.getMinutes() !== minutes)) return null;
  return date.getTime();
}
