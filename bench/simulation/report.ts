/**
 * What the lost-bookings simulation reports (issue #17): per mode, customers
 * lost and confirmed (and how late), the share of dead tokens found before a
 * customer, emails per specialist against the cadence, and the three goals.
 */
import { holdExpiryFor } from '../../server/bookings/held-requests.js';
import { ZOOM_HEALTH_NOTICE_DAYS } from '../../server/zoom/health.js';
import { isReauthEmail, SIMULATION_START, type CustomerRecord, type ModeResult, type SpecialistRecord } from './run.js';
import type { SimulationParameters } from './scenario.js';
import { MIN_NOTICE_MINUTES } from './world.js';

const HOUR = 3_600_000;
/** Subjects of the emails the routine check sends ("found by a routine check"). */
const isRoutineCheckEmail = (subject: string) => isReauthEmail(subject) && subject.includes('found by a routine check');

export interface ModeSummary {
  mode: ModeResult['mode'];
  customers: number;
  confirmedAtOnce: number;
  confirmedAfterHold: number;
  /** Asked, never confirmed, and not because the slot was taken (released, or held and then expired). */
  lost: number;
  lostReleased: number;
  lostHoldExpired: number;
  taken: number;
  noSlot: number;
  errors: string[];
  /** Confirmation time minus request time over every confirmed customer, and over those confirmed after a hold (ms). */
  delay: { median: number; p90: number };
  heldDelay: { median: number; p90: number } | undefined;
  deaths: number;
  found: { check: number; webhook: number; customer: number; never: number };
  /** Dead tokens the server found (check or webhook) before any customer met them, over all deaths. */
  foundBeforeCustomerShare: number;
  emailsPerSpecialist: { max: number; mean: number };
  reauthEmailsPerSpecialist: { max: number; mean: number };
  /** Specialists who got more re-auth emails than the cadence allows (see `cadenceBound`). */
  overCadence: { specialist: number; got: number; bound: number }[];
  reauthorized: number;
  reauthViaEmailLink: number;
  /** Customers whose specialist re-authorized within the hold window (the goal's population), and how many of them were lost. */
  reauthWithinWindow: { customers: number; lost: number };
  wallSeconds: number;
}

export interface Goal {
  name: string;
  isMet: boolean;
  detail: string;
}

/** Sums up one mode's records. */
export function summarize(result: ModeResult, parameters: SimulationParameters): ModeSummary {
  const { customers, specialists } = result;
  const confirmed = customers.filter((c) => c.finalStatus === 'confirmed' && c.confirmedAt !== undefined);
  const isLost = (c: CustomerRecord) => c.attempt.kind === 'released' || (c.attempt.kind === 'held' && c.finalStatus !== 'confirmed');
  const lost = customers.filter(isLost);
  const delays = confirmed.map((c) => c.confirmedAt! - c.requestedAt);
  const heldDelays = confirmed.filter((c) => c.attempt.kind === 'held').map((c) => c.confirmedAt! - c.requestedAt);
  const count = (by: SpecialistRecord['foundBy']) => specialists.filter((s) => s.foundBy === by).length;
  const emails = specialists.map((s) => s.emails.length);
  const reauthEmails = specialists.map((s) => s.emails.filter((e) => isReauthEmail(e.subject)).length);
  const overCadence = specialists
    .map((s) => ({ specialist: s.index, got: s.emails.filter((e) => isReauthEmail(e.subject)).length, bound: cadenceBound(s, result), routineOk: routineNoticesWithinCadence(s) }))
    .filter((s) => s.got > s.bound || !s.routineOk)
    .map(({ specialist, got, bound }) => ({ specialist, got, bound }));
  const withinWindow = customers.filter((c) => isReauthorizedWithinWindow(c, specialists[c.specialist]!, parameters));
  return {
    mode: result.mode,
    customers: customers.length,
    confirmedAtOnce: confirmed.filter((c) => c.attempt.kind === 'confirmed').length,
    confirmedAfterHold: heldDelays.length,
    lost: lost.length,
    lostReleased: lost.filter((c) => c.attempt.kind === 'released').length,
    lostHoldExpired: lost.filter((c) => c.attempt.kind === 'held').length,
    taken: customers.filter((c) => c.attempt.kind === 'taken').length,
    noSlot: customers.filter((c) => c.attempt.kind === 'no_slot').length,
    errors: customers.flatMap((c) => (c.attempt.kind === 'error' ? [`customer ${c.index + 1}: ${c.attempt.status} ${c.attempt.code}`] : [])),
    delay: quantiles(delays),
    heldDelay: heldDelays.length > 0 ? quantiles(heldDelays) : undefined,
    deaths: specialists.length,
    found: { check: count('check'), webhook: count('webhook'), customer: count('customer'), never: count(undefined) },
    foundBeforeCustomerShare: (count('check') + count('webhook')) / specialists.length,
    emailsPerSpecialist: maxAndMean(emails),
    reauthEmailsPerSpecialist: maxAndMean(reauthEmails),
    overCadence,
    reauthorized: specialists.filter((s) => s.reauthorizedAt !== undefined).length,
    reauthViaEmailLink: specialists.filter((s) => s.reauthPath === 'email_link').length,
    reauthWithinWindow: { customers: withinWindow.length, lost: withinWindow.filter(isLost).length },
    wallSeconds: result.wallSeconds,
  };
}

