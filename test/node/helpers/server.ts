import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { once } from 'node:events';
import { createApp } from '../../../server/app.js';
import type { Clock } from '../../../server/clock.js';
import type { Kysely } from 'kysely';
import type { Database } from '../../../server/db/schema.js';
import { createLogger } from '../../../server/logger.js';

export interface TestServer {
  url: string;
  close(): Promise<void>;
}

/** Serves the real app over a real socket on a free port. */
export async function startTestServer(options: { db: Kysely<Database>; clock: Clock; publicUrl?: string }): Promise<TestServer> {
  let url = '';
  let app: ReturnType<typeof createApp> | undefined;
  const server = serve({ fetch: (req) => app!.fetch(req), port: 0, hostname: '127.0.0.1' });
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  url = `http://127.0.0.1:${port}`;
  app = createApp({ db: options.db, clock: options.clock, logger: createLogger('silent'), publicUrl: options.publicUrl ?? url });
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}
