import type { Transaction } from 'kysely';
import type { SignInLinks } from '../auth/links.js';
import type { Database } from '../db/schema.js';
import type { ZoomAccountChangeNotifier } from '../zoom/authorization.js';
import type { ReauthNotifier } from '../zoom/reauth.js';
import type { BookingLifecycleHandlers } from '../bookings/lifecycle-events.js';
import { countPendingZoomChanges } from '../bookings/lifecycle.js';
import { listExpiredRequests, listHeldRequests, type HeldRequestHandlers } from '../bookings/held-requests.js';
import { heldRequestEmail, holdExpiredEmail, type HeldRequestsNotice } from './held-templates.js';
import type { ManageTokens } from '../bookings/manage-tokens.js';
import { buildBookingIcs, type CalendarMethod } from './ics.js';
import {
  customerCancellationEmail,
  customerRescheduleEmail,
  rescheduleOfferEmail,
  specialistCancellationEmail,
  specialistRescheduleEmail,
} from './lifecycle-templates.js';
import { enqueueEmail, type OutboxDeps } from './outbox.js';
import {
  bookingNotGoneThroughEmail,
  customerInviteEmail,
  reauthRequiredEmail,
  specialistInviteEmail,
  zoomAccountChangedEmail,
  type BookingConfirmedEvent,
  type BookingNotGoneThroughInput,
} from './templates.js';

export type { BookingConfirmedEvent } from './templates.js';

export const REAUTH_LINK_TTL_MS = 24 * 3_600_000;

/**
 * The re-auth notifier that emails the specialist: at most one email per
 * specialist per window (default one hour), however many customers or Zoom
 * change jobs hit the problem; the next email says how many booking attempts
 * failed meanwhile (a job's failure is not one: the email names the waiting
 * changes instead). The throttle is a compare-and-swap on `reauth_notices`, so
 * concurrent attempts in several processes still send one email. The email
 * also names the cancellations and reschedules whose Zoom change waits for
 * the connection, and leads with the held requests (issue #17): "Re-authorize
 * by 14:00 to confirm 3 waiting customers". A new held request that must be
 * confirmed before the earliest deadline the last email named (or after
 * that deadline has passed) is emailed at once, throttle or not: the
 * specialist must not act on a deadline that is no longer true. Requests that expired since the last email are listed.
 */
export function createEmailReauthNotifier(deps: OutboxDeps & { links: SignInLinks; publicUrl: string; windowMs: number }): ReauthNotifier {
  return async function emailSpecialist(trx, event) {
    const now = deps.clock();
    const specialistId = event.specialist.id;
    const waiting = await listHeldRequests(trx, specialistId);
    const earliestDeadline = waiting[0]?.holdExpiresAt;
    const inserted = await trx
      .insertInto('reauth_notices')
      .values({ specialist_id: specialistId, last_sent_at: now.toISOString(), attempts_since_sent: 0, hold_deadline_sent: earliestDeadline ?? null })
      .onConflict((oc) => oc.column('specialist_id').doNothing())
      .executeTakeFirst();
    const isBookingAttempt = event.trigger === 'booking_attempt';
    let failedAttempts = isBookingAttempt ? 1 : 0;
    let lastSentAt: string | undefined;
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) !== 1) {
      const notice = await trx.selectFrom('reauth_notices').selectAll().where('specialist_id', '=', specialistId).executeTakeFirstOrThrow();
      // News the throttle must not hold back: a deadline sooner than the one last named, or the one last named has passed.
      const isSoonerDeadline =
        earliestDeadline !== undefined && (notice.hold_deadline_sent === null || earliestDeadline < notice.hold_deadline_sent || Date.parse(notice.hold_deadline_sent) <= now.getTime());
      const isDue = Date.parse(notice.last_sent_at) + deps.windowMs <= now.getTime() || isSoonerDeadline;
      const won =
        isDue &&
        Number(
          (
            await trx
              .updateTable('reauth_notices')
              .set({ last_sent_at: now.toISOString(), attempts_since_sent: 0, hold_deadline_sent: earliestDeadline ?? null })
              .where('specialist_id', '=', specialistId)
              .where('last_sent_at', '=', notice.last_sent_at)
              .where('attempts_since_sent', '=', notice.attempts_since_sent)
              .executeTakeFirst()
          ).numUpdatedRows,
        ) === 1;
      if (!won) {
        if (isBookingAttempt) {
          await trx
            .updateTable('reauth_notices')
            .set((eb) => ({ attempts_since_sent: eb('attempts_since_sent', '+', 1) }))
            .where('specialist_id', '=', specialistId)
            .execute();
        }
        // Emailed within the window already: the specialist has been notified.
        return { notified: true };
      }
      failedAttempts += notice.attempts_since_sent;
      lastSentAt = notice.last_sent_at;
    }
    const expired = await listExpiredRequests(trx, specialistId, lastSentAt);
    const heldRequests: HeldRequestsNotice = {
      waiting: waiting.length,
      earliestDeadline: earliestDeadline ? new Date(earliestDeadline) : undefined,
      expired: expired.first.map((r) => ({ customerName: r.customerName, serviceTitle: r.serviceTitle, start: new Date(r.start) })),
      expiredCount: expired.count,
    };
    const reauthorizeUrl = await deps.links.create(trx, { specialistId, purpose: 'reauth', ttlMs: REAUTH_LINK_TTL_MS });
    await enqueueEmail(trx, deps, {
      specialistId,
      ...reauthRequiredEmail({
        ...event,
        failedAttempts,
        pendingZoomChanges: await countPendingZoomChanges(trx, specialistId),
        heldRequests,
        now,
        reauthorizeUrl,
        settingsUrl: `${deps.publicUrl}/settings/zoom`,
        linkValidHours: REAUTH_LINK_TTL_MS / 3_600_000,
      }),
    });
    return { notified: true };
  };
}

