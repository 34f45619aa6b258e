/**
 * Reminders before a session (issue #16, "Reminders"). Each reminder is a job
 * of kind `email.booking-reminder` whose not-before time is the session's
 * start minus one of the specialist's offsets (default 24 h and 1 h). Jobs
 * are queued in the transaction that confirms or moves a booking and deleted
 * in the one that cancels or moves it; at run time the job queues the two
 * emails in its own fenced completion, so they commit exactly when the job
 * is done, once, whichever of several workers or processes runs it.
 */
import type { Kysely, Transaction } from 'kysely';
import type { BookingLifecycleHandlers } from '../bookings/lifecycle-events.js';
import type { ManageTokens } from '../bookings/manage-tokens.js';
import type { Clock } from '../clock.js';
import type { Database } from '../db/schema.js';
import { enqueueJob, type JobHandler } from '../jobs/index.js';
import type { Logger } from '../logger.js';
import { enqueueEmail, type OutboxDeps } from './outbox.js';
import { customerReminderEmail, specialistReminderEmail, type ReminderInput } from './reminder-templates.js';

/** The job kind of one reminder (both its emails). */
export const REMINDER_JOB_KIND = 'email.booking-reminder';

/** A reminder job's payload: which booking, how long before its start, and the start it was scheduled for. */
export interface ReminderJobPayload {
  bookingId: string;
  offsetMinutes: number;
  /** The booking's start when the reminder was scheduled (ISO 8601): a booking that has moved since gets no reminder from this job. */
  startAt: string;
}

/** Minutes before the start: 24 hours and 1 hour, as migration 0013 defaults them. */
export const DEFAULT_REMINDER_OFFSETS_MINUTES: readonly number[] = [1440, 60];

/**
 * A specialist's stored `reminder_offsets_minutes` (a JSON array of minutes
 * before the start) as distinct positive whole minutes, largest first. Text
 * that is not such an array gives the defaults; an empty array, no reminders.
 *
 * @example parseReminderOffsets('[60,1440,60]') // [1440, 60]
 */
export function parseReminderOffsets(stored: string): number[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stored);
  } catch {
    return [...DEFAULT_REMINDER_OFFSETS_MINUTES];
  }
  if (!Array.isArray(parsed)) return [...DEFAULT_REMINDER_OFFSETS_MINUTES];
  const offsets = parsed.filter((n): n is number => Number.isInteger(n) && n > 0);
  return [...new Set(offsets)].sort((a, b) => b - a);
}

/**
 * The one key of a reminder: the same booking, start and offset never get a
 * second job, however many processes schedule it. The start is in it, so a
 * reschedule's new time gets new reminders.
 */
const reminderKey = (bookingId: string, startAt: string, offsetMinutes: number) => `reminder:${bookingId}:${startAt}:${offsetMinutes}`;
/** Every reminder key of a booking starts so (booking ids are UUIDs: no LIKE wildcards in them). */
const reminderKeyPrefix = (bookingId: string) => `reminder:${bookingId}:`;

/** What scheduling needs: the clock, to leave out reminders whose time has already passed. */
export interface ReminderScheduleDeps {
  clock: Clock;
}

/**
 * Queues a booking's reminders in the caller's transaction (the one that
 * confirms or moves the booking), one job per offset of the specialist, to
 * run at `start − offset`. A reminder whose time has already passed is not
 * queued (a booking made 30 minutes ahead gets no 1-hour reminder: its
 * confirmation has just gone out). Returns how many reminders are queued.
 *
 * @example await scheduleReminders(trx, { clock }, { bookingId, specialistId, start });
 */
