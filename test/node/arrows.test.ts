/**
 * Dependencies point one way (issue #15): email and the domain do not import
 * the web layer, and the server does not import the SDK's browser client.
 * Read from the source files, so a new import that breaks a rule fails here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)));
}

/** Every module a file imports or re-exports, resolved to a path from the project root. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const specifiers = [...text.matchAll(/^\s*(?:import|export)\b[^'";]*?from\s+['"]([^'"]+)['"]/gm), ...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]!);
  return specifiers.filter((s) => s.startsWith('.')).map((s) => relative(ROOT, resolve(ROOT, file, '..', s)));
}

/** Files under `dirs` that import something under `forbidden`, as "file -> import". */
function offenders(dirs: string[], forbidden: (target: string) => boolean): string[] {
  return dirs.flatMap((dir) => sourceFiles(dir).flatMap((file) => importsOf(file).filter(forbidden).map((target) => `${file} -> ${target}`)));
}

/** Everything the web layer builds on. (The Zoom emulator is a web server too: it may share http/ helpers.) */
const BELOW_HTTP = ['server/auth', 'server/availability', 'server/bookings', 'server/email', 'server/leases', 'server/limits', 'server/maintenance', 'server/specialists', 'server/zoom', 'server/text'];

describe('import arrows', () => {
  it('finds the imports it checks (the scan itself works)', () => {
    expect(importsOf('server/app.ts')).toContain('server/http/public-api.js');
    expect(offenders(['server/http'], (target) => target === 'server/text/html.js').length).toBeGreaterThan(0);
  });

  it('email and the domain never import server/http/', () => {
    expect(offenders(BELOW_HTTP, (target) => target.startsWith('server/http/'))).toEqual([]);
  });

  it('the server never imports the SDK browser client', () => {
    expect(offenders(['server'], (target) => target === 'sdk/client.js' || target === 'sdk/index.js')).toEqual([]);
  });
});
