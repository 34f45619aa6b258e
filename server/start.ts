import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Hono } from 'hono';
import { createApp } from './app.js';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config.js';
import { migrateToLatest, openDatabase, type DatabaseHandle } from './db/index.js';
import { seedDemo } from './demo/seed.js';
import { createLogger, type Logger } from './logger.js';

export interface RunningServer {
  /** Where the server listens, e.g. http://127.0.0.1:3000. */
  url: string;
  /** The base of links it hands out. */
  publicUrl: string;
  database: DatabaseHandle;
  close(): Promise<void>;
}

/**
 * Starts what `npm start` runs, from a validated configuration: the database
 * (migrated; demo seeded when asked) and the HTTP server.
 */
export async function startServer(config: Config, options: { logger?: Logger; clock?: Clock } = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const database = openDatabase(config.databaseUrl);
  await migrateToLatest(database.db);

  // Bind first: with PORT=0 the public URL depends on the port we get.
  let app: Hono | undefined;
  const server = serve({
    fetch: (request) => (app ? app.fetch(request) : new Response('Starting', { status: 503 })),
    port: config.port,
    hostname: config.host,
  });
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const publicUrl = config.publicUrl ?? `http://localhost:${port}`;
  if (config.seedDemo) await seedDemo(database.db, publicUrl);
  app = createApp({ db: database.db, clock: options.clock ?? systemClock, logger, publicUrl });

  return {
    url: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`,
    publicUrl,
    database,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await database.close();
    },
  };
}
