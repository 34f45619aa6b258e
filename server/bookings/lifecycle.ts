/**
 * After the booking (issue #16): the customer (through the manage link) or
 * the specialist (through the dashboard) reads, cancels or reschedules a
 * booking, and the specialist may offer a reschedule. Each change is one
 * transaction that also releases or moves the slot claims, queues the Zoom
 * change (server/bookings/zoom-changes.ts) and raises the lifecycle event
 * (server/bookings/lifecycle-events.ts), so emails and reminders are queued
 * exactly when the change commits.
 */
import { createHash } from 'node:crypto';
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { ManagedBooking } from '../../sdk/contract.js';
import { claimBlocks, markAvailabilityChanged } from '../availability/index.js';
import type { Clock } from '../clock.js';
import { isUniqueViolation } from '../db/connection.js';
import type { BookingChangedBy, BookingsTable, Database, ServicesTable, SpecialistsTable } from '../db/schema.js';
import { DomainError, notFound } from '../errors.js';
import { isOneRow } from '../leases/index.js';
import type { Logger } from '../logger.js';
import { assertSlotIsOffered } from './index.js';
import { releaseHeldRequest } from './held-requests.js';
import type { BookingLifecycleHandlers, BookingParties } from './lifecycle-events.js';
import type { ManageTokens } from './manage-tokens.js';
import { queueZoomChange, ZOOM_DELETE_MEETING_JOB, ZOOM_UPDATE_MEETING_JOB } from './zoom-changes.js';

export { countPendingZoomChanges } from './zoom-changes.js';

const MINUTE = 60_000;
const DEFAULT_LIST_LIMIT = 50;
const MAX_LIST_LIMIT = 200;

export interface BookingLifecycleDeps {
  db: Kysely<Database>;
  clock: Clock;
  logger: Logger;
  manageTokens: ManageTokens;
  /** Told of each change in its transaction (emails, reminders). */
  handlers: BookingLifecycleHandlers;
}

/** Who asks: the customer, holding the manage link's token, or the signed-in specialist. */
export type BookingAccess = { kind: 'customer'; token: string } | { kind: 'specialist'; specialistId: string };

export interface BookingLifecycle {
  /** The booking as its manager sees it. A GET: it changes nothing. */
  get(bookingId: string, access: BookingAccess): Promise<ManagedBooking>;
  /** Cancels a confirmed booking; a cancelled one is answered as it is (idempotent). */
  cancel(bookingId: string, access: BookingAccess, options?: { reason?: string | undefined; countChange?: CountChange }): Promise<ManagedBooking>;
  /** Moves a confirmed booking to another of its service's offered slots. */
  reschedule(bookingId: string, access: BookingAccess, change: { start: string; idempotencyKey?: string | undefined; countChange?: CountChange }): Promise<ManagedBooking>;
  /**
   * Withdraws a held request (issue #17): the slot is released at once and
   * the request is never confirmed. A withdrawn one is answered as it is
   * (idempotent); a confirmed, expired or cancelled one is
   * `booking_not_changeable`. `countChange` runs in the withdrawal's
   * transaction, only when it happens.
   */
  withdraw(bookingId: string, access: BookingAccess, options?: { countChange?: CountChange }): Promise<ManagedBooking>;
  /** The specialist offers the customer a reschedule: the cancellation window no longer applies to this booking. */
  offerReschedule(bookingId: string, specialistId: string, options?: { message?: string | undefined }): Promise<ManagedBooking>;
  /**
   * A specialist's bookings: `upcoming` (confirmed, not started; soonest
   * first) or `past` (started, cancelled, or a held request that expired or
   * was withdrawn; latest first). `limit` default
   * 50, at most 200; `offset` default 0.
   */
  listForSpecialist(specialistId: string, options: { when: 'upcoming' | 'past'; limit?: number; offset?: number }): Promise<ManagedBooking[]>;
}

/**
 * Counts a change against the caller's limits (`countBookingChange`), run in
 * the change's transaction only once it is sure to happen; throwing rolls
 * the change back. Repeats and refused changes never reach it.
 */
export type CountChange = (trx: Transaction<Database>) => Promise<void>;

type BookingRow = Selectable<BookingsTable>;

/** A booking with what every answer about it needs. */
interface LoadedBooking {
  row: BookingRow;
  service: Selectable<ServicesTable>;
  specialist: Selectable<SpecialistsTable>;
}

