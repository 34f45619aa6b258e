/**
 * Dependencies point one way (issue #15): email and the domain do not import
 * the web layer, and the server does not import the SDK's browser client.
 * Read from the source files, so a new import that breaks a rule fails here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

/** The .ts files under a folder, or the file itself. */
function sourceFiles(dir: string): string[] {
  if (dir.endsWith('.ts')) return [dir];
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)));
}

/** Every module a file imports or re-exports: relative ones resolved to a path from the project root, packages by name. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const specifiers = [...text.matchAll(/^\s*(?:import|export)\b[^'";]*?from\s+['"]([^'"]+)['"]/gm), ...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]!);
  return specifiers.map((s) => (s.startsWith('.') ? relative(ROOT, resolve(ROOT, file, '..', s)) : s));
}

/** Files under `dirs` that import something under `forbidden`, as "file -> import". */
function offenders(dirs: string[], forbidden: (target: string) => boolean): string[] {
  return dirs.flatMap((dir) => sourceFiles(dir).flatMap((file) => importsOf(file).filter(forbidden).map((target) => `${file} -> ${target}`)));
}

/** Everything the web layer builds on. (The Zoom emulator is a web server too: it may share http/ helpers.) */
const BELOW_HTTP = ['server/auth', 'server/availability', 'server/bookings', 'server/email', 'server/jobs', 'server/leases', 'server/limits', 'server/maintenance', 'server/specialists', 'server/zoom', 'server/text', 'server/errors.ts', 'server/validation.ts', 'server/clock.ts', 'server/background.ts'];

describe('import arrows', () => {
  it('finds the imports it checks (the scan itself works)', () => {
    expect(importsOf('server/app.ts')).toEqual(expect.arrayContaining(['server/http/public-api.js', 'hono']));
    expect(offenders(['server/http'], (target) => target === 'server/text/html.js').length).toBeGreaterThan(0);
  });

  it('email and the domain never import server/http/', () => {
    expect(offenders(BELOW_HTTP, (target) => target.startsWith('server/http/'))).toEqual([]);
  });

  it('email and the domain never import Hono', () => {
    expect(offenders(BELOW_HTTP, (target) => /^(hono|@hono\/)/.test(target))).toEqual([]);
  });

  it('the server never imports the SDK browser client', () => {
    expect(offenders(['server'], (target) => target === 'sdk/client.js' || target === 'sdk/index.js')).toEqual([]);
  });
});
