import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono } from 'hono';
import { PAGE_SCRIPTS } from './pages/scripts.js';

/** The package's root folder, found from this file whether it runs from source or from dist/. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
  return dir;
}

/**
 * Static files: the widget bundle (what specialists embed, loadable from any
 * site: module scripts need CORS), the browser SDK bundle, the examples, and
 * the pages' own scripts.
 */
export function staticRoutes(root = packageRoot()): Hono {
  const app = new Hono();
  const browserDir = relative(process.cwd(), join(root, 'dist', 'browser')) || '.';
  const examplesDir = relative(process.cwd(), join(root, 'examples')) || '.';

  app.use('/widget/*', async (c, next) => {
    await next();
    c.header('Access-Control-Allow-Origin', '*');
    c.header('Cache-Control', 'public, max-age=300');
  });
  app.use('/sdk/*', async (c, next) => {
    await next();
    c.header('Access-Control-Allow-Origin', '*');
  });
  const bundle = (file: string) =>
    serveStatic({
      root: browserDir,
      rewriteRequestPath: () => `/${file}`,
      // The build writes each bundle's .br and .gz beside it (rollup.config.mjs).
      precompressed: true,
      onNotFound: () => undefined,
    });
  app.get('/widget/specialist-booking.js', bundle('specialist-booking.js'));
  app.get('/widget/specialist-booking.js.map', bundle('specialist-booking.js.map'));
  app.get('/sdk/specialist-booking-sdk.js', bundle('specialist-booking-sdk.js'));
  app.get('/sdk/specialist-booking-sdk.js.map', bundle('specialist-booking-sdk.js.map'));
  app.get('/widget/*', (c) => c.text('The widget is not built yet: run `npm run build`.', 404));
  app.get('/assets/:file', (c) => {
    const script = Object.hasOwn(PAGE_SCRIPTS, c.req.param('file')) ? PAGE_SCRIPTS[c.req.param('file')] : undefined;
    if (script === undefined) return c.notFound();
    return c.body(script, 200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'no-cache' });
  });
  app.get('/examples/*', serveStatic({ root: examplesDir, rewriteRequestPath: (p) => p.replace(/^\/examples/, '') }));
  return app;
}
