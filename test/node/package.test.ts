import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT, startChildServer } from './helpers/child-server.js';

const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8'));

describe('the built package', () => {
  // `npm test` builds first (scripts/run-tests.mjs); the build itself is what is checked here.
  beforeAll(() => {
    if (!existsSync(join(PROJECT_ROOT, 'dist/browser/specialist-booking.js'))) {
      execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: PROJECT_ROOT, stdio: 'pipe' });
    }
  }, 120_000);

  it('has JavaScript and types behind every export', () => {
    for (const [path, target] of Object.entries(pkg.exports as Record<string, { types: string; import: string } | string>)) {
      if (typeof target === 'string') continue;
      expect(existsSync(join(PROJECT_ROOT, target.import)), `${path} import`).toBe(true);
      expect(existsSync(join(PROJECT_ROOT, target.types)), `${path} types`).toBe(true);
    }
  });

  it('resolves specialist-booking/sdk and specialist-booking/server by name in plain Node', () => {
    const script = `
      const sdk = await import('specialist-booking/sdk');
      const server = await import('specialist-booking/server');
      const contract = await import('specialist-booking/contract');
      console.log(JSON.stringify({
        sdk: typeof sdk.createBookingClient, error: typeof sdk.BookingApiError,
        app: typeof server.createApp, start: typeof server.startServer,
        schema: typeof contract.CreateBookingRequestSchema.safeParse,
      }));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: PROJECT_ROOT, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ sdk: 'function', error: 'function', app: 'function', start: 'function', schema: 'function' });
  });

  it('bundles the widget into one module within its size budget, and generates the custom elements manifest', async () => {
    const bundle = readFileSync(join(PROJECT_ROOT, 'dist/browser/specialist-booking.js'), 'utf8');
    expect(bundle).not.toMatch(/\bimport\s*[{*"'(]/);
    expect(bundle).not.toContain('ZodError');
    const { measureBundle, BUDGET_GZIP_BYTES } = await import('../../bench/bundle-size.mjs');
    expect(measureBundle(join(PROJECT_ROOT, 'dist/browser/specialist-booking.js')).gzipBytes).toBeLessThanOrEqual(BUDGET_GZIP_BYTES);
    expect(pkg.customElements).toBe('custom-elements.json');
    const manifest = JSON.parse(readFileSync(join(PROJECT_ROOT, 'custom-elements.json'), 'utf8'));
    const declaration = manifest.modules.flatMap((m: { declarations?: unknown[] }) => m.declarations ?? []).find((d: { name: string }) => d.name === 'SpecialistBooking');
    expect(declaration.tagName ?? manifest.modules.flatMap((m: { exports?: { kind: string; name: string }[] }) => m.exports ?? []).find((e: { kind: string }) => e.kind === 'custom-element-definition')?.name).toBe('specialist-booking');
    expect(declaration.events.map((e: { name: string }) => e.name).sort()).toEqual(['booking-confirmed', 'booking-failed', 'booking-reauth-required', 'slots-loaded']);
    expect(declaration.cssParts.map((p: { name: string }) => p.name)).toContain('dialog');
    expect(declaration.attributes.map((a: { name: string }) => a.name)).toEqual(expect.arrayContaining(['specialist', 'api-base', 'service', 'prefill-name', 'prefill-email', 'locale', 'theme']));
  });

  it('marks the widget for compiling while it streams in, and its source map allows for that first line', () => {
    const bundle = readFileSync(join(PROJECT_ROOT, 'dist/browser/specialist-booking.js'), 'utf8');
    // Chromium's explicit compile hint counts only as the file's first line.
    expect(bundle.split('\n')[0]).toBe('//# allFunctionsCalledOnLoad');
    const map = JSON.parse(readFileSync(join(PROJECT_ROOT, 'dist/browser/specialist-booking.js.map'), 'utf8'));
    // No mapping on line 1: the code's mappings start on line 2, where the code is.
    expect(map.mappings.startsWith(';')).toBe(true);
    expect(map.mappings.startsWith(';;')).toBe(false);
  });

  it('bundles the SDK for browsers with no imports left and no schema library inside', () => {
    const bundle = readFileSync(join(PROJECT_ROOT, 'dist/browser/specialist-booking-sdk.js'), 'utf8');
    expect(bundle).not.toMatch(/\bimport\s*[{*"'(]/);
    expect(bundle).not.toContain('ZodError');
    expect(bundle).toContain('Idempotency-Key');
  });
});

describe('examples/node-script', () => {
  it('books the first free demo slot through the built SDK', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-example-'));
    const server = await startChildServer({ DATABASE_URL: `sqlite:${join(dir, 'demo.sqlite')}` });
    try {
      if (!existsSync(join(PROJECT_ROOT, 'dist/sdk/index.js'))) execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: PROJECT_ROOT });
      const out = execFileSync(process.execPath, ['examples/node-script/book.mjs', server.url], { cwd: PROJECT_ROOT, encoding: 'utf8' });
      expect(out).toMatch(/^Booked "Intro call" with Dr\. Maya Lindqvist at \d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z \(booking [0-9a-f-]{36}\)\.\n$/);
      const again = execFileSync(process.execPath, ['examples/node-script/book.mjs', server.url], { cwd: PROJECT_ROOT, encoding: 'utf8' });
      expect(again).not.toBe(out);
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
