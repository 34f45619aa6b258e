import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { LruMap } from '../lru-map.js';
import { allowedOriginsOf, findSpecialistBySlug } from './index.js';
import { isStillFresh } from './local-changes.js';

/** The origins a specialist allows to embed the widget, or undefined for an unknown slug. */
export type AllowedOrigins = readonly string[] | undefined;

export interface AllowedOriginsLookup {
  /**
   * The origins a specialist allows: at once while the cached answer is
   * fresh, so a cross-origin call of an embedded widget is not made to wait
   * a turn of the event loop; otherwise a promise of the database's answer.
   */
  originsFor(slug: string): AllowedOrigins | Promise<AllowedOrigins>;
}

export interface AllowedOriginsLookupOptions {
  /** How long an answer is used without reading the database again. Default 250 ms. */
  recheckMs?: number;
  /** Most slugs remembered; the least recently used go first. Default 10 000. */
  maxEntries?: number;
  /** A monotonic clock in milliseconds that `recheckMs` is measured on. Default `performance.now()`. */
  monotonicNow?: () => number;
}

interface Entry {
  specialistId: string | undefined;
  origins: AllowedOrigins;
  /** `monotonicNow()` when read from the database. */
  checkedAt: number;
}

/**
 * The allowed origins of each specialist, read from the database at most
 * once per `recheckMs` per slug. Every cross-origin call of an embedded
 * widget asks (CORS), so without this each one read the specialist's row.
 * A change saved by this process (`setAllowedOrigins`) is seen at once; one
 * saved by another process sharing the database within `recheckMs`.
 */
export function createAllowedOriginsLookup(db: Kysely<Database>, options: AllowedOriginsLookupOptions = {}): AllowedOriginsLookup {
  const recheckMs = options.recheckMs ?? 250;
  const entries = new LruMap<string, Entry>(options.maxEntries ?? 10_000);
  const monotonicNow = options.monotonicNow ?? performance.now.bind(performance);

  async function read(slug: string): Promise<AllowedOrigins> {
    const checkedAt = monotonicNow();
    const specialist = await findSpecialistBySlug(db, slug);
    const origins = specialist ? Object.freeze(allowedOriginsOf(specialist)) : undefined;
    entries.set(slug, { specialistId: specialist?.id, origins, checkedAt });
    return origins;
  }

  return {
    originsFor(slug) {
      const cached = entries.get(slug);
      return cached && isStillFresh(cached.specialistId, cached.checkedAt, monotonicNow(), recheckMs) ? cached.origins : read(slug);
    },
  };
}
