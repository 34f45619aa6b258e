// Finds a Chromium-family browser for the browser tests, on any developer's
// machine: used by scripts/run-tests.mjs (which stops at once when there is
// none), test/browser/helpers/browser.ts and web-test-runner.config.mjs.
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Flags for headless Chromium in tests: --no-sandbox because CI runs as root;
 * the rest keep it off the network (no updates, sync or QUIC probes).
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--headless=new',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];

/** Chrome, Chromium and Edge where their installers put them, in that order. */
const LINUX_PATHS = [
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
  '/opt/google/chrome/chrome',
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/snap/bin/chromium',
  '/usr/bin/microsoft-edge',
  '/usr/bin/microsoft-edge-stable',
  '/opt/microsoft/msedge/msedge',
];
const MAC_APPS = ['Google Chrome.app/Contents/MacOS/Google Chrome', 'Chromium.app/Contents/MacOS/Chromium', 'Microsoft Edge.app/Contents/MacOS/Microsoft Edge'];

/** Where playwright-core would keep its own Chromium (`npx playwright install chromium`), installed or not. */
export function playwrightChromiumPath() {
  try {
    return createRequire(import.meta.url)('playwright-core').chromium.executablePath();
  } catch {
    return undefined;
  }
}

/**
 * The places looked at, in order: Playwright's own Chromium, then Chrome,
 * Chromium and Edge in their usual places on Linux and macOS (system-wide
 * and in the user's ~/Applications).
 */
export function browserCandidates({ platform = process.platform, home = homedir(), playwrightPath = playwrightChromiumPath() } = {}) {
  const usual = platform === 'darwin' ? [...MAC_APPS.map((app) => join('/Applications', app)), ...MAC_APPS.map((app) => join(home, 'Applications', app))] : LINUX_PATHS;
  return [...(playwrightPath ? [playwrightPath] : []), ...usual];
}

const isFile = (path) => existsSync(path) && statSync(path).isFile();

/**
 * The browser the tests should launch: `CHROMIUM_PATH` when set (and then
 * only it: a path someone chose is not swapped for another behind their
 * back), else the first candidate that exists. `root` prefixes every
 * candidate (tests lay out a fake file system there). Undefined when none.
 *
 * @example
 * findBrowser() // '/usr/bin/chromium' on Debian with the chromium package
 */
export function findBrowser({ env = process.env, root = '', ...where } = {}) {
  if (env.CHROMIUM_PATH) return isFile(env.CHROMIUM_PATH) ? env.CHROMIUM_PATH : undefined;
  return browserCandidates(where)
    .map((path) => root + path)
    .find(isFile);
}

/** The one line to print when `findBrowser` found nothing: what was wrong and how to get a browser. */
export function noBrowserMessage(env = process.env) {
  const why = env.CHROMIUM_PATH ? `CHROMIUM_PATH (${env.CHROMIUM_PATH}) is not a file` : 'No Chrome, Chromium or Edge found for the browser tests';
  return `${why}: install one (Debian/Ubuntu: apt-get install chromium; macOS: Google Chrome) or set CHROMIUM_PATH to a Chromium-family browser's executable.`;
}
