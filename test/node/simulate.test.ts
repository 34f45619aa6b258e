/**
 * The lost-bookings simulation (`npm run simulate`, issue #17) at a tiny
 * size: both modes run on the real server, the emulator and the local inbox,
 * and what they report adds up and agrees with what each customer and
 * specialist went through.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { cadenceBound, judgeGoals, summarize, type ModeSummary } from '../../bench/simulation/report.js';
import { isReauthEmail, runMode, SIMULATION_START, type ModeResult } from '../../bench/simulation/run.js';
import { DEFAULT_PARAMETERS, drawPlan, type SimulationParameters } from '../../bench/simulation/scenario.js';
import { simulationSection, withSection } from '../../bench/simulation/markdown.js';

/** Three specialists, twenty customers, two days: seed 17 has a hold confirmed, one expired, a check, a webhook and a customer finding a death. */
const TINY: SimulationParameters = { ...DEFAULT_PARAMETERS, specialists: 3, customers: 20, days: 2 };

describe('the lost-bookings simulation, tiny', () => {
  const plan = drawPlan(TINY);
  let release: ModeResult;
  let hold: ModeResult;
  let releaseSummary: ModeSummary;
  let holdSummary: ModeSummary;

  beforeAll(async () => {
    release = await runMode('release', TINY, plan);
    hold = await runMode('hold', TINY, plan);
    releaseSummary = summarize(release, TINY);
    holdSummary = summarize(hold, TINY);
  }, 120_000);

  it('draws the same scenario from the same seed, and both modes replay it', () => {
    expect(drawPlan(TINY)).toEqual(plan);
    expect(new Set(plan.deaths.map((d) => d.kind))).toEqual(new Set(['revoked', 'refresh_expired', 'deauthorized']));
    for (const result of [release, hold]) {
      expect(result.customers.map((c) => [c.index, c.specialist, c.requestedAt])).toEqual(plan.customers.map((c) => [c.index, c.specialist, c.at]));
      expect(result.specialists.map((s) => s.diesAt)).toEqual(plan.deaths.map((d) => d.at));
    }
  });

  it('accounts for every customer once, with no unexpected answer', () => {
    for (const s of [releaseSummary, holdSummary]) {
      expect(s.errors).toEqual([]);
      expect(s.confirmedAtOnce + s.confirmedAfterHold + s.lost + s.taken + s.noSlot).toBe(TINY.customers);
      expect(s.lost).toBe(s.lostReleased + s.lostHoldExpired);
      expect(s.found.check + s.found.webhook + s.found.customer + s.found.never).toBe(TINY.specialists);
    }
  });

  it('release: nothing is held, and every customer who met a dead token is lost', () => {
    expect(release.customers.filter((c) => c.attempt.kind === 'held')).toEqual([]);
    expect(releaseSummary.confirmedAfterHold).toBe(0);
    const metDead = release.customers.filter((c) => c.metDeadToken);
    expect(metDead.length).toBeGreaterThan(0);
    expect(metDead.every((c) => c.attempt.kind === 'released')).toBe(true);
    expect(releaseSummary.lost).toBe(metDead.length);
    expect(releaseSummary.delay).toEqual({ median: 0, p90: 0 });
    expect(releaseSummary.found.check).toBe(0); // no health check
  });

  it('hold: a request is confirmed when its specialist re-authorizes inside the hold, and expires otherwise', () => {
    const held = hold.customers.filter((c) => c.attempt.kind === 'held');
    expect(held.length).toBeGreaterThan(0);
    for (const c of held) {
      if (c.attempt.kind !== 'held') continue;
      const reauthorizedAt = hold.specialists[c.specialist]!.reauthorizedAt;
      const holdEnd = Date.parse(c.attempt.holdExpiresAt) - SIMULATION_START;
      if (reauthorizedAt !== undefined && reauthorizedAt > c.requestedAt && reauthorizedAt < holdEnd) {
        expect(c.finalStatus).toBe('confirmed');
        // Provisioned by the background work right after the callback (one job a millisecond after the other).
        expect(c.confirmedAt! - reauthorizedAt).toBeGreaterThanOrEqual(0);
        expect(c.confirmedAt! - reauthorizedAt).toBeLessThan(1_000);
      } else {
        expect(c.finalStatus).toBe('expired');
      }
    }
    expect(holdSummary.confirmedAfterHold).toBeGreaterThan(0);
    expect(holdSummary.lostHoldExpired).toBeGreaterThan(0);
    expect(holdSummary.heldDelay!.median).toBeGreaterThan(0);
    expect(holdSummary.lost).toBeLessThan(releaseSummary.lost);
    expect(judgeGoals(holdSummary)[0]).toMatchObject({ isMet: true });
  });

  it('customers who met a live token are confirmed at once in both modes', () => {
    for (const result of [release, hold]) {
      for (const c of result.customers.filter((x) => !x.metDeadToken)) {
        expect(c.attempt.kind).toBe('confirmed');
        expect(c.confirmedAt).toBe(c.requestedAt);
        expect(c.finalStatus).toBe('confirmed');
      }
    }
  });

  it('finds deaths the way each mode can: the webhook in both, the check only in hold', () => {
    for (const result of [release, hold]) {
      for (const s of result.specialists) {
        if (s.kind === 'deauthorized') expect(s).toMatchObject({ foundBy: 'webhook', foundAt: s.diesAt });
        if (s.foundAt !== undefined) expect(s.foundAt).toBeGreaterThanOrEqual(s.diesAt);
      }
    }
    expect(holdSummary.found.check).toBeGreaterThan(0);
    expect(holdSummary.foundBeforeCustomerShare).toBeGreaterThan(releaseSummary.foundBeforeCustomerShare);
  });

  it('emails re-auth only while the token is dead, within the cadence, and re-authorizes from the email', () => {
    for (const result of [release, hold]) {
      for (const s of result.specialists) {
        const reauth = s.emails.filter((e) => isReauthEmail(e.subject));
        expect(reauth.every((e) => e.at >= s.diesAt && e.at <= (s.reauthorizedAt ?? Infinity))).toBe(true);
        expect(reauth.length).toBeLessThanOrEqual(cadenceBound(s, result));
        if (s.reauthorizedAt !== undefined) expect(s.reauthorizedAt).toBe(s.firstReauthEmailAt! + s.reauthDelayMs!);
      }
    }
    expect(holdSummary.reauthViaEmailLink).toBeGreaterThan(0);
    expect(holdSummary.overCadence).toEqual([]);
  });

  it('writes its section into BENCHMARKS.md and keeps the rest', () => {
    const section = simulationSection(TINY, releaseSummary, holdSummary);
    expect(section).toContain('| Customers who asked | 20 | 20 |');
    expect(section).toContain(`| Lost (asked, never confirmed, slot not taken) | ${releaseSummary.lost} (released ${releaseSummary.lostReleased}, hold expired 0) |`);
    const before = '# Benchmarks\n\n| What | Figure |\n\n## Slots latency by table size\n\nrows\n';
    const once = withSection(before, section);
    expect(once.startsWith(before.trimEnd())).toBe(true);
    expect(withSection(once, section)).toBe(once);
    const inMiddle = withSection('# B\n\n## Lost-bookings simulation\n\nold\n\n## How\n\nkept\n', section);
    expect(inMiddle).toBe(`# B\n\n${section}\n## How\n\nkept\n`);
  });
});