/**
 * The customer's emails of a held request (issue #17): at once, "we're
 * holding your time" with the manage link (to withdraw it); at the hold's
 * end, "it could not be confirmed" with the booking page (`/book/{slug}`).
 * Replies go to the specialist.
 */
export function createHeldRequestEmails(deps: BookingEmailDeps): HeldRequestHandlers {
  return {
    async onHeld(trx, event) {
      await enqueueEmail(trx, deps, { specialistId: event.specialist.id, ...heldRequestEmail({ ...event, manageUrl: manageUrlOf(deps, event.bookingId) }) });
    },
    async onHoldExpired(trx, event) {
      const bookUrl = `${deps.publicUrl}/book/${encodeURIComponent(event.specialist.slug)}`;
      await enqueueEmail(trx, deps, { specialistId: event.specialist.id, ...holdExpiredEmail({ ...event, bookUrl }) });
    },
  };
}

/** Called in the transaction that confirms a booking: may queue work that must commit with it. */
export type BookingConfirmedHandler = (trx: Transaction<Database>, event: BookingConfirmedEvent) => Promise<void>;

/** What the booking emails need beyond the outbox: links to the public site and the manage-link tokens. */
export interface BookingEmailDeps extends OutboxDeps {
  /** Base of every link, e.g. `https://booking.example.com`. */
  publicUrl: string;
  manageTokens: ManageTokens;
}

/** The customer's manage link: `${publicUrl}/bookings/${id}/manage?token=…`. */
export function manageUrlOf(deps: BookingEmailDeps, bookingId: string): string {
  return `${deps.publicUrl}/bookings/${encodeURIComponent(bookingId)}/manage?token=${deps.manageTokens.issue(bookingId)}`;
}

/** The parts of a booking its calendar files are made of. */
interface CalendarFileInput {
  bookingId: string;
  service: { title: string };
  specialist: { name: string; email: string };
  customer: { name: string; email: string };
  start: Date;
  end: Date;
  /** Absent from a cancellation. */
  joinUrl?: string;
}

/**
 * The booking's `.ics`: its UID (`${bookingId}@${domain}`) is the same for
 * every file of the booking, so a calendar app updates the event it has;
 * organizer the specialist, attendee the customer.
 */
function calendarFile(deps: OutboxDeps, booking: CalendarFileInput, change: { method: CalendarMethod; sequence: number }): string {
  return buildBookingIcs({
    ...change,
    uid: `${booking.bookingId}@${deps.messageIdDomain}`,
    stamp: deps.clock(),
    start: booking.start,
    end: booking.end,
    summary: `${booking.service.title}: ${booking.specialist.name} and ${booking.customer.name}`,
    description: booking.joinUrl ? `Zoom: ${booking.joinUrl}` : 'Cancelled.',
    location: booking.joinUrl,
    organizer: { name: booking.specialist.name, email: booking.specialist.email },
    attendee: { name: booking.customer.name, email: booking.customer.email },
  });
}

