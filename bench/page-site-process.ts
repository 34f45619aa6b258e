// The site for the page-load bench, in its own process so that neither the
// server's work nor the browser driver's waits on the other: the server as
// `npm start` runs it (SQLite, the demo specialist), and in front of it the
// bench's pages, served from BENCH_PAGES_DIR at /bench/<name>. Everything
// else goes to the server, so the widget and its API calls stay on the page's
// origin, as on examples/plain-site.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { loadConfig } from '../server/config.js';
import { startServer } from '../server/start.js';

const pagesDir = process.env.BENCH_PAGES_DIR;
if (!pagesDir) throw new Error('BENCH_PAGES_DIR is not set');
const server = await startServer(
  loadConfig({ PORT: '0', DATABASE_URL: `sqlite:${join(pagesDir, 'db.sqlite')}`, DATA_DIR: pagesDir, LOG_LEVEL: 'silent' }),
);
const upstream = new URL(server.publicUrl);
/** `BENCH_OTHER_WIDGET=<file>`: another build of the widget, served gzipped at /bench-other/specialist-booking.js to compare in the same run. */
const otherWidget = process.env.BENCH_OTHER_WIDGET ? gzipSync(readFileSync(process.env.BENCH_OTHER_WIDGET)) : undefined;

const site = createServer(async (req, res) => {
  const page = /^\/bench\/([a-z-]+)$/i.exec(req.url ?? '');
  if (page) {
    const html = await readFile(join(pagesDir, `${page[1]}.html`)).catch(() => undefined);
    res.writeHead(html ? 200 : 404, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(html ?? 'no such page');
    return;
  }
  if (otherWidget && req.url === '/bench-other/specialist-booking.js') {
    res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Content-Encoding': 'gzip', 'Cache-Control': 'public, max-age=300' });
    res.end(otherWidget);
    return;
  }
  const forward = request(
    { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  forward.on('error', () => res.destroy());
  req.pipe(forward);
});
site.listen(0, '127.0.0.1');
await once(site, 'listening');
process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${(site.address() as AddressInfo).port}` }) + '\n');
