/**
 * Table shapes as Kysely sees them. Times are ISO 8601 UTC strings
 * (`2030-01-15T09:00:00.000Z`): they sort as text and mean the same on SQLite
 * and PostgreSQL. Booleans are integers 0/1 for the same reason.
 */
import type { Generated } from 'kysely';
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
  /** How close to the start a customer may still cancel or reschedule, in minutes (default 1440: 24 h). */
  cancellation_window_minutes: Generated<number>;
  /** Raised with every change to claims, weekly hours or services: cached slot lists compare it. */
  availability_version: Generated<number>;
  /** The Zoom user last connected, kept across a disconnect so a later switch to another user is noticed. */
  last_zoom_user_id: string | null;
  last_zoom_email: string | null;
  last_zoom_display_name: string | null;
  created_at: string;
  updated_at: string;
  /** JSON array of minutes before a session's start when its reminders go out; default `[1440,60]` (24 h and 1 h). */
  reminder_offsets_minutes: Generated<string>;
  /** How long a request that met a dead Zoom token is held, in minutes (default 1440: 24 h; 0: not held). Migration 0015. */
  hold_window_minutes: Generated<number>;
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
  /** Zoom's host link (it starts the meeting as the host), encrypted. */
  zoom_start_url_enc: string | null;
  /** While set and in the future, one request is creating this booking's meeting (a lease, see server/leases). */
  meeting_lock_until: string | null;
  /** The fencing token of the meeting lock's holder: completing writes name it (issue #15). */
  meeting_lock_token: string | null;
  /** Set just before the first meeting create call: a meeting may exist from then on. */
  meeting_requested_at: string | null;
  /** When the booking was cancelled, by whom, and the customer's reason or the specialist's message (migration 0012). */
  cancelled_at: Generated<string | null>;
  cancelled_by: Generated<BookingChangedBy | null>;
  cancel_reason: Generated<string | null>;
  /** The calendar event's SEQUENCE: raised by every cancel or reschedule, so calendar apps replace the event they hold. */
  calendar_sequence: Generated<number>;
  /** Set when the specialist offered a reschedule: the cancellation window no longer applies to this booking. */
  reschedule_offered_at: Generated<string | null>;
  /** A held request (issue #17): confirmed when Zoom works again before this time, released (`expired`) after it. */
  hold_expires_at: Generated<string | null>;
}

export type BookingChangedBy = 'customer' | 'specialist';

