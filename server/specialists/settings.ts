/**
 * What a specialist changes about themselves: profile, services, weekly
 * hours, allowed embed origins. Each input is validated here, with messages
 * for people; the pages only pass form values through.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { refuseHostileInLine, refuseHostileInText, TimeZoneSchema } from '../../sdk/contract.js';
import { MAX_HOLD_WINDOW_MINUTES } from '../bookings/held-requests.js';
import type { Clock } from '../clock.js';
import { markAvailabilityChanged } from '../availability/version.js';
import type { Database } from '../db/schema.js';
import { parseReminderOffsets } from '../email/reminders.js';
import { DomainError } from '../errors.js';
import { listProblems, parseOrThrow, validationFailed } from '../validation.js';
import type { ServiceRow, SpecialistRow } from './index.js';
import { noteLocalChange } from './local-changes.js';

export const ProfileSchema = z.object({
  name: refuseHostileInLine(z.string().trim().min(1, 'Enter your name').max(120, 'At most 120 characters'), 'Your name'),
  // Absent means "not changed": a save that did not touch the zone never moves the specialist's hours (issue #15).
  timeZone: TimeZoneSchema.optional(),
});

/**
 * Modern IANA names that Node 20's `Intl.supportedValuesOf('timeZone')`
 * leaves out (it lists ICU's older aliases, such as Asia/Calcutta, instead)
 * although `Intl.DateTimeFormat` accepts them; UTC is missing there too.
 */
const ZONES_MISSING_FROM_SUPPORTED = ['UTC', 'Asia/Kolkata', 'Europe/Kyiv', 'Asia/Ho_Chi_Minh', 'Asia/Kathmandu', 'Asia/Yangon', 'America/Nuuk', 'Atlantic/Faroe', 'Pacific/Kanton'];

/**
 * The time zones a specialist can pick in settings: the runtime's list plus
 * UTC and the common modern aliases it lacks, plus `stored` so the current
 * zone is always there to preselect. Sorted, without duplicates, only names
 * this runtime accepts.
 *
 * @example timeZoneChoices('Asia/Kolkata') // [..., 'Asia/Calcutta', ..., 'Asia/Kolkata', ..., 'UTC']
 */
export function timeZoneChoices(stored: string): string[] {
  const candidates = [...Intl.supportedValuesOf('timeZone'), ...ZONES_MISSING_FROM_SUPPORTED, stored];
  return [...new Set(candidates.filter((zone) => TimeZoneSchema.safeParse(zone).success))].sort();
}

const DURATIONS = [15, 20, 30, 45, 50, 60, 75, 90, 120] as const;

export const ServiceFormSchema = z.object({
  title: refuseHostileInLine(z.string().trim().min(1, 'Give the service a title').max(120, 'At most 120 characters'), 'A service title'),
  description: refuseHostileInText(z.string().trim().max(1000, 'At most 1000 characters'), 'A service description').default(''),
  durationMinutes: z.coerce.number().refine((n) => (DURATIONS as readonly number[]).includes(n), 'Pick a duration from the list'),
  price: z
    .string()
    .trim()
    .regex(/^(\d{1,6}([.,]\d{1,2})?)?$/, 'Enter a price like 90 or 90.50, or leave it empty')
    .default(''),
  currency: z.string().trim().regex(/^[A-Za-z]{3}$/, 'Use a three-letter currency code such as EUR').default('EUR'),
});

export const SERVICE_DURATIONS = DURATIONS;

/** Saves the name and, when the form sent one, the time zone; throws `validation_failed` for an invalid zone. */
export async function updateProfile(db: Kysely<Database>, clock: Clock, specialistId: string, input: unknown): Promise<void> {
  const profile = parseOrThrow(ProfileSchema, input, { summarize: listProblems });
  await db.transaction().execute(async (trx) => {
    await trx
      .updateTable('specialists')
      .set({ name: profile.name, ...(profile.timeZone === undefined ? {} : { time_zone: profile.timeZone }), updated_at: clock().toISOString() })
      .where('id', '=', specialistId)
      .execute();
    // The time zone moves every slot: through the one helper, so this process's cache hears of it at once.
    await markAvailabilityChanged(trx, specialistId);
  });
}

function priceOf(form: z.output<typeof ServiceFormSchema>): { price_cents: number | null; currency: string | null } {
  if (form.price === '') return { price_cents: null, currency: null };
  return { price_cents: Math.round(Number(form.price.replace(',', '.')) * 100), currency: form.currency.toUpperCase() };
}

export async function addService(db: Kysely<Database>, clock: Clock, specialistId: string, input: unknown): Promise<void> {
  const form = parseOrThrow(ServiceFormSchema, input, { summarize: listProblems });
  const last = await db.selectFrom('services').select((eb) => eb.fn.max('position').as('max')).where('specialist_id', '=', specialistId).executeTakeFirst();
  await db
    .insertInto('services')
    .values({
      id: randomUUID(),
      specialist_id: specialistId,
      title: form.title,
      description: form.description,
      duration_minutes: form.durationMinutes,
      ...priceOf(form),
      position: Number(last?.max ?? -1) + 1,
      is_active: 1,
      created_at: clock().toISOString(),
    })
    .execute();
}

