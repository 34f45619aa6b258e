import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, Handler, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { Metrics } from '../metrics/index.js';
import { handleNotFound } from './errors.js';
import { isDirectLoopbackRequest } from './loopback-host.js';

/** The booking endpoint's pattern, as the API is mounted in app.ts. */
const BOOKINGS_ROUTE = '/api/v1/specialists/:slug/bookings';

/**
 * The pattern of the route that answered (`/settings/services/:serviceId`),
 * never the raw path, so labels stay few. `unmatched` when only middleware
 * matched: a 404, or middleware that answered before any route.
 */
function routeOf(c: Context): string {
  const route = matchedRoutes(c)[c.req.routeIndex];
  if (route === undefined || (route.method === 'ALL' && (route.path === '*' || route.path === '/*'))) return 'unmatched';
  return route.path;
}

/**
 * Counts a public API answer (by route and status) and, for the booking
 * endpoint, its outcome: `confirmed`, `replayed` (an idempotent replay), or
 * the error code the answer carried (`slot_taken`, `requires_reauth`,
 * `zoom_unavailable`, `rate_limited`, …). For the API envelope's `onAnswered`.
 */
export function apiAnswerCounter(metrics: Metrics): (c: Context, response: Response) => void {
  return function countApiAnswer(c, response) {
    const route = routeOf(c);
    metrics.countRequest(route, response.status);
    if (route !== BOOKINGS_ROUTE || c.req.method !== 'POST') return;
    if (response.status === 201) metrics.countBookingOutcome(response.headers.get('Idempotent-Replayed') === 'true' ? 'replayed' : 'confirmed');
    else metrics.countBookingOutcome(c.get('errorCode') ?? `http_${response.status}`);
  };
}

/** Counts every site request (pages, docs, health, static files) by route and status, once answered. */
export function siteRequestCounter(metrics: Metrics): MiddlewareHandler {
  return async function countSiteRequest(c, next) {
    await next();
    metrics.countRequest(routeOf(c), c.res.status);
  };
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * `GET /metrics` in Prometheus' text format, for a caller straight on this
 * machine (see `isDirectLoopbackRequest`: loopback Host and socket peer, no
 * forwarding header — a reverse proxy on the same machine is a loopback peer
 * for every client it forwards) or one sending
 * `Authorization: Bearer <METRICS_TOKEN>`, compared in constant time. Anyone
 * else gets the same 404 as a path that does not exist.
 */
export function metricsEndpoint(metrics: Metrics, token: string | undefined): Handler {
  const expected = token === undefined ? undefined : digest(`Bearer ${token}`);
  // Digests of equal length, so timingSafeEqual compares whatever length was sent.
  const hasToken = (c: Context) => expected !== undefined && timingSafeEqual(digest(c.req.header('authorization') ?? ''), expected);
  return async function serveMetrics(c) {
    if (!isDirectLoopbackRequest(c) && !hasToken(c)) return handleNotFound(c);
    return c.body(await metrics.scrape(), 200, { 'Content-Type': metrics.contentType, 'Cache-Control': 'no-store' });
  };
}
