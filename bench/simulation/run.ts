/**
 * Runs one mode of the lost-bookings simulation: the plan's events in time
 * order on the world's clock, the background work after every event and
 * every step, and a record of what each customer and specialist went through.
 */
import type { InboxMessage } from '../../server/email/local-inbox.js';
import type { DeathKind, Plan, SimulationParameters } from './scenario.js';
import { createRandom } from './scenario.js';
import { startWorld, type BookingAttempt, type Mode, type ReauthPath, type World } from './world.js';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
/** Monday 2030-01-07 00:00 UTC: the simulated period starts here. */
export const SIMULATION_START = Date.UTC(2030, 0, 7);

export interface CustomerRecord {
  index: number;
  specialist: number;
  /** Ms since the simulation's start. */
  requestedAt: number;
  attempt: BookingAttempt;
  /** The specialist's token was dead (and not yet re-authorized) when the customer asked. */
  metDeadToken: boolean;
  /** The booking's final status in the database, for confirmed and held requests. */
  finalStatus: string | undefined;
  /** When the booking was seen confirmed (ms since the start): the request for `confirmed`, the work that provisioned it for `held`. */
  confirmedAt: number | undefined;
}

export interface EmailRecord {
  /** Ms since the start, when the inbox held it (the background work that sent it ran then). */
  at: number;
  subject: string;
}

export interface SpecialistRecord {
  index: number;
  kind: DeathKind;
  diesAt: number;
  /** How the death became known first: the routine check, Zoom's webhook, or a customer's booking. */
  foundBy: 'check' | 'webhook' | 'customer' | undefined;
  foundAt: number | undefined;
  firstReauthEmailAt: number | undefined;
  reauthDelayMs: number | undefined;
  reauthorizedAt: number | undefined;
  reauthPath: ReauthPath | undefined;
  emails: EmailRecord[];
  /** Times customers met the dead token (a `requires_reauth` answer). */
  hits: number[];
  /** The hold deadlines customers got, in the order they got them. */
  holdDeadlines: number[];
}

export interface ModeResult {
  mode: Mode;
  endsAt: number;
  customers: CustomerRecord[];
  specialists: SpecialistRecord[];
  reauthEmailWindowMs: number;
  wallSeconds: number;
}

type SimulationEvent = { at: number; order: number } & ({ kind: 'death'; specialist: number } | { kind: 'customer'; /** Position in `plan.customers`. */ customer: number } | { kind: 'reauth'; specialist: number });

/** Re-auth emails start with the warning sign (booking attempts and routine checks alike). */
export const isReauthEmail = (subject: string) => subject.startsWith('⚠️');

/**
 * Simulates `parameters.days` (plus the tail) in one mode and returns the
 * records. Each step moves the clock `stepMinutes`; events between two steps
 * happen at their own time, each followed by the due background work.
 */
export async function runMode(mode: Mode, parameters: SimulationParameters, plan: Plan): Promise<ModeResult> {
  const started = performance.now();
  const world = await startWorld({
    mode,
    specialists: parameters.specialists,
    startsAt: SIMULATION_START,
    holdWindowMinutes: parameters.holdWindowMinutes,
    healthCheckHours: parameters.healthCheckHours,
    random: createRandom(parameters.seed + 1),
  });
  try {
    const records = await simulate(world, parameters, plan);
    return { mode, ...records, reauthEmailWindowMs: world.reauthEmailWindowMs, wallSeconds: Math.round((performance.now() - started) / 100) / 10 };
  } finally {
    await world.close();
  }
}

