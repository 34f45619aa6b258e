/**
 * What the server reports to Prometheus: requests, booking outcomes, Zoom
 * calls, token refreshes, and gauges read from the database at scrape time
 * (Zoom connections needing re-auth, the outbox, background jobs by kind).
 * Everything lives on one prom-client `Registry` made here, never the
 * library's global default, so two servers in one process (tests) keep
 * their counts apart.
 */
import type { Kysely } from 'kysely';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Clock } from '../clock.js';
import type { Database } from '../db/schema.js';
import type { ZoomCallObserver, ZoomErrorKind, ZoomOperation } from '../zoom/client.js';

/** The booking answers the issue asks to see; any other answer is counted under its own error code. */
const BOOKING_OUTCOMES = ['confirmed', 'slot_taken', 'requires_reauth', 'zoom_unavailable', 'rate_limited'] as const;

export interface Metrics {
  /** One answered request: the route pattern (`/api/v1/specialists/:slug/bookings`), never the raw path. */
  countRequest(route: string, status: number): void;
  /** One answer of the booking endpoint: `confirmed`, `replayed`, or the error code it carried. */
  countBookingOutcome(outcome: string): void;
  /** Pass to `createZoomClient({ observer })`. */
  zoom: ZoomCallObserver;
  /** Reads the gauges from the database, then renders everything in Prometheus' text format. */
  scrape(): Promise<string>;
  /** The text format's content type, for the `/metrics` answer. */
  contentType: string;
}

export interface MetricsDeps {
  db: Kysely<Database>;
  clock: Clock;
}

/**
 * Builds the server's metrics on a registry of their own.
 *
 * Counting a request is a map lookup and an increment: each (route, status)
 * pair's counter child is kept, so prom-client's label hashing runs once per
 * pair, not once per request.
 *
 * @example
 * const metrics = createMetrics({ db, clock: systemClock });
 * const zoom = createZoomClient({ ...options, observer: metrics.zoom });
 * const app = createApp({ ...deps, metrics });
 */
export function createMetrics(deps: MetricsDeps): Metrics {
  const registry = new Registry();
  const prefix = 'specialist_booking_';
  const requests = new Counter({
    name: `${prefix}http_requests_total`,
    help: 'Answered HTTP requests, by route pattern and status.',
    labelNames: ['route', 'status'] as const,
    registers: [registry],
  });
  const bookings = new Counter({
    name: `${prefix}bookings_total`,
    help: 'Answers of the booking endpoint, by outcome: confirmed, replayed, or the error code.',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const zoomDuration = new Histogram({
    name: `${prefix}zoom_request_duration_seconds`,
    help: 'Time to Zoom’s response headers, per HTTP request (each retry is one), by operation.',
    labelNames: ['operation'] as const,
    buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const zoomErrors = new Counter({
    name: `${prefix}zoom_errors_total`,
    help: 'Zoom requests that failed, by operation and kind: 401, 429, 4xx, 5xx, network, timeout.',
    labelNames: ['operation', 'kind'] as const,
    registers: [registry],
  });
  const refreshes = new Counter({
    name: `${prefix}zoom_token_refreshes_total`,
    help: 'Zoom token refreshes, by outcome.',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const needingReauth = new Gauge({
    name: `${prefix}zoom_connections_needing_reauth`,
    help: 'Zoom connections that are invalid or revoked until the specialist re-authorizes.',
    registers: [registry],
  });
  const outboxPending = new Gauge({ name: `${prefix}outbox_pending`, help: 'Emails waiting to be sent.', registers: [registry] });
  const outboxFailed = new Gauge({ name: `${prefix}outbox_failed`, help: 'Emails given up on after their last attempt.', registers: [registry] });
  const jobsPending = new Gauge({ name: `${prefix}jobs_pending`, help: 'Background jobs waiting to run or be retried, by kind.', labelNames: ['kind'] as const, registers: [registry] });
  const jobsFailed = new Gauge({ name: `${prefix}jobs_failed`, help: 'Background jobs given up on, by kind (`npm run jobs -- failed` lists them).', labelNames: ['kind'] as const, registers: [registry] });
  const outboxOldestAge = new Gauge({
    name: `${prefix}outbox_oldest_pending_age_seconds`,
    help: 'Age of the oldest email waiting to be sent; 0 when none waits.',
    registers: [registry],
  });

  // Present from the start, so a dashboard sees 0 rather than no series.
  for (const outcome of BOOKING_OUTCOMES) bookings.inc({ outcome }, 0);
  for (const outcome of ['success', 'failure']) refreshes.inc({ outcome }, 0);

  const requestChildren = new Map<string, Map<number, Counter.Internal>>();
  function requestCounter(route: string, status: number): Counter.Internal {
    let byStatus = requestChildren.get(route);
    if (!byStatus) requestChildren.set(route, (byStatus = new Map()));
    let child = byStatus.get(status);
    if (!child) byStatus.set(status, (child = requests.labels(route, String(status))));
    return child;
  }

  async function readGauges(): Promise<void> {
    const { db } = deps;
    const [connections, pending, failed, jobs] = await Promise.all([
      db.selectFrom('zoom_connections').select((eb) => eb.fn.countAll<number | string>().as('n')).where('status', 'in', ['invalid', 'revoked']).executeTakeFirstOrThrow(),
      db
        .selectFrom('email_outbox')
        .select((eb) => [eb.fn.countAll<number | string>().as('n'), eb.fn.min('created_at').as('oldest')])
        .where('status', '=', 'pending')
        .executeTakeFirstOrThrow(),
      db.selectFrom('email_outbox').select((eb) => eb.fn.countAll<number | string>().as('n')).where('status', '=', 'failed').executeTakeFirstOrThrow(),
      db
        .selectFrom('jobs')
        .select((eb) => ['kind', 'status', eb.fn.countAll<number | string>().as('n')])
        .where('status', 'in', ['pending', 'failed'])
        .groupBy(['kind', 'status'])
        .execute(),
    ]);
    // A kind shows once it has had a pending or failed job; one whose jobs are all gone drops out.
    jobsPending.reset();
    jobsFailed.reset();
    for (const row of jobs) (row.status === 'pending' ? jobsPending : jobsFailed).set({ kind: row.kind }, Number(row.n));
    needingReauth.set(Number(connections.n));
    outboxPending.set(Number(pending.n));
    outboxFailed.set(Number(failed.n));
    outboxOldestAge.set(pending.oldest ? Math.max(0, (deps.clock().getTime() - Date.parse(pending.oldest)) / 1000) : 0);
  }

  const zoom: ZoomCallObserver = {
    call(operation: ZoomOperation, seconds: number, errorKind: ZoomErrorKind | undefined) {
      zoomDuration.observe({ operation }, seconds);
      if (errorKind) zoomErrors.inc({ operation, kind: errorKind });
    },
    tokenRefresh(isSuccess: boolean) {
      refreshes.inc({ outcome: isSuccess ? 'success' : 'failure' });
    },
  };

  return {
    countRequest: (route, status) => requestCounter(route, status).inc(),
    countBookingOutcome: (outcome) => bookings.inc({ outcome }),
    zoom,
    async scrape() {
      await readGauges();
      return registry.metrics();
    },
    contentType: registry.contentType,
  };
}
