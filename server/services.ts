import { hkdfSync } from 'node:crypto';
import type { Kysely } from 'kysely';
import { createSignInLinks, type SignInLinks } from './auth/links.js';
import { createSlotLister, type SlotLister } from './availability/index.js';
import type { BookingDeps } from './bookings/index.js';
import { createBookingLifecycle, type BookingLifecycle } from './bookings/lifecycle.js';
import { combineLifecycleHandlers, type BookingLifecycleHandlers } from './bookings/lifecycle-events.js';
import { createManageTokens, type ManageTokens } from './bookings/manage-tokens.js';
import type { Clock } from './clock.js';
import type { Database } from './db/schema.js';
import { createEmailReauthNotifier, createHeldRequestEmails, createInviteSender, createLifecycleEmails, createNotGoneThroughSender, createZoomAccountChangeNotifier } from './email/notifications.js';
import type { OutboxDeps } from './email/outbox.js';
import { createReminderLifecycleHandlers, scheduleReminders } from './email/reminders.js';
import { createSlotReadLimiter, type AbuseLimits, type SlotReadLimiter } from './limits/index.js';
import type { Logger } from './logger.js';
import type { TokenCipher } from './security/token-cipher.js';
import { createAllowedOriginsLookup, type AllowedOriginsLookup } from './specialists/allowed-origins.js';
import type { ZoomAccountChangeNotifier } from './zoom/authorization.js';
import type { ZoomClient } from './zoom/client.js';
import { createZoomConnectionStore, type ZoomConnectionStore } from './zoom/connections.js';
import { createZoomMeetings } from './zoom/meetings.js';
import type { ReauthNotifier } from './zoom/reauth.js';

/** What the server is built from: every outside thing it talks to, passed in. */
export interface CoreDeps {
  db: Kysely<Database>;
  clock: Clock;
  logger: Logger;
  cipher: TokenCipher;
  zoom: ZoomClient;
  /** Base of every link the server hands out, e.g. `https://booking.example.com`. */
  publicUrl: string;
  /** Keys HMAC signatures of emailed links. */
  signingKey: Buffer;
  /** One re-auth email per specialist per window. Default one hour. */
  reauthEmailWindowMs?: number;
  /** Replaces the re-auth email (tests that only count calls). */
  notifyReauthRequired?: ReauthNotifier;
  /** Booking and slot-read limits (`loadConfig().limits`). */
  limits: AbuseLimits;
  /** What a cancel, a reschedule or an offer also does, besides its Zoom job. Default: the lifecycle emails and the reminders' moves. */
  lifecycleHandlers?: BookingLifecycleHandlers;
}

export interface Services {
  connections: ZoomConnectionStore;
  /** Keeps slot lists until they change: build once per server. */
  slots: SlotLister;
  /** Keeps each specialist's allowed origins (CORS) for a short while. */
  allowedOrigins: AllowedOriginsLookup;
  /** Counts slot reads per client address in memory, shared through the database in batches. */
  slotReads: SlotReadLimiter;
  bookings: BookingDeps;
  /** Signs and checks the token of each booking's manage link. */
  manageTokens: ManageTokens;
  /** Reading, cancelling and rescheduling bookings, and reschedule offers (issue #16). */
  lifecycle: BookingLifecycle;
  links: SignInLinks;
  outbox: OutboxDeps;
  /** Emails the specialist when the connected Zoom account changes. */
  notifyZoomAccountChanged: ZoomAccountChangeNotifier;
}

/** Derives the link-signing key from the token encryption key, so one secret is configured. */
export function deriveSigningKey(encryptionKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', encryptionKey, Buffer.alloc(0), 'specialist-booking sign-in links', 32));
}

/**
 * The domain services over the core dependencies. Build them once per
 * process, in its composition root (start.ts), and hand the same object to
 * `createApp` and the background work: `slots`, `allowedOrigins` and
 * `slotReads` keep state in memory (caches, per-address counts), which a
 * second copy would split.
 */
export function createServices(deps: CoreDeps): Services {
  const connections = createZoomConnectionStore(deps);
  const meetings = createZoomMeetings({ zoom: deps.zoom, connections, logger: deps.logger });
  const links = createSignInLinks(deps);
  const outbox: OutboxDeps = { clock: deps.clock, cipher: deps.cipher, messageIdDomain: new URL(deps.publicUrl).hostname };
  const notifyReauthRequired =
    deps.notifyReauthRequired ??
    createEmailReauthNotifier({ ...outbox, links, publicUrl: deps.publicUrl, windowMs: deps.reauthEmailWindowMs ?? 3_600_000 });
  const manageTokens = createManageTokens(deps.signingKey);
  const bookingEmails = { ...outbox, publicUrl: deps.publicUrl, manageTokens };
  const queueInvites = createInviteSender(bookingEmails);
  // Both parties are emailed, and the booking's reminders move or go with it.
  const lifecycleHandlers = deps.lifecycleHandlers ?? combineLifecycleHandlers(createLifecycleEmails(bookingEmails), createReminderLifecycleHandlers(deps));
  return {
    connections,
    manageTokens,
    lifecycle: createBookingLifecycle({ ...deps, manageTokens, handlers: lifecycleHandlers }),
    slots: createSlotLister(deps),
    allowedOrigins: createAllowedOriginsLookup(deps.db),
    slotReads: createSlotReadLimiter({ ...deps, limit: deps.limits.slotReadsPerAddressPerMinute }),
    links,
    outbox,
    notifyZoomAccountChanged: createZoomAccountChangeNotifier({ ...outbox, publicUrl: deps.publicUrl }),
    bookings: {
      db: deps.db,
      clock: deps.clock,
      logger: deps.logger,
      cipher: deps.cipher,
      meetings,
      notifyReauthRequired,
      onBookingConfirmed: async (trx, event) => {
        await queueInvites(trx, event);
        await scheduleReminders(trx, deps, { bookingId: event.bookingId, specialistId: event.specialist.id, start: event.start });
      },
      onBookingNotGoneThrough: createNotGoneThroughSender({ ...outbox, publicUrl: deps.publicUrl }),
      heldRequests: createHeldRequestEmails(bookingEmails),
      limits: deps.limits,
    },
  };
}
