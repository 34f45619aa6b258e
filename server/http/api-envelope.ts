import type { Context, ErrorHandler, Handler } from 'hono';
import { DomainError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { AllowedOrigins } from '../specialists/allowed-origins.js';
import type { ClientAddressOf } from './client-address.js';
import { errorResponse, handleNotFound } from './errors.js';
import { requestHeader } from './node-headers.js';
import { requestIdFor } from './request-id.js';
import { logRequest } from './request-log.js';

declare module 'hono' {
  interface ContextVariableMap {
    /** The headers every answer to a public API request carries; see `createApiEnvelope`. */
    apiEnvelope: EnvelopeHeaders;
  }
}

/** Response headers as one plain object, which @hono/node-server hands to Node as it is. */
export type ResponseHeaders = Record<string, string>;

interface EnvelopeHeaders {
  readonly headers: ResponseHeaders;
  /** The answer built with `headers` by `plainResponse`, which needs nothing more. */
  carriedBy: Response | undefined;
}

/** A route's own work: validate, call the domain, shape the answer. */
export type ApiHandler = (c: Context) => Response | Promise<Response>;

export interface ApiEnvelopeOptions {
  /** The server's own public origin, always allowed. */
  ownOrigin: string;
  /** Origins a specialist allows (undefined for an unknown slug), at once when known. */
  allowedOriginsFor(slug: string): AllowedOrigins | Promise<AllowedOrigins>;
  /** The route parameter `allowedOriginsFor` is given. Default `slug`. */
  originsKeyParam?: string;
  /** Turns a thrown error into the answer (the app's `onError`). */
  onError: ErrorHandler;
  /** One line per request at level info, when that level is on. */
  logger: Logger;
  /** The client's address, for the log line. */
  clientAddressOf: ClientAddressOf;
  /** Told of every answer as it goes out (metrics). */
  onAnswered?: (c: Context, response: Response) => void;
}

export interface ApiEnvelope {
  /** One route's only handler: the envelope around `handler`. */
  route(handler: ApiHandler): Handler;
  /** The CORS preflight (OPTIONS) of the routes under `/specialists/:slug`. */
  preflight: Handler;
}

const ALLOWED_METHODS = 'GET, POST, OPTIONS';
const ALLOWED_HEADERS = 'Content-Type, Idempotency-Key';
const EXPOSED_HEADERS = 'Idempotent-Replayed, Retry-After, X-Request-Id';

/**
 * What every public API request gets, around its route's own work:
 *
 * - a request id, `c.get('requestId')`, sent back as X-Request-Id (a caller's
 *   own id is kept when it is a plain token, see `requestIdFor`);
 * - CORS for the per-specialist API: a browser may call it only from the
 *   specialist's allowed origins or the server's own. A disallowed origin
 *   gets 403 `origin_not_allowed` — also on simple requests that skip the
 *   preflight, so a text/plain POST from a foreign page cannot book either.
 *   Requests without an Origin header (servers, scripts) are not browsers'
 *   cross-origin calls and pass. Every answer says `Vary: Origin`, so a
 *   shared cache cannot hand one site's grant to another;
 * - errors turned into the API's error shape, with the same headers;
 * - a log line, when info lines are on.
 *
 * Why one handler and not Hono middleware: a route with a single handler is
 * answered without Hono's compose, and a cached slot list then goes out
 * synchronously, its headers in one plain object that Node writes as it is.
 * On the 2-core bench machine that is about a third more slot lists per
 * second than the same work done as request-id and CORS middleware.
 * The headers are collected in `c.var.apiEnvelope` before the answer
 * exists; `plainResponse` builds an answer with them, and any other answer
 * (`c.json`, errors) gets them set on its way out.
 *
 * @example
 * const envelope = createApiEnvelope({ ownOrigin, allowedOriginsFor, onError, logger });
 * app.get('/specialists/:slug', envelope.route((c) => c.json(profile)));
 * app.options('/specialists/:slug/*', envelope.preflight);
 */
export function createApiEnvelope(options: ApiEnvelopeOptions): ApiEnvelope {
  const { ownOrigin, allowedOriginsFor, onError, logger, clientAddressOf, onAnswered } = options;
  const originsKeyParam = options.originsKeyParam ?? 'slug';
  const logsRequests = logger.isEnabled('info');

  /** Whether `origin` may call this specialist's API: at once when the specialist's origins are cached. */
  function isAllowedOrigin(c: Context, origin: string): boolean | Promise<boolean> {
    if (origin === ownOrigin) return true;
    const allowed = allowedOriginsFor(c.req.param(originsKeyParam) ?? '');
    return allowed instanceof Promise ? allowed.then((list) => isListed(c, origin, list)) : isListed(c, origin, allowed);
  }

  function isListed(c: Context, origin: string, allowed: AllowedOrigins): boolean {
    // The request's own origin (the server under another name) is checked last: it means parsing the URL.
    return allowed?.includes(origin) === true || origin === new URL(c.req.url).origin;
  }

  function refuse(c: Context, origin: string): Response | Promise<Response> {
    return errorResponse(
      c,
      new DomainError('origin_not_allowed', `This website (${origin}) is not allowed to embed this booking page. The specialist can add it in their settings.`),
    );
  }

  function answer(c: Context, handler: ApiHandler): Response | Promise<Response> {
    try {
      const response = handler(c);
      return response instanceof Promise ? response.catch((error: unknown) => onError(error as Error, c)) : response;
    } catch (error) {
      return onError(error as Error, c);
    }
  }

  function finish(c: Context, response: Response | Promise<Response>, started: number): Response | Promise<Response> {
    return response instanceof Promise ? response.then((r) => sent(c, r, started)) : sent(c, response, started);
  }

  function sent(c: Context, response: Response, started: number): Response {
    const envelope = c.get('apiEnvelope');
    if (envelope.carriedBy !== response) {
      for (const [name, value] of Object.entries(envelope.headers)) {
        if (name === 'Vary') response.headers.append(name, value);
        else response.headers.set(name, value);
      }
    }
    if (logsRequests) logRequest(logger, c, response.status, started, clientAddressOf);
    if (onAnswered) onAnswered(c, response);
    return response;
  }

  type Work = (c: Context, origin: string | undefined) => Response | Promise<Response>;

  function grantOrRefuse(c: Context, origin: string, isAllowed: boolean, work: Work): Response | Promise<Response> {
    if (!isAllowed) return refuse(c, origin);
    const { headers } = c.get('apiEnvelope');
    headers['Access-Control-Allow-Origin'] = origin;
    headers['Access-Control-Expose-Headers'] = EXPOSED_HEADERS;
    return work(c, origin);
  }

  // No closure is made per request on this path (nor named: tsx names each one it makes).
  function enveloped(work: Work): Handler {
    return function apiEnvelope(c) {
      const started = logsRequests ? performance.now() : 0;
      const id = requestIdFor(requestHeader(c, 'x-request-id'));
      c.set('requestId', id);
      c.set('apiEnvelope', { headers: { 'X-Request-Id': id, Vary: 'Origin' }, carriedBy: undefined });
      const origin = requestHeader(c, 'origin');
      if (origin === undefined) return finish(c, work(c, undefined), started);
      const allowed = isAllowedOrigin(c, origin);
      // A lookup that fails (the database is down) is answered like the route's own errors.
      const checked = allowed instanceof Promise ? allowed.then((ok) => grantOrRefuse(c, origin, ok, work), (error: unknown) => onError(error as Error, c)) : grantOrRefuse(c, origin, allowed, work);
      return finish(c, checked, started);
    };
  }

  return {
    route: (handler) => enveloped((c) => answer(c, handler)),
    preflight: enveloped((c, origin) => {
      // Without an Origin it is not a browser's preflight: nothing answers OPTIONS here.
      if (origin === undefined) return handleNotFound(c);
      const { headers } = c.get('apiEnvelope');
      headers['Access-Control-Allow-Methods'] = ALLOWED_METHODS;
      headers['Access-Control-Allow-Headers'] = ALLOWED_HEADERS;
      headers['Access-Control-Max-Age'] = '600';
      return c.body(null, 204);
    }),
  };
}

/**
 * A 200 answer whose headers stay one plain object: the envelope's (request
 * id, Vary, CORS) and `own`, with Vary values combined. Outside the envelope
 * it carries `own` alone.
 */
export function plainResponse(c: Context, body: Uint8Array<ArrayBuffer>, own: Readonly<ResponseHeaders>): Response {
  const envelope = c.get('apiEnvelope') as EnvelopeHeaders | undefined;
  if (!envelope) return new Response(body, { status: 200, headers: own });
  // Copied key by key into the envelope's own object: a spread of both costs
  // a measurable share of a cached slot list's answer.
  const { headers } = envelope;
  for (const name in own) headers[name] = name === 'Vary' && headers.Vary !== undefined ? `${headers.Vary}, ${own.Vary}` : own[name]!;
  const response = new Response(body, { status: 200, headers });
  envelope.carriedBy = response;
  return response;
}