/**
 * Whether the customer met a dead token and the specialist re-authorized
 * before the hold such a request gets by default would end (the hold
 * window, cut at the start minus the minimum notice; no hold under 30
 * minutes): the same test for both modes, so `release` shows whom today's
 * behaviour loses that holding would have saved.
 */
function isReauthorizedWithinWindow(c: CustomerRecord, s: SpecialistRecord, parameters: SimulationParameters): boolean {
  if (c.attempt.kind !== 'held' && c.attempt.kind !== 'released') return false;
  if (s.reauthorizedAt === undefined) return false;
  // Records count from the simulation's start; `holdExpiryFor` works in epoch ms.
  const windowEnd = holdExpiryFor({ hold_window_minutes: parameters.holdWindowMinutes, min_notice_minutes: MIN_NOTICE_MINUTES }, Date.parse(c.attempt.slotStart), SIMULATION_START + c.requestedAt);
  return windowEnd !== undefined && SIMULATION_START + s.reauthorizedAt <= windowEnd.getTime();
}

/**
 * The most re-auth emails the documented cadence lets one specialist get in
 * this run: per dead period, the routine check's notices (at most 4: at
 * once, after 1, 3 and 7 days), plus the booking-attempt emails a throttle
 * of one per window lets through for the attempts that met the dead token
 * (counted greedily: an attempt at least a window after the last counted
 * one), plus one for each held request whose deadline came sooner than every
 * earlier one (emailed at once, throttle or not). A tighter cadence can only
 * send fewer.
 */
export function cadenceBound(s: SpecialistRecord, result: Pick<ModeResult, 'reauthEmailWindowMs'>): number {
  let throttled = 0;
  let lastCounted = -Infinity;
  for (const at of s.hits) {
    if (at >= lastCounted + result.reauthEmailWindowMs) {
      throttled++;
      lastCounted = at;
    }
  }
  let soonerDeadlines = 0;
  let earliest = Infinity;
  for (const deadline of s.holdDeadlines) {
    if (deadline < earliest) {
      soonerDeadlines++;
      earliest = deadline;
    }
  }
  return ZOOM_HEALTH_NOTICE_DAYS.length + throttled + soonerDeadlines;
}

/** The routine check's notices: at most 4, none before the death, none after the re-authorization. */
function routineNoticesWithinCadence(s: SpecialistRecord): boolean {
  const notices = s.emails.filter((e) => isRoutineCheckEmail(e.subject));
  const end = s.reauthorizedAt ?? Infinity;
  return notices.length <= ZOOM_HEALTH_NOTICE_DAYS.length && notices.every((e) => e.at >= s.diesAt && e.at <= end);
}

/** The three goals for one mode. */
export function judgeGoals(summary: ModeSummary): Goal[] {
  const percent = Math.round(summary.foundBeforeCustomerShare * 1000) / 10;
  return [
    {
      name: 'No customer lost among those whose specialist re-authorized within the hold window',
      isMet: summary.reauthWithinWindow.lost === 0,
      detail: `${summary.reauthWithinWindow.lost} of ${summary.reauthWithinWindow.customers} lost`,
    },
    {
      name: '≥ 90 % of dead tokens found before a customer',
      isMet: summary.foundBeforeCustomerShare >= 0.9,
      detail: `${percent} % (${summary.found.check + summary.found.webhook} of ${summary.deaths})`,
    },
    {
      name: 'No specialist gets more re-auth emails than the cadence allows',
      isMet: summary.overCadence.length === 0,
      detail: summary.overCadence.length === 0 ? `max ${summary.reauthEmailsPerSpecialist.max} re-auth emails` : summary.overCadence.map((o) => `specialist ${o.specialist + 1}: ${o.got} > ${o.bound}`).join('; '),
    },
  ];
}

function quantiles(values: number[]): { median: number; p90: number } {
  if (values.length === 0) return { median: 0, p90: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return { median: at(0.5), p90: at(0.9) };
}

function maxAndMean(values: number[]): { max: number; mean: number } {
  return { max: Math.max(0, ...values), mean: values.length === 0 ? 0 : Math.round((10 * values.reduce((a, b) => a + b, 0)) / values.length) / 10 };
}

/** A duration for the table: minutes under two hours, hours above. */
export function formatDuration(ms: number): string {
  if (ms < 2 * HOUR) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round((10 * ms) / HOUR) / 10} h`;
}
