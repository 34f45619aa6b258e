/**
 * The lost-bookings simulation's scenario (issue #17): its parameters, a
 * seeded random source, and the plan drawn from them. The plan is the same
 * for both modes, so `release` and `hold` meet the same deaths, customers and
 * specialists.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** How a specialist's Zoom token dies. */
export type DeathKind = 'revoked' | 'refresh_expired' | 'deauthorized';
export const DEATH_KINDS: readonly DeathKind[] = ['revoked', 'refresh_expired', 'deauthorized'];

/** How long after the first re-auth email a share of specialists re-authorize; `withinMs: undefined` is "never". */
export interface ReauthDelayBucket {
  share: number;
  withinMs: number | undefined;
}

export interface SimulationParameters {
  seed: number;
  specialists: number;
  customers: number;
  /** Customers book and tokens die within this many simulated days. */
  days: number;
  /** After the period, the clock runs on this long with no new customers, so every hold ends. */
  tailDays: number;
  /** The clock moves by this much between two runs of the background work. */
  stepMinutes: number;
  /** Customers pick among the slots offered this many days ahead. */
  lookAheadDays: number;
  /** The hold window of `hold` mode (the default, 24 h). */
  holdWindowMinutes: number;
  /** The health check's interval in `hold` mode (the default, 6 h). */
  healthCheckHours: number;
  reauthDelays: readonly ReauthDelayBucket[];
}

export const DEFAULT_PARAMETERS: SimulationParameters = {
  seed: 17,
  specialists: 60,
  customers: 1200,
  days: 14,
  tailDays: 2,
  stepMinutes: 10,
  lookAheadDays: 7,
  holdWindowMinutes: 24 * 60,
  healthCheckHours: 6,
  reauthDelays: [
    { share: 0.4, withinMs: 2 * HOUR },
    { share: 0.3, withinMs: 24 * HOUR },
    { share: 0.15, withinMs: 3 * DAY },
    { share: 0.15, withinMs: undefined },
  ],
};

/**
 * A seeded uniform source in [0, 1) (mulberry32): the same seed draws the
 * same scenario on every machine.
 */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export interface PlannedDeath {
  specialist: number;
  /** Milliseconds after the simulation's start. */
  at: number;
  kind: DeathKind;
}

export interface PlannedCustomer {
  index: number;
  specialist: number;
  at: number;
  /** Where in the list of offered slots the customer picks, in [0, 1). */
  slotPick: number;
}

export interface Plan {
  deaths: PlannedDeath[];
  customers: PlannedCustomer[];
  /** Per specialist: the delay from the first re-auth email to re-authorizing, or undefined (never). */
  reauthDelayMs: (number | undefined)[];
}

/**
 * Draws the scenario: one death per specialist at a uniform time in the
 * period, the three kinds in equal shares (shuffled); customers at uniform
 * times, each to a uniformly chosen specialist; each specialist's re-auth
 * delay from the buckets (uniform within a bucket, from the bound of the one
 * before).
 */
export function drawPlan(parameters: SimulationParameters): Plan {
  const random = createRandom(parameters.seed);
  const periodMs = parameters.days * DAY;
  const kinds = Array.from({ length: parameters.specialists }, (_, i) => DEATH_KINDS[i % DEATH_KINDS.length]!);
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
  }
  const deaths = kinds.map((kind, specialist) => ({ specialist, kind, at: Math.floor(random() * periodMs) }));
  const reauthDelayMs = kinds.map(() => drawReauthDelay(parameters.reauthDelays, random));
  const customers = Array.from({ length: parameters.customers }, (_, index) => ({
    index,
    at: Math.floor(random() * periodMs),
    specialist: Math.floor(random() * parameters.specialists),
    slotPick: random(),
  })).sort((a, b) => a.at - b.at);
  return { deaths, customers, reauthDelayMs };
}

function drawReauthDelay(buckets: readonly ReauthDelayBucket[], random: () => number): number | undefined {
  const u = random();
  const within = random();
  let cumulative = 0;
  let lowerMs = 0;
  for (const bucket of buckets) {
    cumulative += bucket.share;
    if (u < cumulative) return bucket.withinMs === undefined ? undefined : Math.floor(lowerMs + within * (bucket.withinMs - lowerMs));
    lowerMs = bucket.withinMs ?? lowerMs;
  }
  return undefined;
}