/** The `Idempotency-Key`s of reschedules: a repeat is answered as the first, another body with the key is refused. */
export interface BookingChangeKeysTable {
  booking_id: string;
  idempotency_key: string;
  /** Hash of the request body. */
  request_fingerprint: string;
  created_at: string;
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

export type ZoomConnectionStatus = 'active' | 'invalid' | 'revoked';

export interface ZoomConnectionsTable {
  specialist_id: string;
  zoom_user_id: string;
  zoom_account_id: string;
  zoom_email: string;
  zoom_display_name: string;
  /** AES-256-GCM, bound to specialist_id (see server/security/token-cipher.ts). */
  access_token_enc: string;
  refresh_token_enc: string;
  access_token_expires_at: string;
  scope: string;
  status: ZoomConnectionStatus;
  /** Why the connection stopped working, for the specialist's dashboard. */
  invalid_reason: string | null;
  invalid_since: string | null;
  /** Booking attempts refused since the connection stopped working. */
  failed_booking_attempts: number;
  /** Bumped on every token change; lets a refresher see that another one won. */
  version: number;
  /** Lease of the per-connection refresh lock: who holds it, until when. */
  refresh_lock_owner: string | null;
  refresh_lock_until: string | null;
  /** When the routine health check (server/zoom/health.ts) is next due; null: due now. */
  health_check_due_at: string | null;
  /** When that check last ran, and what it found (`ZoomHealthResult`). */
  health_checked_at: string | null;
  health_check_result: string | null;
  connected_at: string;
  updated_at: string;
}

export interface OauthStatesTable {
  state_hash: string;
  specialist_id: string;
  code_verifier_enc: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
  /** Set when an emailed re-auth link started the flow (no session): that link, used up at the callback. */
  sign_in_link_id: string | null;
}

export interface SessionsTable {
  token_hash: string;
  specialist_id: string;
  csrf_token: string;
  created_at: string;
  expires_at: string;
}

export type OutboxStatus = 'pending' | 'sent' | 'failed';

export interface EmailOutboxTable {
  id: string;
  /** What the email is, e.g. `reauth_required`, `booking_confirmed_customer`. */
  kind: string;
  /** Stable per row, so a resend after a crash is recognisably the same message. */
  message_id: string;
  to_address: string;
  subject: string;
  /**
   * JSON (EmailContent in email/outbox.ts: text, html, calendar, Reply-To), encrypted: it can hold sign-in links and
   * host links. Empty once purged, EMAIL_BODY_RETENTION_DAYS after sending
   * (or after queueing, for a failed email; migration 0008 indexes the rows
   * that still have one).
   */
  content_enc: string;
  /** What people see; its delivery schedule and claim are its `email.send` job's (migration 0011). */
  status: OutboxStatus;
  /** Delivery attempts started so far. */
  attempts: number;
  last_error: string | null;
  sent_at: string | null;
  /** When it was given up on: shown with `last_error` on its specialist's dashboard. */
  failed_at: string | null;
  /** The specialist whose message this is, or null for system mail. */
  specialist_id: string | null;
  created_at: string;
}

export interface EmailDeliveryAttemptsTable {
  outbox_id: string;
  attempt: number;
  attempted_at: string;
  /** Null when the attempt delivered the message. */
  error: string | null;
}

export interface ReauthNoticesTable {
  specialist_id: string;
  last_sent_at: string;
  /** Failed booking attempts since the last email, named in the next one. */
  attempts_since_sent: number;
  /** The earliest hold deadline the last email named: a new hold due sooner is emailed at once (migration 0015). */
  hold_deadline_sent: Generated<string | null>;
}

export type SignInLinkPurpose = 'sign_in' | 'reauth';

export interface SignInLinksTable {
  id: string;
  specialist_id: string;
  purpose: SignInLinkPurpose;
  created_at: string;
  expires_at: string;
  used_at: string | null;
  /** Where to go after signing in (a same-site path). */
  next_path: string | null;
}

export interface RateLimitsTable {
  /** What is limited, e.g. `sign-in:email:ada@example.com`. */
  bucket: string;
  /** Start of the fixed window being counted (a multiple of its length since the epoch, UTC). */
  window_start: string;
  /** End of that window: after it the row counts nothing and may be deleted. */
  expires_at: string;
  hits: number;
}

export type JobStatus = 'pending' | 'done' | 'failed';

/**
 * Background work, drained by one worker a process (server/jobs/): a kind, a
 * payload, a not-before time and a fenced lease while a worker runs it.
 */
export interface JobsTable {
  id: string;
  /** Names the handler, e.g. `email.send`. */
  kind: string;
  /** JSON; anything secret goes in encrypted (an email's content stays in `email_outbox.content_enc`). */
  payload: string;
  status: JobStatus;
  /** Not before: the worker takes the job once this time has come. */
  run_after: string;
  /** Attempts started, counted when a worker takes the lease. */
  attempts: number;
  /** The fencing token of the worker running it (server/leases/), and when that lease ends. */
  lease_token: string | null;
  lease_until: string | null;
  /** Why the last attempt failed; for a failed job, why it was given up. */
  last_error: string | null;
  /** At most one job a key (e.g. one provisioning job a booking); null for none. */
  dedupe_key: string | null;
  created_at: string;
  /** When it ended, done or failed. */
  finished_at: string | null;
  /** The specialist the work is for, when it waits on their Zoom connection (migration 0012). */
  specialist_id: Generated<string | null>;
}

export interface Database {
  specialists: SpecialistsTable;
  services: ServicesTable;
  availability_rules: AvailabilityRulesTable;
  bookings: BookingsTable;
  booking_slot_claims: BookingSlotClaimsTable;
  booking_change_keys: BookingChangeKeysTable;
  zoom_connections: ZoomConnectionsTable;
  oauth_states: OauthStatesTable;
  sessions: SessionsTable;
  email_outbox: EmailOutboxTable;
  email_delivery_attempts: EmailDeliveryAttemptsTable;
  jobs: JobsTable;
  reauth_notices: ReauthNoticesTable;
  sign_in_links: SignInLinksTable;
  rate_limits: RateLimitsTable;
}
