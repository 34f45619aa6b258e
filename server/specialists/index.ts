import type { Kysely, Selectable } from 'kysely';
import type { PublicProfileResponse, Service } from '../../sdk/contract.js';
import type { Database, ServicesTable, SpecialistsTable } from '../db/schema.js';
import { notFound } from '../errors.js';

export type SpecialistRow = Selectable<SpecialistsTable>;
export type ServiceRow = Selectable<ServicesTable>;

export async function findSpecialistBySlug(db: Kysely<Database>, slug: string): Promise<SpecialistRow | undefined> {
  return db.selectFrom('specialists').selectAll().where('slug', '=', slug).executeTakeFirst();
}

/** The specialist a slug names, or a `not_found` DomainError. */
export async function requireSpecialist(db: Kysely<Database>, slug: string): Promise<SpecialistRow> {
  const specialist = await findSpecialistBySlug(db, slug);
  if (!specialist) throw notFound(`No specialist is published at "${slug}".`);
  return specialist;
}

/** An active service of the specialist, or a `not_found` DomainError. */
export async function requireActiveService(db: Kysely<Database>, specialistId: string, serviceId: string): Promise<ServiceRow> {
  const service = await db
    .selectFrom('services')
    .selectAll()
    .where('id', '=', serviceId)
    .where('specialist_id', '=', specialistId)
    .where('is_active', '=', 1)
    .executeTakeFirst();
  if (!service) throw notFound('That service does not exist or is no longer offered.');
  return service;
}

/** Origins allowed to call the booking API from a browser, as stored. */
export function allowedOriginsOf(specialist: Pick<SpecialistRow, 'allowed_origins'>): string[] {
  try {
    const parsed: unknown = JSON.parse(specialist.allowed_origins);
    return Array.isArray(parsed) ? parsed.filter((o): o is string => typeof o === 'string') : [];
  } catch {
    return [];
  }
}

export function toServiceDto(row: ServiceRow): Service {
  return {
    id: row.id,
    title: row.title,
    description: row.description,
    durationMinutes: row.duration_minutes,
    price: row.price_cents === null || row.currency === null ? null : { amountCents: row.price_cents, currency: row.currency },
  };
}

/** What a customer may see of a specialist: name, zone and active services. */
export async function getPublicProfile(db: Kysely<Database>, slug: string): Promise<Omit<PublicProfileResponse, 'success'>> {
  const specialist = await requireSpecialist(db, slug);
  const services = await db
    .selectFrom('services')
    .selectAll()
    .where('specialist_id', '=', specialist.id)
    .where('is_active', '=', 1)
    .orderBy('position')
    .orderBy('created_at')
    .execute();
  return {
    specialist: { slug: specialist.slug, name: specialist.name, timeZone: specialist.time_zone },
    services: services.map(toServiceDto),
  };
}