export async function scheduleReminders(
  trx: Transaction<Database> | Kysely<Database>,
  deps: ReminderScheduleDeps,
  booking: { bookingId: string; specialistId: string; start: Date },
): Promise<number> {
  const specialist = await trx.selectFrom('specialists').select('reminder_offsets_minutes').where('id', '=', booking.specialistId).executeTakeFirst();
  if (!specialist) return 0;
  const now = deps.clock().getTime();
  const startAt = booking.start.toISOString();
  let queued = 0;
  for (const offsetMinutes of parseReminderOffsets(specialist.reminder_offsets_minutes)) {
    const runAfter = new Date(booking.start.getTime() - offsetMinutes * 60_000);
    if (runAfter.getTime() < now) continue;
    const payload: ReminderJobPayload = { bookingId: booking.bookingId, offsetMinutes, startAt };
    await enqueueJob(trx, deps.clock, { kind: REMINDER_JOB_KIND, payload, runAfter, dedupeKey: reminderKey(booking.bookingId, startAt, offsetMinutes) });
    queued++;
  }
  return queued;
}

/**
 * Deletes a booking's reminders not yet sent, in the caller's transaction.
 * One a worker is running at that moment is gone too: its completion finds
 * no job to finish and its emails roll back. Sent ones stay (their keys keep
 * a reschedule back to the same time from reminding twice). Returns how many
 * were deleted.
 */
export async function deletePendingReminders(trx: Transaction<Database> | Kysely<Database>, bookingId: string): Promise<number> {
  const deleted = await trx
    .deleteFrom('jobs')
    .where('kind', '=', REMINDER_JOB_KIND)
    .where('status', '=', 'pending')
    .where('dedupe_key', 'like', `${reminderKeyPrefix(bookingId)}%`)
    .executeTakeFirst();
  return Number(deleted.numDeletedRows);
}

/**
 * The reminders' part of the booking lifecycle: a cancel deletes the
 * booking's pending reminders; a reschedule deletes them and schedules the
 * new start's. Both in the transaction of the change. The lead composes
 * these with the other handlers (emails) into `BookingLifecycleHandlers`.
 */
export function createReminderLifecycleHandlers(deps: ReminderScheduleDeps): Pick<BookingLifecycleHandlers, 'onCancelled' | 'onRescheduled'> {
  return {
    async onCancelled(trx, event) {
      await deletePendingReminders(trx, event.bookingId);
    },
    async onRescheduled(trx, event) {
      await deletePendingReminders(trx, event.bookingId);
      await scheduleReminders(trx, deps, { bookingId: event.bookingId, specialistId: event.specialist.id, start: event.start });
    },
  };
}

export interface ReminderJobDeps {
  db: Kysely<Database>;
  clock: Clock;
  logger: Logger;
  outbox: OutboxDeps;
  /** Base of the manage link, e.g. `https://booking.example.com`. */
  publicUrl: string;
  manageTokens: ManageTokens;
}

/** Why a reminder sent nothing. */
type SkipReason = 'booking_gone' | 'not_confirmed' | 'moved' | 'started' | 'superseded';

/**
 * The `email.booking-reminder` job: in its fenced completion it reads the
 * booking and queues the customer's reminder (join and manage links, in the
 * customer's zone) and the specialist's (host link, in theirs), unless
 *
 * - the booking is gone or no longer confirmed (cancelled: never a reminder);
 * - it has moved (`start_at` is not the payload's `startAt`: the reschedule
 *   queued the new time's reminders);
 * - the session has started (a reminder overdue because no server ran goes
 *   out late only while it is still useful);
 * - a later reminder of the same start is due too (after downtime the 24 h
 *   and the 1 h reminders fall due together: only the 1 h one goes).
 *
 * The emails commit with the job's completion: a worker that lost the job
 * to another (or whose job a cancel deleted) queues nothing.
 */