async function simulate(world: World, parameters: SimulationParameters, plan: Plan): Promise<Pick<ModeResult, 'endsAt' | 'customers' | 'specialists'>> {
  const since = () => world.now() - SIMULATION_START;
  const specialists: SpecialistRecord[] = plan.deaths.map((death) => ({
    index: death.specialist,
    kind: death.kind,
    diesAt: death.at,
    foundBy: undefined,
    foundAt: undefined,
    firstReauthEmailAt: undefined,
    reauthDelayMs: plan.reauthDelayMs[death.specialist],
    reauthorizedAt: undefined,
    reauthPath: undefined,
    emails: [],
    hits: [],
    holdDeadlines: [],
  }));
  const customers: CustomerRecord[] = [];
  const allEmails: InboxMessage[] = [];
  const isDead = (s: SpecialistRecord) => since() >= s.diesAt && s.reauthorizedAt === undefined;
  let order = 0;
  const queue: SimulationEvent[] = [
    ...plan.deaths.map((d) => ({ at: d.at, order: order++, kind: 'death' as const, specialist: d.specialist })),
    ...plan.customers.map((c, position) => ({ at: c.at, order: order++, kind: 'customer' as const, customer: position })),
  ];
  const sortQueue = () => queue.sort((a, b) => a.at - b.at || a.order - b.order);
  sortQueue();

  /** What the inbox and the database show after the background work: emails, deaths the server found, held requests confirmed. */
  async function observe(): Promise<void> {
    for (const mail of world.newEmails()) {
      allEmails.push(mail);
      const s = specialists.find((r) => mail.to.includes(world.specialists[r.index]!.email));
      if (!s) continue;
      s.emails.push({ at: since(), subject: mail.subject });
      if (isReauthEmail(mail.subject) && s.firstReauthEmailAt === undefined && isDead(s)) {
        s.firstReauthEmailAt = since();
        if (s.reauthDelayMs !== undefined) {
          queue.push({ at: since() + s.reauthDelayMs, order: order++, kind: 'reauth', specialist: s.index });
          sortQueue();
        }
      }
    }
    for (const s of specialists) await noteFoundByServer(s);
    const waiting = customers.filter((c) => c.attempt.kind === 'held' && c.confirmedAt === undefined);
    const statuses = await world.bookingStatuses(waiting.map((c) => (c.attempt as { bookingId: string }).bookingId));
    for (const c of waiting) {
      const status = statuses.get((c.attempt as { bookingId: string }).bookingId);
      if (status === 'confirmed') c.confirmedAt = since();
    }
  }

  /** A dead token the server marked before any customer met it was found by the check (or Zoom's webhook). */
  async function noteFoundByServer(s: SpecialistRecord): Promise<void> {
    if (!isDead(s) || s.foundBy !== undefined) return;
    if ((await world.connectionStatus(world.specialists[s.index]!)) === 'active') return;
    s.foundBy = s.kind === 'deauthorized' ? 'webhook' : 'check';
    s.foundAt = since();
  }

  async function handle(event: SimulationEvent): Promise<void> {
    if (event.kind === 'death') {
      await world.kill(world.specialists[event.specialist]!, specialists[event.specialist]!.kind);
    } else if (event.kind === 'reauth') {
      const s = specialists[event.specialist]!;
      s.reauthPath = await world.reauthorize(world.specialists[s.index]!, allEmails);
      s.reauthorizedAt = since();
    } else {
      const planned = plan.customers[event.customer]!;
      const s = specialists[planned.specialist]!;
      await noteFoundByServer(s);
      const metDeadToken = isDead(s);
      const attempt = await world.book(
        world.specialists[planned.specialist]!,
        { name: `Customer ${planned.index + 1}`, email: `customer-${planned.index + 1}@customers.test` },
        planned.slotPick,
        parameters.lookAheadDays,
      );
      if (attempt.kind === 'held' || attempt.kind === 'released') {
        s.hits.push(since());
        if (s.foundBy === undefined) {
          s.foundBy = 'customer';
          s.foundAt = since();
        }
        if (attempt.kind === 'held') s.holdDeadlines.push(Date.parse(attempt.holdExpiresAt) - SIMULATION_START);
      }
      customers.push({
        index: planned.index,
        specialist: planned.specialist,
        requestedAt: since(),
        attempt,
        metDeadToken,
        finalStatus: undefined,
        confirmedAt: attempt.kind === 'confirmed' ? since() : undefined,
      });
    }
  }

  const endsAt = (parameters.days + parameters.tailDays) * DAY;
  const stepMs = parameters.stepMinutes * MINUTE;
  // Wakes at the next of: an event, a step, or the next due background work (a
  // held request a millisecond after the one before, a retry, a check), as a
  // polling worker would; each wake runs what is due and looks at the outcome.
  for (let at = 0; at <= endsAt; ) {
    world.moveTo(SIMULATION_START + at);
    while (queue.length > 0 && queue[0]!.at <= at) await handle(queue.shift()!);
    await world.runDueWork();
    await observe();
    const nextDue = (await world.nextDueAt()) - SIMULATION_START;
    const nextStep = (Math.floor(at / stepMs) + 1) * stepMs;
    at = Math.min(nextStep, queue[0]?.at ?? Infinity, nextDue > at ? nextDue : Infinity);
  }
  const booked = customers.flatMap((c) => ('bookingId' in c.attempt ? [c.attempt.bookingId] : []));
  const statuses = await world.bookingStatuses(booked);
  for (const c of customers) if ('bookingId' in c.attempt) c.finalStatus = statuses.get(c.attempt.bookingId);
  return { endsAt, customers, specialists };
}