export async function updateService(db: Kysely<Database>, specialistId: string, serviceId: string, input: unknown): Promise<void> {
  const form = parseOrThrow(ServiceFormSchema, input, { summarize: listProblems });
  await db.transaction().execute(async (trx) => {
    const result = await trx
      .updateTable('services')
      .set({ title: form.title, description: form.description, duration_minutes: form.durationMinutes, ...priceOf(form) })
      .where('id', '=', serviceId)
      .where('specialist_id', '=', specialistId)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) throw new DomainError('not_found', 'That service does not exist.');
    await markAvailabilityChanged(trx, specialistId);
  });
}

export async function setServiceActive(db: Kysely<Database>, specialistId: string, serviceId: string, isActive: boolean): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx.updateTable('services').set({ is_active: isActive ? 1 : 0 }).where('id', '=', serviceId).where('specialist_id', '=', specialistId).execute();
    await markAvailabilityChanged(trx, specialistId);
  });
}

export async function listAllServices(db: Kysely<Database>, specialistId: string): Promise<ServiceRow[]> {
  return db.selectFrom('services').selectAll().where('specialist_id', '=', specialistId).orderBy('position').execute();
}

const WEEKDAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'] as const;
export { WEEKDAYS };

const minuteOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
const hhmmOf = (minute: number) => `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;

/** Weekly hours as the form shows them: one line per weekday, "09:00-12:00, 13:00-18:00". */
export async function weeklyHoursText(db: Kysely<Database>, specialistId: string): Promise<string[]> {
  const rules = await db.selectFrom('availability_rules').selectAll().where('specialist_id', '=', specialistId).orderBy('start_minute').execute();
  return WEEKDAYS.map((_, i) =>
    rules
      .filter((r) => r.weekday === i + 1)
      .map((r) => `${hhmmOf(r.start_minute)}-${hhmmOf(r.end_minute)}`)
      .join(', '),
  );
}

/**
 * Replaces the weekly hours from one text per weekday. Each text is empty
 * (day off) or comma-separated "HH:MM-HH:MM" ranges on 5-minute marks that do
 * not overlap.
 */
export async function replaceWeeklyHours(db: Kysely<Database>, specialistId: string, days: string[]): Promise<void> {
  const rules: { weekday: number; start: number; end: number }[] = [];
  const errors: { path: string; message: string }[] = [];
  days.forEach((text, i) => {
    const ranges = text.split(',').map((s) => s.trim()).filter(Boolean);
    const parsed = ranges.map((range) => {
      const m = /^([01]\d|2[0-3]):([0-5]\d)\s*-\s*([01]\d|2[0-4]):([0-5]\d)$/.exec(range);
      if (!m) return undefined;
      const start = minuteOf(`${m[1]}:${m[2]}`);
      const end = minuteOf(`${m[3]}:${m[4]}`);
      return start < end && end <= 1440 && start % 5 === 0 && end % 5 === 0 ? { start, end } : undefined;
    });
    if (parsed.some((p) => p === undefined)) {
      errors.push({ path: WEEKDAYS[i]!, message: `${WEEKDAYS[i]}: write hours like 09:00-12:00, 13:00-17:30` });
      return;
    }
    const sorted = (parsed as { start: number; end: number }[]).sort((a, b) => a.start - b.start);
    if (sorted.some((r, j) => j > 0 && r.start < sorted[j - 1]!.end)) {
      errors.push({ path: WEEKDAYS[i]!, message: `${WEEKDAYS[i]}: the ranges overlap` });
      return;
    }
    for (const r of sorted) rules.push({ weekday: i + 1, ...r });
  });
  if (errors.length) throw validationFailed(errors, listProblems);
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom('availability_rules').where('specialist_id', '=', specialistId).execute();
    if (rules.length) {
      await trx
        .insertInto('availability_rules')
        .values(rules.map((r) => ({ id: randomUUID(), specialist_id: specialistId, weekday: r.weekday, start_minute: r.start, end_minute: r.end })))
        .execute();
    }
    await markAvailabilityChanged(trx, specialistId);
  });
}

/** Replaces the allowed embed origins from text, one origin per line. */
export async function setAllowedOrigins(db: Kysely<Database>, clock: Clock, specialistId: string, text: string): Promise<void> {
  const origins: string[] = [];
  const errors: { path: string; message: string }[] = [];
  for (const line of text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean)) {
    try {
      const url = new URL(line);
      if (!['http:', 'https:'].includes(url.protocol) || url.pathname.replace(/\/$/, '') !== '' || url.search || url.hash) throw new Error();
      if (!origins.includes(url.origin)) origins.push(url.origin);
    } catch {
      errors.push({ path: 'origins', message: `"${line}" is not a website address like https://www.example.com` });
    }
  }
  if (errors.length) throw validationFailed(errors, listProblems);
  // CORS answers cached in this process check the database again at once.
  noteLocalChange(specialistId);
  await db.updateTable('specialists').set({ allowed_origins: JSON.stringify(origins), updated_at: clock().toISOString() }).where('id', '=', specialistId).execute();
}

