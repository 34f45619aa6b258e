import type { Transaction } from 'kysely';
import type { SignInLinks } from '../auth/links.js';
import type { Database } from '../db/schema.js';
import type { ZoomAccountChangeNotifier } from '../zoom/authorization.js';
import type { ReauthNotifier } from '../zoom/reauth.js';
import { buildInviteIcs } from './ics.js';
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
 * specialist per window (default one hour), however many customers hit the
 * problem; the next email says how many attempts failed meanwhile. The
 * throttle is a compare-and-swap on `reauth_notices`, so concurrent attempts
 * in several processes still send one email.
 */
export function createEmailReauthNotifier(deps: OutboxDeps & { links: SignInLinks; publicUrl: string; windowMs: number }): ReauthNotifier {
  return async function emailSpecialist(trx, event) {
    const now = deps.clock();
    const specialistId = event.specialist.id;
    const inserted = await trx
      .insertInto('reauth_notices')
      .values({ specialist_id: specialistId, last_sent_at: now.toISOString(), attempts_since_sent: 0 })
      .onConflict((oc) => oc.column('specialist_id').doNothing())
      .executeTakeFirst();
    let failedAttempts = 1;
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) !== 1) {
      const notice = await trx.selectFrom('reauth_notices').selectAll().where('specialist_id', '=', specialistId).executeTakeFirstOrThrow();
      const isDue = Date.parse(notice.last_sent_at) + deps.windowMs <= now.getTime();
      const won =
        isDue &&
        Number(
          (
            await trx
              .updateTable('reauth_notices')
              .set({ last_sent_at: now.toISOString(), attempts_since_sent: 0 })
              .where('specialist_id', '=', specialistId)
              .where('last_sent_at', '=', notice.last_sent_at)
              .where('attempts_since_sent', '=', notice.attempts_since_sent)
              .executeTakeFirst()
          ).numUpdatedRows,
        ) === 1;
      if (!won) {
        await trx
          .updateTable('reauth_notices')
          .set((eb) => ({ attempts_since_sent: eb('attempts_since_sent', '+', 1) }))
          .where('specialist_id', '=', specialistId)
          .execute();
        // Emailed within the window already: the specialist has been notified.
        return { notified: true };
      }
      failedAttempts = notice.attempts_since_sent + 1;
    }
    const reauthorizeUrl = await deps.links.create(trx, { specialistId, purpose: 'reauth', ttlMs: REAUTH_LINK_TTL_MS });
    await enqueueEmail(trx, deps, {
      specialistId,
      ...reauthRequiredEmail({
        specialist: event.specialist,
        service: event.service,
        customer: event.customer,
        start: event.start,
        attemptedAt: event.attemptedAt,
        failedAttempts,
        reauthorizeUrl,
        settingsUrl: `${deps.publicUrl}/settings/zoom`,
        linkValidHours: REAUTH_LINK_TTL_MS / 3_600_000,
      }),
    });
    return { notified: true };
  };
}

/** Called in the transaction that confirms a booking: may queue work that must commit with it. */
export type BookingConfirmedHandler = (trx: Transaction<Database>, event: BookingConfirmedEvent) => Promise<void>;

/** Queues the two invitations of a confirmed booking, each with an .ics. */
export function createInviteSender(deps: OutboxDeps): BookingConfirmedHandler {
  return async function queueInvites(trx, event) {
    const ics = buildInviteIcs({
      uid: `${event.bookingId}@${deps.messageIdDomain}`,
      stamp: deps.clock(),
      start: event.start,
      end: event.end,
      summary: `${event.service.title}: ${event.specialist.name} and ${event.customer.name}`,
      description: `Zoom: ${event.joinUrl}`,
      location: event.joinUrl,
      url: event.joinUrl,
      organizer: { name: event.specialist.name, email: event.specialist.email },
      attendee: { name: event.customer.name, email: event.customer.email },
    });
    const input = { ...event, ics };
    await enqueueEmail(trx, deps, { specialistId: event.specialist.id, ...customerInviteEmail(input) });
    await enqueueEmail(trx, deps, { specialistId: event.specialist.id, ...specialistInviteEmail(input) });
  };
}

/** A pending booking released because its time came too close: whom to tell, about what, and where to book again. */
export type BookingNotGoneThroughEvent = Omit<BookingNotGoneThroughInput, 'bookUrl'> & { specialist: { id: string; slug: string } };

/** Called in the transaction that releases such a booking: may queue work that must commit with it. */
export type BookingNotGoneThroughHandler = (trx: Transaction<Database>, event: BookingNotGoneThroughEvent) => Promise<void>;

/** Queues the customer's "did not go through" email, linking the specialist's booking page (`/book/{slug}`). */
export function createNotGoneThroughSender(deps: OutboxDeps & { publicUrl: string }): BookingNotGoneThroughHandler {
  return async function emailCustomer(trx, event) {
    const bookUrl = `${deps.publicUrl}/book/${encodeURIComponent(event.specialist.slug)}`;
    await enqueueEmail(trx, deps, { specialistId: event.specialist.id, ...bookingNotGoneThroughEmail({ ...event, bookUrl }) });
  };
}

/** Emails the specialist when their connected Zoom account changes, in the transaction of the change. */
export function createZoomAccountChangeNotifier(deps: OutboxDeps & { publicUrl: string }): ZoomAccountChangeNotifier {
  return async function emailAccountChange(trx, change) {
    const specialist = await trx.selectFrom('specialists').select(['name', 'email']).where('id', '=', change.specialistId).executeTakeFirstOrThrow();
    await enqueueEmail(trx, deps, { specialistId: change.specialistId, ...zoomAccountChangedEmail({ specialist, previous: change.previous, current: change.current, settingsUrl: `${deps.publicUrl}/settings/zoom` }) });
  };
}
