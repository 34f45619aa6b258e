/**
 * The browser finder behind `npm test`, over fake directory layouts on the
 * real file system, and `npm test`'s one-line stop when there is none.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findBrowser, noBrowserMessage } from '../../scripts/find-browser.mjs';
import { PROJECT_ROOT } from './helpers/child-server.js';

const CHROME = '/opt/google/chrome/chrome';
const CHROMIUM = '/usr/bin/chromium';
const EDGE = '/usr/bin/microsoft-edge';
const MAC_CHROME = '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome';
const MAC_EDGE = '/Applications/Microsoft Edge.app/Contents/MacOS/Microsoft Edge';
const PLAYWRIGHT = '/home/ada/.cache/ms-playwright/chromium-1255/chrome-linux64/chrome';

/** The environment of a child process without the CHROMIUM_PATH that `npm test` hands its runners. */
function envWithout(name: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env[name];
  return env;
}

describe('findBrowser', () => {
  let root: string;
  const install = (...paths: string[]) => {
    for (const path of paths) {
      mkdirSync(dirname(root + path), { recursive: true });
      writeFileSync(root + path, '#!/bin/sh\n');
    }
  };
  const remove = (path: string) => rmSync(root + path);
  const linux = (env: Record<string, string> = {}, playwrightPath = '') => findBrowser({ env, root, platform: 'linux', playwrightPath });

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'sb-browsers-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('on Linux takes Chrome, then Chromium, then Edge, in their usual places', () => {
    install(EDGE, CHROMIUM, CHROME);
    expect(linux()).toBe(root + CHROME);
    remove(CHROME);
    expect(linux()).toBe(root + CHROMIUM);
    remove(CHROMIUM);
    expect(linux()).toBe(root + EDGE);
    remove(EDGE);
    install('/usr/bin/chromium-browser');
    expect(linux()).toBe(`${root}/usr/bin/chromium-browser`);
  });

  it("prefers Playwright's own Chromium when it is installed, and skips it when it is not", () => {
    install(CHROMIUM);
    expect(linux({}, PLAYWRIGHT)).toBe(root + CHROMIUM);
    install(PLAYWRIGHT);
    expect(linux({}, PLAYWRIGHT)).toBe(root + PLAYWRIGHT);
  });

  it('on macOS looks in /Applications, then ~/Applications', () => {
    const mac = () => findBrowser({ env: {}, root, platform: 'darwin', home: '/Users/ada', playwrightPath: '' });
    install(CHROMIUM);
    expect(mac()).toBeUndefined();
    install('/Users/ada/Applications/Chromium.app/Contents/MacOS/Chromium');
    expect(mac()).toBe(`${root}/Users/ada/Applications/Chromium.app/Contents/MacOS/Chromium`);
    install(MAC_EDGE);
    expect(mac()).toBe(root + MAC_EDGE);
    install(MAC_CHROME);
    expect(mac()).toBe(root + MAC_CHROME);
  });

  it('takes CHROMIUM_PATH first, and only it when it is set', () => {
    install(CHROME, '/home/ada/bin/my-chromium');
    expect(linux({ CHROMIUM_PATH: `${root}/home/ada/bin/my-chromium` }, PLAYWRIGHT)).toBe(`${root}/home/ada/bin/my-chromium`);
    // A path someone chose that is wrong is reported, not swapped for another browser.
    expect(linux({ CHROMIUM_PATH: `${root}/nowhere/chrome` })).toBeUndefined();
    expect(noBrowserMessage({ CHROMIUM_PATH: '/nowhere/chrome' })).toBe(
      "CHROMIUM_PATH (/nowhere/chrome) is not a file: install one (Debian/Ubuntu: apt-get install chromium; macOS: Google Chrome) or set CHROMIUM_PATH to a Chromium-family browser's executable.",
    );
  });

  it('finds nothing in an empty layout, nor a directory where a browser would be, and says how to get one', () => {
    mkdirSync(root + CHROMIUM, { recursive: true });
    expect(linux()).toBeUndefined();
    expect(noBrowserMessage({})).toBe(
      "No Chrome, Chromium or Edge found for the browser tests: install one (Debian/Ubuntu: apt-get install chromium; macOS: Google Chrome) or set CHROMIUM_PATH to a Chromium-family browser's executable.",
    );
  });

  it("asks playwright-core where its Chromium is (PLAYWRIGHT_BROWSERS_PATH) and uses it once it exists", () => {
    const browsers = join(root, 'ms-playwright');
    // One child process: playwright-core reads PLAYWRIGHT_BROWSERS_PATH when it loads.
    const child = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { mkdirSync, writeFileSync } from 'node:fs';
         import { dirname } from 'node:path';
         import { findBrowser, playwrightChromiumPath } from './scripts/find-browser.mjs';
         const where = playwrightChromiumPath();
         const before = findBrowser();
         mkdirSync(dirname(where), { recursive: true });
         writeFileSync(where, '#!/bin/sh\\n');
         process.stdout.write(JSON.stringify({ where, before, after: findBrowser() }));`,
      ],
      { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 20_000, env: envWithout('CHROMIUM_PATH', { PLAYWRIGHT_BROWSERS_PATH: browsers }) },
    );
    const { where, before, after } = JSON.parse(child.stdout) as { where: string; before?: string; after: string };
    expect(where.startsWith(`${browsers}/chromium-`)).toBe(true);
    expect(before).not.toBe(where);
    expect(after).toBe(where);
  });
});

describe('npm test without a browser', () => {
  it('stops at once with one line saying how to get one, then the closing count', () => {
    const started = performance.now();
    const result = spawnSync(process.execPath, ['scripts/run-tests.mjs'], {
      cwd: PROJECT_ROOT,
      encoding: 'utf8',
      // Were the check ever to let it through, this would be the whole `npm test`: cut it short.
      timeout: 20_000,
      env: envWithout('PLAYWRIGHT_BROWSERS_PATH', { CHROMIUM_PATH: '/nonexistent/chromium' }),
    });
    expect(result.stdout).toBe(`${noBrowserMessage({ CHROMIUM_PATH: '/nonexistent/chromium' })}\n0 passed, 1 failed\n`);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(1);
    // Before the typecheck and the build, which take tens of seconds.
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});