/**
 * Queues the two invitations of a confirmed booking (METHOD:REQUEST,
 * SEQUENCE 0: a new booking's `calendar_sequence`); the customer's carries
 * the manage link and the "Add to calendar" links.
 */
export function createInviteSender(deps: BookingEmailDeps): BookingConfirmedHandler {
  return async function queueInvites(trx, event) {
    const ics = calendarFile(deps, event, { method: 'REQUEST', sequence: 0 });
    const input = { ...event, ics, manageUrl: manageUrlOf(deps, event.bookingId) };
    await enqueueEmail(trx, deps, { specialistId: event.specialist.id, ...customerInviteEmail(input) });
    await enqueueEmail(trx, deps, { specialistId: event.specialist.id, ...specialistInviteEmail(input) });
  };
}

/**
 * The emails of a booking's lifecycle (issue #16), queued in the transaction
 * of the change: a cancellation to both parties (METHOD:CANCEL with the
 * event's SEQUENCE), a reschedule to both (METHOD:REQUEST with the new, higher
 * SEQUENCE, the same join link), a reschedule offer to the customer (with the
 * manage link). All are filed under the specialist, so a failed one shows on
 * their dashboard.
 */
export function createLifecycleEmails(deps: BookingEmailDeps): BookingLifecycleHandlers {
  return {
    async onCancelled(trx, event) {
      const ics = calendarFile(deps, event, { method: 'CANCEL', sequence: event.sequence });
      const input = { ...event, ics, bookUrl: `${deps.publicUrl}/book/${encodeURIComponent(event.specialist.slug)}` };
      await enqueueEmail(trx, deps, { specialistId: event.specialist.id, ...customerCancellationEmail(input) });
      await enqueueEmail(trx, deps, { specialistId: event.specialist.id, ...specialistCancellationEmail(input) });
    },
    async onRescheduled(trx, event) {
      const ics = calendarFile(deps, event, { method: 'REQUEST', sequence: event.sequence });
      const input = { ...event, ics, manageUrl: manageUrlOf(deps, event.bookingId) };
      await enqueueEmail(trx, deps, { specialistId: event.specialist.id, ...customerRescheduleEmail(input) });
      await enqueueEmail(trx, deps, { specialistId: event.specialist.id, ...specialistRescheduleEmail(input) });
    },
    async onRescheduleOffered(trx, event) {
      await enqueueEmail(trx, deps, { specialistId: event.specialist.id, ...rescheduleOfferEmail({ ...event, manageUrl: manageUrlOf(deps, event.bookingId) }) });
    },
  };
}

/** A pending booking released because its time came too close: whom to tell, about what, and where to book again. */
export type BookingNotGoneThroughEvent = Omit<BookingNotGoneThroughInput, 'bookUrl' | 'specialist'> & {
  specialist: Omit<BookingNotGoneThroughInput['specialist'], 'email'> & { id: string; slug: string };
};

/** Called in the transaction that releases such a booking: may queue work that must commit with it. */
export type BookingNotGoneThroughHandler = (trx: Transaction<Database>, event: BookingNotGoneThroughEvent) => Promise<void>;

/** Queues the customer's "did not go through" email, linking the specialist's booking page (`/book/{slug}`); replies go to the specialist. */
export function createNotGoneThroughSender(deps: OutboxDeps & { publicUrl: string }): BookingNotGoneThroughHandler {
  return async function emailCustomer(trx, event) {
    const bookUrl = `${deps.publicUrl}/book/${encodeURIComponent(event.specialist.slug)}`;
    const { email } = await trx.selectFrom('specialists').select('email').where('id', '=', event.specialist.id).executeTakeFirstOrThrow();
    const specialist = { ...event.specialist, email };
    await enqueueEmail(trx, deps, { specialistId: event.specialist.id, ...bookingNotGoneThroughEmail({ ...event, specialist, bookUrl }) });
  };
}

/** Emails the specialist when their connected Zoom account changes, in the transaction of the change. */
export function createZoomAccountChangeNotifier(deps: OutboxDeps & { publicUrl: string }): ZoomAccountChangeNotifier {
  return async function emailAccountChange(trx, change) {
    const specialist = await trx.selectFrom('specialists').select(['name', 'email']).where('id', '=', change.specialistId).executeTakeFirstOrThrow();
    await enqueueEmail(trx, deps, { specialistId: change.specialistId, ...zoomAccountChangedEmail({ specialist, previous: change.previous, current: change.current, settingsUrl: `${deps.publicUrl}/settings/zoom` }) });
  };
}
