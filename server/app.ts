import { Hono } from 'hono';
import { requestId } from 'hono/request-id';
import { sql, type Kysely } from 'kysely';
import type { Clock } from './clock.js';
import type { Database } from './db/schema.js';
import { DomainError } from './errors.js';
import { createErrorHandler, errorResponse, handleNotFound } from './http/errors.js';
import { buildOpenApiDocument, renderApiReference } from './http/openapi.js';
import { publicApiRoutes } from './http/public-api.js';
import { requestLog } from './http/request-log.js';
import type { Logger } from './logger.js';

export interface AppDeps {
  db: Kysely<Database>;
  clock: Clock;
  logger: Logger;
  /** Base of every link the server hands out, e.g. `https://booking.example.com`. */
  publicUrl: string;
}

/**
 * The whole HTTP application. Everything it uses is passed in, so tests build
 * it over a real database and real local stand-ins.
 *
 * @example
 * const app = createApp({ db, clock: systemClock, logger, publicUrl: 'http://localhost:3000' });
 */
export function createApp(deps: AppDeps): Hono {
  const app = new Hono();
  app.use(requestId());
  app.use(requestLog(deps.logger));
  app.onError(createErrorHandler(deps.logger));
  app.notFound(handleNotFound);

  app.get('/healthz', (c) => c.json({ success: true as const, status: 'ok' as const }));
  app.get('/readyz', async (c) => {
    try {
      await sql`select 1`.execute(deps.db);
      return c.json({ success: true as const, status: 'ok' as const });
    } catch {
      return errorResponse(c, new DomainError('database_unavailable', 'The database is not answering.'));
    }
  });

  const openApiDocument = buildOpenApiDocument(deps.publicUrl);
  const apiReference = renderApiReference(openApiDocument);
  app.get('/openapi.json', (c) => c.json(openApiDocument));
  app.get('/docs', (c) => c.html(apiReference));

  app.route('/api/v1', publicApiRoutes(deps));
  return app;
}