/**
 * The booking lifecycle over the database.
 *
 * Access: a customer needs the manage link's token (`invalid_manage_token`,
 * 403, when forged; nothing is read), and the link works until the session
 * starts (`manage_link_expired`, 410). A specialist sees only their own
 * bookings (`not_found` otherwise). A booking still being made (pending) is
 * `not_found` to both.
 *
 * Changes: only a confirmed booking whose session has not started changes
 * (`booking_not_changeable`, 409). A customer cannot cancel or reschedule
 * inside the specialist's cancellation window (default 24 h before the
 * start) unless the specialist offered a reschedule: `change_window_closed`
 * (409), whose message names the specialist's email.
 *
 * @example
 * const lifecycle = createBookingLifecycle({ db, clock, logger, manageTokens, handlers });
 * await lifecycle.cancel(id, { kind: 'customer', token }, { reason: 'Ill' });
 */
export function createBookingLifecycle(deps: BookingLifecycleDeps): BookingLifecycle {
  const { db, clock } = deps;

  async function load(executor: Kysely<Database> | Transaction<Database>, bookingId: string): Promise<LoadedBooking | undefined> {
    const row = await executor.selectFrom('bookings').selectAll().where('id', '=', bookingId).executeTakeFirst();
    if (!row || row.status === 'pending') return undefined;
    const specialist = await executor.selectFrom('specialists').selectAll().where('id', '=', row.specialist_id).executeTakeFirstOrThrow();
    const service = await executor.selectFrom('services').selectAll().where('id', '=', row.service_id).executeTakeFirstOrThrow();
    return { row, service, specialist };
  }

  /** Loads the booking the caller may manage, or throws why not. */
  async function authorize(bookingId: string, access: BookingAccess, now: Date): Promise<LoadedBooking> {
    // The token is checked before any read: a forged one learns nothing, not even whether the booking exists.
    if (access.kind === 'customer' && !deps.manageTokens.isValid(bookingId, access.token)) {
      throw new DomainError('invalid_manage_token', 'This manage link is not valid. Please use the link from your confirmation email.');
    }
    const loaded = await load(db, bookingId);
    if (!loaded || (access.kind === 'specialist' && loaded.row.specialist_id !== access.specialistId)) throw notFound('That booking does not exist.');
    if (access.kind === 'customer' && now.getTime() >= Date.parse(loaded.row.start_at)) {
      throw new DomainError('manage_link_expired', 'This session has started, so its manage link no longer works. Please contact the specialist directly.');
    }
    return loaded;
  }

  /** Refuses a change the caller may not make now; see `createBookingLifecycle`. */
  function assertMayChange(loaded: LoadedBooking, access: BookingAccess, now: Date): void {
    const { row, specialist } = loaded;
    if (row.status !== 'confirmed') throw new DomainError('booking_not_changeable', notChangeableBecause(row.status));
    if (now.getTime() >= Date.parse(row.start_at)) throw new DomainError('booking_not_changeable', 'This session has started, so it can no longer be changed.');
    if (access.kind === 'customer' && !changeWindowOf(loaded, now).isOpen && row.reschedule_offered_at === null) {
      const hours = Math.round((specialist.cancellation_window_minutes / 60) * 10) / 10;
      throw new DomainError(
        'change_window_closed',
        `This booking can no longer be changed online: ${specialist.name} accepts changes up to ${hours} hours before the start. Please contact ${specialist.name} at ${specialist.email}.`,
      );
    }
  }

  function toManaged(loaded: LoadedBooking, access: BookingAccess, now: Date): ManagedBooking {
    const { row, service, specialist } = loaded;
    const window = changeWindowOf(loaded, now);
    const isLiftedByOffer = row.reschedule_offered_at !== null;
    const mayChange = row.status === 'confirmed' && now.getTime() < Date.parse(row.start_at) && (access.kind === 'specialist' || window.isOpen || isLiftedByOffer);
    return {
      id: row.id,
      status: row.status,
      start: row.start_at,
      end: row.end_at,
      service: { id: service.id, title: service.title, durationMinutes: service.duration_minutes },
      specialist: { slug: specialist.slug, name: specialist.name, email: specialist.email, timeZone: specialist.time_zone },
      customer: { name: row.customer_name, email: row.customer_email, timeZone: row.customer_time_zone },
      zoomJoinUrl: row.status === 'confirmed' ? row.zoom_join_url : null,
      changeWindow: { closesAt: window.closesAt, isOpen: window.isOpen, isLiftedByOffer },
      canCancel: mayChange,
      canReschedule: mayChange,
      cancellation:
        row.status === 'cancelled' && row.cancelled_at !== null ? { at: row.cancelled_at, by: row.cancelled_by ?? 'customer', reason: row.cancel_reason } : null,
      rescheduleOfferedAt: row.reschedule_offered_at,
      hold: row.status === 'held' && row.hold_expires_at !== null ? { expiresAt: row.hold_expires_at } : null,
      canWithdraw: row.status === 'held',
      createdAt: row.created_at,
    };
  }

  /** Reads the booking again after a change (or a refused one) and answers it. */
  async function reread(bookingId: string, access: BookingAccess, now: Date): Promise<ManagedBooking> {
    const loaded = await load(db, bookingId);
    if (!loaded) throw notFound('That booking does not exist.');
    return toManaged(loaded, access, now);
  }

  return {
    async get(bookingId, access) {
      const now = clock();
      return toManaged(await authorize(bookingId, access, now), access, now);
    },

    /**
     * 1. A cancelled booking is answered as it is: a repeat sends nothing.
     * 2. In one transaction: the status update fenced on `confirmed` and the
     *    start the checks saw (row count checked), the caller's `countChange`
     *    (a cancel that happens is the only one counted), the claims released, the
     *    calendar sequence raised, the Zoom deletion queued, `onCancelled`
     *    raised, and the slot caches told (`markAvailabilityChanged`).
     * A cancel that lost a race to another cancel answers as a repeat.
     */
    async cancel(bookingId, access, options = {}) {
      const now = clock();
      const loaded = await authorize(bookingId, access, now);
      if (loaded.row.status === 'cancelled') return toManaged(loaded, access, now);
      assertMayChange(loaded, access, now);
      const { row, specialist } = loaded;
      const cancelledBy: BookingChangedBy = access.kind;
      const reason = options.reason?.trim() || null;
      const isCancelledHere = await db.transaction().execute(async (trx) => {
        const updated = await trx
          .updateTable('bookings')
          .set((eb) => ({
            status: 'cancelled',
            cancelled_at: now.toISOString(),
            cancelled_by: cancelledBy,
            cancel_reason: reason,
            calendar_sequence: eb('calendar_sequence', '+', 1),
            updated_at: now.toISOString(),
          }))
          .where('id', '=', row.id)
          .where('status', '=', 'confirmed')
          .where('start_at', '=', row.start_at)
          .executeTakeFirst();
        if (!isOneRow(updated)) return false;
        await options.countChange?.(trx);
        await trx.deleteFrom('booking_slot_claims').where('booking_id', '=', row.id).execute();
        if (row.zoom_meeting_id !== null) {
          await queueZoomChange(trx, clock, ZOOM_DELETE_MEETING_JOB, { specialistId: specialist.id, bookingId: row.id, meetingId: row.zoom_meeting_id });
        }
        await deps.handlers.onCancelled(trx, {
          ...partiesOf(loaded),
          start: new Date(row.start_at),
          end: new Date(row.end_at),
          cancelledBy,
          reason,
          sequence: row.calendar_sequence + 1,
        });
        await markAvailabilityChanged(trx, specialist.id);
        return true;
      });
      const answer = await reread(bookingId, access, now);
      if (!isCancelledHere && answer.status !== 'cancelled') throw changedMeanwhile();
      if (isCancelledHere) deps.logger.info('booking cancelled', { bookingId, by: cancelledBy });
      return answer;
    },

    /**
     * 1. With an idempotency key already used for this booking: the same
     *    start answers the booking as it is now; another start is refused
     *    (`idempotency_key_reused`).
     * 2. The new start must be one of the service's offered slots
     *    (`slot_unavailable`).
     * 3. In one transaction: the time update fenced on `confirmed` and the
     *    previous start (row count checked), the caller's `countChange` (so
     *    repeats and refused moves are not counted), the old claims deleted and the
     *    new ones inserted (their primary key refuses a taken time:
     *    `slot_taken`, and the transaction rolls back, so the booking keeps
     *    its old time; no other transaction ever sees both or neither held),
     *    the key recorded, the calendar sequence raised, the Zoom update
     *    queued, `onRescheduled` raised, the slot caches told.
     * Deleting the old claims first lets a move overlap the booking's own
     * old time.
     */
    async reschedule(bookingId, access, change) {
      const now = clock();
      const loaded = await authorize(bookingId, access, now);
      const start = Date.parse(change.start);
      const fingerprint = createHash('sha256').update(JSON.stringify(['reschedule', start])).digest('hex');
      const key = change.idempotencyKey;
      if (key !== undefined && (await isKnownKey(db, bookingId, key, fingerprint))) return toManaged(loaded, access, now);
      assertMayChange(loaded, access, now);
      const { row, service, specialist } = loaded;
      if (start === Date.parse(row.start_at)) return toManaged(loaded, access, now);
      await assertSlotIsOffered(deps, specialist, service, start);
      const end = start + service.duration_minutes * MINUTE;
      const rescheduledBy: BookingChangedBy = access.kind;
      let isMovedHere: boolean;
      try {
        isMovedHere = await db.transaction().execute(async (trx) => {
          // First, so a concurrent change of this booking waits on its row and then finds the fence moved.
          const updated = await trx
            .updateTable('bookings')
            .set((eb) => ({
              start_at: new Date(start).toISOString(),
              end_at: new Date(end).toISOString(),
              calendar_sequence: eb('calendar_sequence', '+', 1),
              updated_at: now.toISOString(),
            }))
            .where('id', '=', row.id)
            .where('status', '=', 'confirmed')
            .where('start_at', '=', row.start_at)
            .executeTakeFirst();
          if (!isOneRow(updated)) return false;
          await change.countChange?.(trx);
          if (key !== undefined) {
            await trx.insertInto('booking_change_keys').values({ booking_id: row.id, idempotency_key: key, request_fingerprint: fingerprint, created_at: now.toISOString() }).execute();
          }
          await trx.deleteFrom('booking_slot_claims').where('booking_id', '=', row.id).execute();
          await trx
            .insertInto('booking_slot_claims')
            .values(claimBlocks(start, end).map((block_start) => ({ specialist_id: specialist.id, block_start, booking_id: row.id })))
            .execute();
          if (row.zoom_meeting_id !== null) {
            await queueZoomChange(trx, clock, ZOOM_UPDATE_MEETING_JOB, { specialistId: specialist.id, bookingId: row.id, meetingId: row.zoom_meeting_id });
          }
          await deps.handlers.onRescheduled(trx, {
            ...partiesOf(loaded),
            previousStart: new Date(row.start_at),
            previousEnd: new Date(row.end_at),
            start: new Date(start),
            end: new Date(end),
            rescheduledBy,
            joinUrl: row.zoom_join_url ?? '',
            sequence: row.calendar_sequence + 1,
          });
          await markAvailabilityChanged(trx, specialist.id);
          return true;
        });
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        // The same key won by a concurrent request, or the time is taken.
        if (key !== undefined && (await isKnownKey(db, bookingId, key, fingerprint))) return reread(bookingId, access, now);
        throw new DomainError('slot_taken', 'Sorry, someone has just booked that time. Please pick another slot.');
      }
      if (!isMovedHere) {
        if (key !== undefined && (await isKnownKey(db, bookingId, key, fingerprint))) return reread(bookingId, access, now);
        throw changedMeanwhile();
      }
      deps.logger.info('booking rescheduled', { bookingId, by: rescheduledBy });
      return reread(bookingId, access, now);
    },

    async withdraw(bookingId, access, options = {}) {
      const now = clock();
      const loaded = await authorize(bookingId, access, now);
      if (loaded.row.status === 'withdrawn') return toManaged(loaded, access, now);
      if (loaded.row.status !== 'held') {
        throw new DomainError(
          'booking_not_changeable',
          loaded.row.status === 'confirmed' ? 'This request was already confirmed: cancel the booking instead if you cannot come.' : notChangeableBecause(loaded.row.status),
        );
      }
      const isWithdrawnHere = await db.transaction().execute(async (trx) => {
        if (!(await releaseHeldRequest(trx, clock, bookingId, 'withdrawn'))) return false;
        await options.countChange?.(trx);
        return true;
      });
      if (isWithdrawnHere) deps.logger.info('held request withdrawn', { bookingId, by: access.kind });
      const answer = await reread(bookingId, access, now);
      // Confirmed or expired in the same moment: say so rather than pretend it was withdrawn.
      if (answer.status !== 'withdrawn') throw new DomainError('booking_not_changeable', answer.status === 'confirmed' ? 'This request was confirmed in the meantime: cancel the booking instead if you cannot come.' : notChangeableBecause(answer.status));
      return answer;
    },

    async offerReschedule(bookingId, specialistId, options = {}) {
      const now = clock();
      const access: BookingAccess = { kind: 'specialist', specialistId };
      const loaded = await authorize(bookingId, access, now);
      assertMayChange(loaded, access, now);
      const { row } = loaded;
      const message = options.message?.trim() || null;
      const isOfferedHere = await db.transaction().execute(async (trx) => {
        const updated = await trx
          .updateTable('bookings')
          .set({ reschedule_offered_at: now.toISOString(), updated_at: now.toISOString() })
          .where('id', '=', row.id)
          .where('status', '=', 'confirmed')
          .where('start_at', '=', row.start_at)
          .executeTakeFirst();
        if (!isOneRow(updated)) return false;
        await deps.handlers.onRescheduleOffered(trx, { ...partiesOf(loaded), start: new Date(row.start_at), end: new Date(row.end_at), message });
        return true;
      });
      if (!isOfferedHere) throw changedMeanwhile();
      return reread(bookingId, access, now);
    },

    async listForSpecialist(specialistId, options) {
      const now = clock();
      const nowIso = now.toISOString();
      const limit = Math.min(Math.max(1, Math.floor(options.limit ?? DEFAULT_LIST_LIMIT)), MAX_LIST_LIMIT);
      const offset = Math.max(0, Math.floor(options.offset ?? 0));
      let query = db.selectFrom('bookings').selectAll().where('specialist_id', '=', specialistId);
      query =
        options.when === 'upcoming'
          ? query.where('status', '=', 'confirmed').where('start_at', '>=', nowIso).orderBy('start_at', 'asc')
          : query
              // Requests that ended unconfirmed (issue #17) show here too, so a specialist who re-authorized late sees whom they missed.
              .where((eb) => eb.or([eb('status', 'in', ['cancelled', 'expired', 'withdrawn']), eb.and([eb('status', '=', 'confirmed'), eb('start_at', '<', nowIso)])]))
              .orderBy('start_at', 'desc');
      const rows = await query.orderBy('id').limit(limit).offset(offset).execute();
      if (rows.length === 0) return [];
      const specialist = await db.selectFrom('specialists').selectAll().where('id', '=', specialistId).executeTakeFirstOrThrow();
      const services = new Map(
        (await db.selectFrom('services').selectAll().where('specialist_id', '=', specialistId).execute()).map((service) => [service.id, service]),
      );
      const access: BookingAccess = { kind: 'specialist', specialistId };
      return rows.map((row) => toManaged({ row, specialist, service: services.get(row.service_id)! }, access, now));
    },
  };
}

