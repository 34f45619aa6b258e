import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

export const DEMO_SLUG = 'demo';

export interface SpecialistSeed {
  slug: string;
  name: string;
  email: string;
  timeZone: string;
  allowedOrigins?: string[];
  slotStepMinutes?: number;
  minNoticeMinutes?: number;
  bookingHorizonDays?: number;
  services: { title: string; description?: string; durationMinutes: number; priceCents?: number; currency?: string }[];
  /** ISO weekday (1 = Monday) → [start, end) in local "HH:MM". */
  weeklyHours: { weekday: number; start: string; end: string }[];
}

const toMinute = (hhmm: string) => {
  const [h, m] = hhmm.split(':').map(Number);
  return h! * 60 + m!;
};

/**
 * Inserts a specialist with services and weekly hours in one transaction.
 * Returns the ids. Used by the demo and by tests.
 */
export async function insertSpecialist(
  db: Kysely<Database>,
  seed: SpecialistSeed,
  now = new Date(),
): Promise<{ specialistId: string; serviceIds: string[] }> {
  const specialistId = randomUUID();
  const createdAt = now.toISOString();
  const serviceIds = seed.services.map(() => randomUUID());
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('specialists')
      .values({
        id: specialistId,
        slug: seed.slug,
        name: seed.name,
        email: seed.email,
        time_zone: seed.timeZone,
        allowed_origins: JSON.stringify(seed.allowedOrigins ?? []),
        slot_step_minutes: seed.slotStepMinutes ?? 30,
        min_notice_minutes: seed.minNoticeMinutes ?? 120,
        booking_horizon_days: seed.bookingHorizonDays ?? 60,
        created_at: createdAt,
        updated_at: createdAt,
      })
      .execute();
    if (seed.services.length > 0) await trx
      .insertInto('services')
      .values(
        seed.services.map((s, position) => ({
          id: serviceIds[position]!,
          specialist_id: specialistId,
          title: s.title,
          description: s.description ?? '',
          duration_minutes: s.durationMinutes,
          price_cents: s.priceCents ?? null,
          currency: s.currency ?? null,
          position,
          is_active: 1,
          created_at: createdAt,
        })),
      )
      .execute();
    if (seed.weeklyHours.length > 0) {
      await trx
        .insertInto('availability_rules')
        .values(
          seed.weeklyHours.map((h) => ({
            id: randomUUID(),
            specialist_id: specialistId,
            weekday: h.weekday,
            start_minute: toMinute(h.start),
            end_minute: toMinute(h.end),
          })),
        )
        .execute();
    }
  });
  return { specialistId, serviceIds };
}

/** The demo specialist `npm start` offers: two services, weekday hours. */
export function demoSpecialist(publicUrl: string): SpecialistSeed {
  return {
    slug: DEMO_SLUG,
    name: 'Dr. Maya Lindqvist',
    email: 'maya@demo.specialist-booking.test',
    timeZone: 'Europe/Berlin',
    allowedOrigins: [new URL(publicUrl).origin],
    minNoticeMinutes: 60,
    services: [
      { title: 'Intro call', description: 'A free 30-minute call to see whether we are a good fit.', durationMinutes: 30 },
      { title: 'Coaching session', description: 'A focused 60-minute one-to-one session.', durationMinutes: 60, priceCents: 12000, currency: 'EUR' },
    ],
    weeklyHours: [1, 2, 3, 4, 5].flatMap((weekday) => [
      { weekday, start: '09:00', end: '12:00' },
      { weekday, start: '13:00', end: '18:00' },
    ]),
  };
}

/**
 * Seeds the demo specialist unless it exists. Returns its id and whether it
 * was added.
 */
export async function seedDemo(db: Kysely<Database>, publicUrl: string): Promise<{ specialistId: string; isNew: boolean }> {
  const existing = await db.selectFrom('specialists').select('id').where('slug', '=', DEMO_SLUG).executeTakeFirst();
  if (existing) return { specialistId: existing.id, isNew: false };
  const { specialistId } = await insertSpecialist(db, demoSpecialist(publicUrl));
  return { specialistId, isNew: true };
}
