import type { Kysely } from 'kysely';
import type { BookingDeps } from './bookings/index.js';
import type { Clock } from './clock.js';
import type { Database } from './db/schema.js';
import type { Logger } from './logger.js';
import type { TokenCipher } from './security/token-cipher.js';
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
  notifyReauthRequired: ReauthNotifier;
}

export interface Services {
  connections: ZoomConnectionStore;
  bookings: BookingDeps;
}

/** The domain services over the core dependencies. Stateless: build as often as needed. */
export function createServices(deps: CoreDeps): Services {
  const connections = createZoomConnectionStore(deps);
  const meetings = createZoomMeetings({ zoom: deps.zoom, connections, logger: deps.logger });
  return {
    connections,
    bookings: { db: deps.db, clock: deps.clock, logger: deps.logger, cipher: deps.cipher, meetings, notifyReauthRequired: deps.notifyReauthRequired },
  };
}