/** Most reminders a specialist can set per booking (issue #16: "e.g. 24 h and 1 h"). */
const MAX_REMINDERS = 3;
/** Longest cancellation window and earliest reminder: 30 days before the start. */
const MAX_HOURS_BEFORE = 720;

const hoursText = (minutes: number) => String(Math.round((minutes / 60) * 100) / 100);

/**
 * The cancellation window and reminder times as the settings form sends them:
 * whole hours for the window (0 lets customers change until the start), and a
 * comma-separated list of hours for reminders ("24, 1"; empty for none).
 */
export const BookingRulesSchema = z.object({
  cancellationWindowHours: z
    .string()
    .trim()
    .regex(/^\d{1,3}$/, 'Cancellation window: enter whole hours, like 24')
    .transform(Number)
    .refine((hours) => hours <= MAX_HOURS_BEFORE, `Cancellation window: at most ${MAX_HOURS_BEFORE} hours`),
  reminderHours: z
    .string()
    .trim()
    .transform((text) => text.split(',').map((part) => part.trim()).filter(Boolean))
    .refine((parts) => parts.every((part) => /^\d{1,3}(\.\d{1,2})?$/.test(part)), 'Reminders: write hours before the start, like 24, 1')
    .transform((parts) => [...new Set(parts.map((part) => Math.round(Number(part) * 60)))].sort((a, b) => b - a))
    .refine((minutes) => minutes.every((m) => m >= 15 && m <= MAX_HOURS_BEFORE * 60), `Reminders: each from 0.25 to ${MAX_HOURS_BEFORE} hours before the start`)
    .refine((minutes) => minutes.length <= MAX_REMINDERS, `Reminders: at most ${MAX_REMINDERS}`),
});

/** The booking rules as the settings form shows them: "24" and "24, 1". */
export function bookingRulesText(specialist: Pick<SpecialistRow, 'cancellation_window_minutes' | 'reminder_offsets_minutes'>): {
  cancellationWindowHours: string;
  reminderHours: string;
} {
  const reminderHours = parseReminderOffsets(specialist.reminder_offsets_minutes).map(hoursText).join(', ');
  return { cancellationWindowHours: hoursText(specialist.cancellation_window_minutes), reminderHours };
}

/**
 * Saves the cancellation window and the reminder times; throws
 * `validation_failed` with one field error per problem.
 */
export async function updateBookingRules(db: Kysely<Database>, clock: Clock, specialistId: string, input: unknown): Promise<void> {
  const rules = parseOrThrow(BookingRulesSchema, input, { summarize: listProblems });
  await db
    .updateTable('specialists')
    .set({
      cancellation_window_minutes: rules.cancellationWindowHours * 60,
      reminder_offsets_minutes: JSON.stringify(rules.reminderHours),
      updated_at: clock().toISOString(),
    })
    .where('id', '=', specialistId)
    .execute();
}

/** The longest hold window in whole hours: a week. */
const MAX_HOLD_WINDOW_HOURS = MAX_HOLD_WINDOW_MINUTES / 60;
const HOLD_WINDOW_PROBLEM = `Hold requests: enter whole hours from 0 to ${MAX_HOLD_WINDOW_HOURS}, like 24`;

/**
 * How long a request is held while the specialist's Zoom needs
 * re-authorizing (issue #17), as the settings form sends it: whole hours
 * from 0 (hold nothing) to 168.
 */
export const HoldWindowSchema = z.object({
  holdWindowHours: z
    .string(HOLD_WINDOW_PROBLEM)
    .trim()
    .regex(/^\d{1,3}$/, HOLD_WINDOW_PROBLEM)
    .transform(Number)
    .refine((hours) => hours <= MAX_HOLD_WINDOW_HOURS, HOLD_WINDOW_PROBLEM),
});

/** The hold window as the settings form shows it: "24". */
export function holdWindowText(specialist: Pick<SpecialistRow, 'hold_window_minutes'>): string {
  return hoursText(specialist.hold_window_minutes);
}

/** Saves the hold window; throws `validation_failed` with the field's error. */
export async function updateHoldWindow(db: Kysely<Database>, clock: Clock, specialistId: string, input: unknown): Promise<void> {
  const { holdWindowHours } = parseOrThrow(HoldWindowSchema, input, { summarize: listProblems });
  await db
    .updateTable('specialists')
    .set({ hold_window_minutes: holdWindowHours * 60, updated_at: clock().toISOString() })
    .where('id', '=', specialistId)
    .execute();
}

export type { SpecialistRow };