/** When the customer's change window closes, and whether it is still open at `now`. */
function changeWindowOf(loaded: LoadedBooking, now: Date): { closesAt: string; isOpen: boolean } {
  const closesAt = Date.parse(loaded.row.start_at) - loaded.specialist.cancellation_window_minutes * MINUTE;
  return { closesAt: new Date(closesAt).toISOString(), isOpen: now.getTime() < closesAt };
}

function partiesOf({ row, service, specialist }: LoadedBooking): BookingParties {
  return {
    bookingId: row.id,
    specialist: { id: specialist.id, slug: specialist.slug, name: specialist.name, email: specialist.email, timeZone: specialist.time_zone },
    service: { id: service.id, title: service.title, durationMinutes: service.duration_minutes },
    customer: { name: row.customer_name, email: row.customer_email, timeZone: row.customer_time_zone, note: row.customer_note },
  };
}

/** Whether this key was used for this booking with this body; a reuse with another body is refused. */
async function isKnownKey(db: Kysely<Database>, bookingId: string, key: string, fingerprint: string): Promise<boolean> {
  const used = await db
    .selectFrom('booking_change_keys')
    .select('request_fingerprint')
    .where('booking_id', '=', bookingId)
    .where('idempotency_key', '=', key)
    .executeTakeFirst();
  if (used && used.request_fingerprint !== fingerprint) {
    throw new DomainError('idempotency_key_reused', 'This Idempotency-Key was already used for a different change of this booking. Use a new key for a new request.');
  }
  return used !== undefined;
}

/** Why a booking that is not confirmed cannot be changed, in the customer's words. */
function notChangeableBecause(status: BookingRow['status']): string {
  switch (status) {
    case 'held':
      return 'This request is not confirmed yet: it can be withdrawn, and changed once it is confirmed.';
    case 'expired':
      return 'This request expired before it could be confirmed, so it can no longer be changed. Please book another time.';
    case 'withdrawn':
      return 'This request was withdrawn, so it can no longer be changed.';
    default:
      return 'This booking was cancelled, so it can no longer be changed.';
  }
}

const changedMeanwhile = () => new DomainError('booking_not_changeable', 'This booking was changed at the same moment. Please reload it and try again.');
