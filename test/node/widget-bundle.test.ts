import { readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { useSqliteTestServer } from './helpers/server.js';

// The bundles are built before the tests (scripts/run-tests.mjs), with their
// .br and .gz written beside them by rollup.config.mjs.
const BUNDLES = [
  ['/widget/specialist-booking.js', 'dist/browser/specialist-booking.js'],
  ['/sdk/specialist-booking-sdk.js', 'dist/browser/specialist-booking-sdk.js'],
] as const;

describe('the browser bundles, sent as built and compressed at build time', () => {
  const server = useSqliteTestServer();

  for (const [path, file] of BUNDLES) {
    it(`${path}: Brotli or gzip by Accept-Encoding, the same script either way`, async () => {
      const script = readFileSync(file, 'utf8');
      expect(script).toMatch(/\/\/# sourceMappingURL=\S+\.js\.map\s*$/);
      for (const [acceptEncoding, encoding, stored] of [
        ['gzip, deflate, br, zstd', 'br', `${file}.br`],
        ['gzip, deflate', 'gzip', `${file}.gz`],
        ['identity', null, file],
      ] as const) {
        const res = await fetch(`${server().url}${path}`, { headers: { 'Accept-Encoding': acceptEncoding } });
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
        expect(res.headers.get('content-encoding')).toBe(encoding);
        // The stored file itself, not one compressed for this request.
        expect(res.headers.get('content-length')).toBe(String(statSync(stored).size));
        expect(res.headers.get('vary')).toContain('Accept-Encoding');
        expect(res.headers.get('access-control-allow-origin')).toBe('*');
        expect(await res.text()).toBe(script);
      }
    });
  }

  it('the compressed copies are no older than the bundle they were made from', () => {
    for (const [, file] of BUNDLES) {
      for (const suffix of ['.br', '.gz']) expect(statSync(`${file}${suffix}`).mtimeMs).toBeGreaterThanOrEqual(statSync(file).mtimeMs);
    }
  });
});
