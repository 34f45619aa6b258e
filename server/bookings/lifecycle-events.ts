/**
 * What the booking lifecycle (issue #16: cancel, reschedule, reschedule
 * offers) tells the rest of the server, inside the transaction of the change,
 * so that emails, reminders and Zoom changes are queued exactly when the
 * change commits. The domain raises them; email/ and the reminder scheduler
 * implement the handlers. Times are instants; each party's own time zone is
 * given so every message can speak in it.
 */
import type { Transaction } from 'kysely';
import type { Database } from '../db/schema.js';

/** Who is involved in a booking, and what was booked. */
export interface BookingParties {
  bookingId: string;
  specialist: { id: string; slug: string; name: string; email: string; timeZone: string };
  service: { id: string; title: string; durationMinutes: number };
  customer: { name: string; email: string; timeZone: string | null; note: string | null };
}

/** A confirmed booking was cancelled: by the customer on the manage page (or the API), or by the specialist. */
export interface BookingCancelledEvent extends BookingParties {
  start: Date;
  end: Date;
  cancelledBy: 'customer' | 'specialist';
  /** The customer's optional reason, or the specialist's message to the customer. */
  reason: string | null;
  /** The calendar event's SEQUENCE after this change (the `.ics` CANCEL carries it). */
  sequence: number;
}

/** A confirmed booking moved to another time; its Zoom meeting keeps its join link. */
export interface BookingRescheduledEvent extends BookingParties {
  previousStart: Date;
  previousEnd: Date;
  start: Date;
  end: Date;
  rescheduledBy: 'customer' | 'specialist';
  joinUrl: string;
  /** The calendar event's SEQUENCE after this change (higher than every earlier one). */
  sequence: number;
}

/** The specialist offered the customer a reschedule: the cancellation window no longer applies to this booking. */
export interface RescheduleOfferedEvent extends BookingParties {
  start: Date;
  end: Date;
  /** The specialist's message to the customer, if any. */
  message: string | null;
}

export interface BookingLifecycleHandlers {
  onCancelled(trx: Transaction<Database>, event: BookingCancelledEvent): Promise<void>;
  onRescheduled(trx: Transaction<Database>, event: BookingRescheduledEvent): Promise<void>;
  onRescheduleOffered(trx: Transaction<Database>, event: RescheduleOfferedEvent): Promise<void>;
}

/**
 * Handlers that each do their part of every event, in order, in the same
 * transaction: e.g. the lifecycle emails and the reminders' moves.
 */
export function combineLifecycleHandlers(...parts: Partial<BookingLifecycleHandlers>[]): BookingLifecycleHandlers {
  return {
    async onCancelled(trx, event) {
      for (const part of parts) await part.onCancelled?.(trx, event);
    },
    async onRescheduled(trx, event) {
      for (const part of parts) await part.onRescheduled?.(trx, event);
    },
    async onRescheduleOffered(trx, event) {
      for (const part of parts) await part.onRescheduleOffered?.(trx, event);
    },
  };
}
