import { describe, expect, it } from 'vitest';
import { claimBlocks, freeSlots, offeredSlots, type SlotRules } from '../../server/availability/index.js';

const iso = (ms: number) => new Date(ms).toISOString();
const at = (s: string) => Date.parse(s);

function rules(overrides: Partial<SlotRules> = {}): SlotRules {
  return {
    timeZone: 'Europe/Berlin',
    rules: [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, startMinute: 9 * 60, endMinute: 11 * 60 })),
    durationMinutes: 60,
    stepMinutes: 60,
    minNoticeMinutes: 0,
    horizonDays: 365,
    ...overrides,
  };
}

describe('offeredSlots', () => {
  it('keeps local 09:00 across the spring daylight-saving change (Berlin, 2026-03-29)', () => {
    const slots = offeredSlots(rules(), at('2026-03-28T00:00:00Z'), at('2026-03-31T00:00:00Z'));
    expect(slots.map((s) => iso(s.start))).toEqual([
      '2026-03-28T08:00:00.000Z', // Saturday 09:00 CET (UTC+1)
      '2026-03-28T09:00:00.000Z',
      '2026-03-29T07:00:00.000Z', // Sunday 09:00 CEST (UTC+2)
      '2026-03-29T08:00:00.000Z',
      '2026-03-30T07:00:00.000Z',
      '2026-03-30T08:00:00.000Z',
    ]);
    expect(slots.every((s) => s.end - s.start === 3_600_000)).toBe(true);
  });

  it('keeps local 09:00 across the autumn change (New York, 2026-11-01)', () => {
    const slots = offeredSlots(rules({ timeZone: 'America/New_York', stepMinutes: 120 }), at('2026-10-31T00:00:00Z'), at('2026-11-03T00:00:00Z'));
    expect(slots.map((s) => iso(s.start))).toEqual(['2026-10-31T13:00:00.000Z', '2026-11-01T14:00:00.000Z', '2026-11-02T14:00:00.000Z']);
  });

  it('skips local times that do not exist in the spring gap', () => {
    const night = rules({ rules: [{ weekday: 7, startMinute: 60, endMinute: 240 }], durationMinutes: 30, stepMinutes: 30 });
    const slots = offeredSlots(night, at('2026-03-28T12:00:00Z'), at('2026-03-29T12:00:00Z'));
    // 01:00, 01:30 CET; 02:00 and 02:30 do not exist; 03:00, 03:30 CEST.
    expect(slots.map((s) => iso(s.start))).toEqual([
      '2026-03-29T00:00:00.000Z',
      '2026-03-29T00:30:00.000Z',
      '2026-03-29T01:00:00.000Z',
      '2026-03-29T01:30:00.000Z',
    ]);
  });

  it('takes the later occurrence of a repeated autumn hour and never offers overlapping starts', () => {
    const night = rules({ rules: [{ weekday: 7, startMinute: 60, endMinute: 240 }], durationMinutes: 30, stepMinutes: 30 });
    const slots = offeredSlots(night, at('2026-10-24T12:00:00Z'), at('2026-10-25T12:00:00Z'));
    expect(slots.map((s) => iso(s.start))).toEqual([
      '2026-10-24T23:00:00.000Z', // 01:00 CEST
      '2026-10-24T23:30:00.000Z', // 01:30 CEST
      '2026-10-25T01:00:00.000Z', // 02:00 CET (the later 02:00)
      '2026-10-25T01:30:00.000Z', // 02:30 CET
      '2026-10-25T02:00:00.000Z', // 03:00 CET
      '2026-10-25T02:30:00.000Z', // 03:30 CET
    ]);
  });

  it('only offers slots that fit inside the window and steps by the configured step', () => {
    const slots = offeredSlots(
      rules({ rules: [{ weekday: 3, startMinute: 9 * 60, endMinute: 10 * 60 + 15 }], durationMinutes: 45, stepMinutes: 15 }),
      at('2030-01-09T00:00:00Z'),
      at('2030-01-10T00:00:00Z'),
    );
    // 09:00, 09:15, 09:30 fit before 10:15; 09:45 would end at 10:30.
    expect(slots.map((s) => iso(s.start))).toEqual(['2030-01-09T08:00:00.000Z', '2030-01-09T08:15:00.000Z', '2030-01-09T08:30:00.000Z']);
  });

  it('merges overlapping rules without offering a start twice', () => {
    const slots = offeredSlots(
      rules({
        rules: [
          { weekday: 3, startMinute: 9 * 60, endMinute: 11 * 60 },
          { weekday: 3, startMinute: 10 * 60, endMinute: 12 * 60 },
        ],
      }),
      at('2030-01-09T00:00:00Z'),
      at('2030-01-10T00:00:00Z'),
    );
    expect(slots.map((s) => iso(s.start))).toEqual(['2030-01-09T08:00:00.000Z', '2030-01-09T09:00:00.000Z', '2030-01-09T10:00:00.000Z']);
  });
});

describe('freeSlots', () => {
  const window = { from: at('2030-01-09T00:00:00Z'), to: at('2030-01-10T00:00:00Z'), now: at('2030-01-09T00:00:00Z') };

  it('removes slots overlapping a busy interval, even partly', () => {
    const r = rules({ durationMinutes: 30, stepMinutes: 30 });
    const busy = [{ start: at('2030-01-09T08:45:00Z'), end: at('2030-01-09T09:15:00Z') }];
    expect(freeSlots(r, window, busy).map((s) => iso(s.start))).toEqual(['2030-01-09T08:00:00.000Z', '2030-01-09T09:30:00.000Z']);
  });

  it('applies the minimum notice and the horizon', () => {
    const r = rules({ durationMinutes: 30, stepMinutes: 30, minNoticeMinutes: 60 });
    const now = at('2030-01-09T07:45:00Z');
    expect(freeSlots(r, { ...window, now }, []).map((s) => iso(s.start))).toEqual(['2030-01-09T09:00:00.000Z', '2030-01-09T09:30:00.000Z']);
    const near = rules({ horizonDays: 1 });
    expect(freeSlots(near, { from: window.from, to: window.from + 5 * 86_400_000, now: window.now }, []).length).toBe(2);
  });

  it('returns nothing for a range wholly in the past', () => {
    expect(freeSlots(rules(), { ...window, now: window.to + 1 }, [])).toEqual([]);
  });
});

describe('claimBlocks', () => {
  it('covers every 5-minute block an interval touches', () => {
    const start = at('2030-01-09T08:00:00Z');
    const blocks = claimBlocks(start, start + 30 * 60_000);
    expect(blocks).toHaveLength(6);
    expect(blocks[0]).toBe(start / 60_000);
    expect(blocks[5]).toBe(start / 60_000 + 25);
    expect(claimBlocks(start + 60_000, start + 7 * 60_000)).toEqual([start / 60_000, start / 60_000 + 5]);
  });
});
