// `npm test`: runs every test runner, then prints one closing line
// "N passed, N failed" summing them all. Exits non-zero if anything failed.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { findBrowser, noBrowserMessage } from './find-browser.mjs';

const bin = (name) => join('node_modules', '.bin', name);
const hasFiles = (dir, pattern) => existsSync(dir) && readdirSync(dir, { recursive: true }).some((f) => pattern.test(String(f)));

// Both runners drive a browser. Without one, say so once, at once, instead of
// failing every browser test after the build.
if (hasFiles('test/browser', /\.test\.ts$/) || hasFiles('test/web', /\.test\.(ts|js)$/)) {
  const browser = findBrowser();
  if (!browser) {
    process.stdout.write(`${noBrowserMessage()}\n0 passed, 1 failed\n`);
    process.exit(1);
  }
  // The runners look for it again; this way they agree on one.
  process.env.CHROMIUM_PATH = browser;
}

const resultsDir = '.test-results';
rmSync(resultsDir, { recursive: true, force: true });
mkdirSync(resultsDir, { recursive: true });

const runners = [
  {
    name: 'vitest (Node)',
    enabled: true,
    command: [bin('vitest'), 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${resultsDir}/vitest.json`],
    count() {
      const report = JSON.parse(readFileSync(join(resultsDir, 'vitest.json'), 'utf8'));
      return { passed: report.numPassedTests, failed: report.numFailedTests };
    },
  },
  {
    name: 'web-test-runner (Chromium)',
    enabled: hasFiles('test/web', /\.test\.(ts|js)$/),
    // Under tsx, so the config can start the real server from TypeScript.
    command: [process.execPath, '--import', 'tsx', join('node_modules', '@web', 'test-runner', 'dist', 'bin.js'), '--config', 'web-test-runner.config.mjs'],
    count() {
      const report = JSON.parse(readFileSync(join(resultsDir, 'web-test-runner.json'), 'utf8'));
      return { passed: report.passed, failed: report.failed };
    },
  },
];

// Types first (tests run through esbuild, which does not check them), then the
// build: the package tests, the examples and the browser tests use the bundles.
for (const [name, command] of [
  ['typecheck', [bin('tsc'), '--noEmit', '-p', 'tsconfig.json']],
  ['build', [process.execPath, 'scripts/build.mjs']],
]) {
  process.stdout.write(`\n=== ${name} ===\n`);
  if (spawnSync(command[0], command.slice(1), { stdio: 'inherit' }).status !== 0) {
    process.stdout.write(`\nThe ${name} step failed.\n0 passed, 1 failed\n`);
    process.exit(1);
  }
}

let passed = 0;
let failed = 0;
for (const runner of runners.filter((r) => r.enabled)) {
  process.stdout.write(`\n=== ${runner.name} ===\n`);
  const result = spawnSync(runner.command[0], runner.command.slice(1), { stdio: 'inherit', env: { ...process.env, TEST_RESULTS_DIR: resultsDir } });
  let counts;
  try {
    counts = runner.count();
  } catch {
    counts = { passed: 0, failed: 1 };
    process.stdout.write(`${runner.name} produced no report (exit code ${result.status}); counted as one failure.\n`);
  }
  if (result.status !== 0 && counts.failed === 0) counts.failed = 1;
  passed += counts.passed;
  failed += counts.failed;
}
process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exit(failed === 0 ? 0 : 1);
