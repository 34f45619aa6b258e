// `npm start` (the demo) runs the server from source with tsx; of dist/ it
// serves only the browser bundles. This builds (`npm run build`) when a
// bundle is missing or older than anything it is built from: the widget and
// SDK sources, and the build's own inputs (package files, rollup and
// TypeScript configuration, the build script). Otherwise it skips the build,
// most of the time from the command to a server that answers.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const BUNDLES = ['dist/browser/specialist-booking.js', 'dist/browser/specialist-booking-sdk.js'];
const SOURCE_DIRS = ['widget', 'sdk'];
const BUILD_INPUTS = ['package.json', 'package-lock.json', 'rollup.config.mjs', 'tsconfig.json', 'tsconfig.build.json', 'scripts/build.mjs'];

/** Modification time in ms, or undefined when the file does not exist. */
function modifiedAt(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

function newestUnder(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, modifiedAt(join(entry.parentPath, entry.name)) ?? 0);
  }
  return newest;
}

const bundleTimes = BUNDLES.map(modifiedAt);
const oldestBundle = bundleTimes.includes(undefined) ? undefined : Math.min(...bundleTimes);
const newestInput = Math.max(...SOURCE_DIRS.map(newestUnder), ...BUILD_INPUTS.map((path) => modifiedAt(path) ?? 0));

if (oldestBundle === undefined || newestInput > oldestBundle) {
  execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
}