export function createReminderJobHandler(deps: ReminderJobDeps): JobHandler<ReminderJobPayload> {
  const { clock, logger, outbox } = deps;

  async function supersededBy(trx: Transaction<Database>, jobId: string, payload: ReminderJobPayload, now: Date): Promise<boolean> {
    const due = await trx
      .selectFrom('jobs')
      .select('payload')
      .where('kind', '=', REMINDER_JOB_KIND)
      .where('status', '=', 'pending')
      .where('dedupe_key', 'like', `${reminderKeyPrefix(payload.bookingId)}%`)
      .where('run_after', '<=', now.toISOString())
      .where('id', '!=', jobId)
      .execute();
    return due.some((row) => {
      const other = JSON.parse(row.payload) as ReminderJobPayload;
      return Date.parse(other.startAt) === Date.parse(payload.startAt) && other.offsetMinutes < payload.offsetMinutes;
    });
  }

  /** Queues the two emails, or says why not. */
  async function sendIfStillDue(trx: Transaction<Database>, jobId: string, payload: ReminderJobPayload): Promise<SkipReason | undefined> {
    const row = await trx
      .selectFrom('bookings as b')
      .innerJoin('services as s', 's.id', 'b.service_id')
      .innerJoin('specialists as p', 'p.id', 'b.specialist_id')
      .select([
        'b.id',
        'b.specialist_id',
        'b.status',
        'b.start_at',
        'b.zoom_join_url',
        'b.zoom_start_url_enc',
        'b.customer_name',
        'b.customer_email',
        'b.customer_time_zone',
        'b.customer_note',
        's.title',
        's.duration_minutes',
        'p.name as specialist_name',
        'p.email as specialist_email',
        'p.time_zone as specialist_time_zone',
      ])
      .where('b.id', '=', payload.bookingId)
      .executeTakeFirst();
    if (!row) return 'booking_gone';
    if (row.status !== 'confirmed' || !row.zoom_join_url) return 'not_confirmed';
    const start = Date.parse(row.start_at);
    if (start !== Date.parse(payload.startAt)) return 'moved';
    const now = clock();
    if (start <= now.getTime()) return 'started';
    if (await supersededBy(trx, jobId, payload, now)) return 'superseded';

    const input: ReminderInput = {
      service: { title: row.title, durationMinutes: row.duration_minutes },
      specialist: { name: row.specialist_name, email: row.specialist_email, timeZone: row.specialist_time_zone },
      customer: { name: row.customer_name, email: row.customer_email, timeZone: row.customer_time_zone, note: row.customer_note },
      start: new Date(start),
      joinUrl: row.zoom_join_url,
      manageUrl: `${deps.publicUrl}/bookings/${row.id}/manage?token=${deps.manageTokens.issue(row.id)}`,
      startUrl: hostLinkOf(row.id, row.zoom_start_url_enc),
    };
    await enqueueEmail(trx, outbox, { specialistId: row.specialist_id, ...customerReminderEmail(input) });
    await enqueueEmail(trx, outbox, { specialistId: row.specialist_id, ...specialistReminderEmail(input) });
    return undefined;
  }

  /** The host link, decrypted; null without one, or when it cannot be read (another key): the reminder goes without it. */
  function hostLinkOf(bookingId: string, encrypted: string | null): string | null {
    if (!encrypted) return null;
    try {
      return outbox.cipher.decrypt(encrypted, `${bookingId}:start_url`);
    } catch {
      logger.warn('reminder without the host link: it cannot be decrypted', { bookingId });
      return null;
    }
  }

  return {
    kind: REMINDER_JOB_KIND,
    async run(payload, context) {
      let skipped: SkipReason | undefined;
      const isHeld = await context.complete(async (trx) => {
        skipped = await sendIfStillDue(trx, context.jobId, payload);
      });
      const fields = { jobId: context.jobId, bookingId: payload.bookingId, offsetMinutes: payload.offsetMinutes };
      if (!isHeld) logger.warn('reminder not sent: its job was taken over or deleted meanwhile', fields);
      else if (skipped) logger.info('reminder skipped', { ...fields, reason: skipped });
      else logger.info('reminder queued', fields);
    },
  };
}
