/**
 * Table shapes as Kysely sees them. Times are ISO 8601 UTC strings
 * (`2030-01-15T09:00:00.000Z`): they sort as text and mean the same on SQLite
 * and PostgreSQL. Booleans are integers 0/1 for the same reason.
 */
import type { BookingStatus } from '../../sdk/contract.js';

export interface SpecialistsTable {
  id: string;
  slug: string;
  name: string;
  email: string;
  time_zone: string;
  /** JSON array of origins (scheme://host[:port]) allowed to embed the widget. */
  allowed_origins: string;
  /** Distance between offered slot starts, in minutes. */
  slot_step_minutes: number;
  /** A slot must start at least this many minutes after now. */
  min_notice_minutes: number;
  /** How far ahead customers may book, in days. */
  booking_horizon_days: number;
  created_at: string;
  updated_at: string;
}

export interface ServicesTable {
  id: string;
  specialist_id: string;
  title: string;
  description: string;
  duration_minutes: number;
  price_cents: number | null;
  currency: string | null;
  position: number;
  is_active: number;
  created_at: string;
}

export interface AvailabilityRulesTable {
  id: string;
  specialist_id: string;
  /** ISO weekday: 1 = Monday … 7 = Sunday, in the specialist's time zone. */
  weekday: number;
  /** Minutes after local midnight. */
  start_minute: number;
  end_minute: number;
}

export interface BookingsTable {
  id: string;
  specialist_id: string;
  service_id: string;
  customer_name: string;
  customer_email: string;
  customer_note: string | null;
  customer_time_zone: string | null;
  start_at: string;
  end_at: string;
  status: BookingStatus;
  zoom_meeting_id: string | null;
  zoom_join_url: string | null;
  idempotency_key: string | null;
  /** Hash of the request body, to refuse a reused key with another body. */
  request_fingerprint: string | null;
  created_at: string;
  updated_at: string;
}

/**
 * One row per 5-minute block a live booking occupies. The primary key
 * (specialist_id, block_start) is what makes double booking impossible, across
 * processes and on both databases: two overlapping bookings would need the
 * same block.
 */
export interface BookingSlotClaimsTable {
  specialist_id: string;
  /** Minutes since the Unix epoch, a multiple of CLAIM_BLOCK_MINUTES. */
  block_start: number;
  booking_id: string;
}

export interface Database {
  specialists: SpecialistsTable;
  services: ServicesTable;
  availability_rules: AvailabilityRulesTable;
  bookings: BookingsTable;
  booking_slot_claims: BookingSlotClaimsTable;
}
