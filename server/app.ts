import { Hono, type ErrorHandler } from 'hono';
import { compress } from 'hono/compress';
import { sql } from 'kysely';
import { DomainError, UNAVAILABLE_RETRY_AFTER_SECONDS } from './errors.js';
import { createClientAddressResolver, type ClientAddressOf } from './http/client-address.js';
import { createSiteCookies } from './http/cookies.js';
import { refuseCrossSiteForms } from './http/csrf.js';
import { createErrorHandler, errorResponse, handleNotFound } from './http/errors.js';
import { apiAnswerCounter, metricsEndpoint, siteRequestCounter } from './http/metrics.js';
import { buildOpenApiDocument, renderApiReference } from './http/openapi.js';
import { publicApiRoutes } from './http/public-api.js';
import { requestId } from './http/request-id.js';
import { siteBodyLimit } from './http/site-body-limit.js';
import { requestLog } from './http/request-log.js';
import { pageSecurityHeaders } from './http/security-headers.js';
import { zoomRoutes } from './http/zoom-routes.js';
import { loadSession, type SessionVariables } from './http/session.js';
import { authRoutes } from './http/auth-routes.js';
import { bookingPageRoutes } from './http/booking-page-routes.js';
import { specialistRoutes } from './http/specialist-routes.js';
import { inboxRoutes } from './http/inbox-routes.js';
import { manageRoutes } from './http/manage-routes.js';
import { staticRoutes } from './http/static-routes.js';
import type { LocalInbox } from './email/local-inbox.js';
import type { Metrics } from './metrics/index.js';
import type { CoreDeps, Services } from './services.js';

export interface AppDeps extends CoreDeps {
  /** The process's one set of services, built from the same core (`createServices`): the app keeps no caches of its own. */
  services: Services;
  /** Secret for Zoom's webhook signatures; without one `/webhooks/zoom` answers 404. */
  zoomWebhookSecret: string | undefined;
  /** The demo's local inbox, served at /inbox when present. */
  inbox?: LocalInbox | undefined;
  /** The client's address for limits and logs; default: the socket's peer (no proxy trusted). */
  clientAddressOf?: ClientAddressOf;
  /** True once the server is shutting down: `/readyz` then answers 503, so load balancers stop sending. */
  isDraining?: () => boolean;
  /** When present, every request is counted and `/metrics` serves the counts. */
  metrics?: Metrics;
  /** Opens `/metrics` to callers off loopback or through a proxy that send it as a bearer token. */
  metricsToken?: string | undefined;
}

/**
 * The whole HTTP application. Everything it uses is passed in, so tests build
 * it over a real database and real local stand-ins.
 *
 * Two parts: the public API at `/api/v1` (what embedded widgets call on
 * every page view), and the site — pages, docs, health, static files —
 * which answers everything else. The site's middleware (request id, log,
 * compression, sessions) would otherwise run on API calls too, and any
 * middleware on a route makes Hono compose it; the API's routes each have
 * one handler, inside the envelope that does for them what that middleware
 * does for pages (api-envelope.ts).
 *
 * The services come in built (see start.ts, the composition root), so the
 * app and the background work share one slot cache and one connection store.
 *
 * @example
 * const core = { db, clock: systemClock, logger, cipher, zoom, publicUrl, signingKey, limits };
 * const app = createApp({ ...core, services: createServices(core), zoomWebhookSecret });
 */
export function createApp(deps: AppDeps): Hono<{ Variables: SessionVariables }> {
  const { services } = deps;
  const onError = createErrorHandler(deps.logger);
  const clientAddressOf = deps.clientAddressOf ?? createClientAddressResolver({ kind: 'none' });
  const site = siteApp({ ...deps, clientAddressOf }, services, onError);
  const app = new Hono<{ Variables: SessionVariables }>();
  app.onError(onError);
  app.route(
    '/api/v1',
    publicApiRoutes({
      bookings: services.bookings,
      lifecycle: services.lifecycle,
      slots: services.slots,
      slotReads: services.slotReads,
      allowedOrigins: services.allowedOrigins,
      clientAddressOf,
      publicUrl: deps.publicUrl,
      onError,
      logger: deps.logger,
      onAnswered: deps.metrics && apiAnswerCounter(deps.metrics),
    }),
  );
  // Whatever the API does not answer — every page, and unknown API paths — the site does.
  app.notFound((c) => site.fetch(c.req.raw, c.env));
  return app;
}

/** Pages, documentation, health checks and static files, with their middleware. */
function siteApp(deps: AppDeps & { clientAddressOf: ClientAddressOf }, services: Services, onError: ErrorHandler): Hono<{ Variables: SessionVariables }> {
  const app = new Hono<{ Variables: SessionVariables }>();
  if (deps.metrics) app.use(siteRequestCounter(deps.metrics));
  app.use(requestId());
  // The level is fixed when the logger is made: with info lines off, requests pay nothing for the log.
  if (deps.logger.isEnabled('info')) app.use(requestLog(deps.logger, deps.clientAddressOf));
  // Before the body limit and the cross-site check: their 413 and 403 pages are pages too.
  app.use(pageSecurityHeaders(deps.publicUrl));
  app.use(siteBodyLimit());
  app.onError(onError);
  app.notFound(handleNotFound);

  app.get('/healthz', (c) => c.json({ success: true as const, status: 'ok' as const }));
  app.get('/readyz', async (c) => {
    if (deps.isDraining?.()) return c.json({ success: false as const, status: 'draining' as const }, 503);
    try {
      await sql`select 1`.execute(deps.db);
      return c.json({ success: true as const, status: 'ok' as const });
    } catch {
      return errorResponse(c, new DomainError('database_unavailable', 'The database is not answering.', { retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS }));
    }
  });
  if (deps.metrics) app.get('/metrics', metricsEndpoint(deps.metrics, deps.metricsToken));

  // The widget bundle, the API reference and pages shrink several-fold. (The
  // API compresses its one large answer, slot lists, itself, once per list:
  // see sendSharedJson. Its other answers are a few hundred bytes.)
  app.use(compress());
  const openApiDocument = buildOpenApiDocument(deps.publicUrl);
  const apiReference = renderApiReference(openApiDocument);
  app.get('/openapi.json', (c) => c.json(openApiDocument));
  app.get('/docs', (c) => c.html(apiReference));

  // Pages read the session cookie; API calls (which carry no cookie) answer
  // before this and pay nothing for it. Forms posted from another site are
  // refused before any route reads them.
  const cookies = createSiteCookies(deps.publicUrl);
  app.use(refuseCrossSiteForms(deps.publicUrl));
  app.use(loadSession({ ...deps, cookies }));
  const authorization = { ...deps, connections: services.connections, links: services.links, notifyZoomAccountChanged: services.notifyZoomAccountChanged };
  app.route('/', zoomRoutes(authorization));
  app.route('/', authRoutes({ ...authorization, cookies }));
  app.route('/', specialistRoutes({ ...deps, links: services.links, outbox: services.outbox, connections: services.connections, lifecycle: services.lifecycle, cookies }));
  app.route('/', manageRoutes({ ...deps, lifecycle: services.lifecycle, slots: services.slots, cookies }));
  if (deps.inbox) app.route('/inbox', inboxRoutes(deps.inbox));
  app.route('/', bookingPageRoutes(deps));
  app.route('/', staticRoutes());
  return app;
}
