// web-test-runner: the widget's tests in Chromium (whichever findBrowser finds), against the real
// server (SQLite, Zoom emulator, local SMTP) started here. Tests reach the
// server side through commands (`executeServerCommand`), never a mocked fetch.
// Run under tsx (see scripts/run-tests.mjs) so this file can import the server.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { esbuildPlugin } from '@web/dev-server-esbuild';
import { defaultReporter } from '@web/test-runner';
import { playwrightLauncher } from '@web/test-runner-playwright';
import { CHROMIUM_ARGS, findBrowser, noBrowserMessage } from './scripts/find-browser.mjs';
import { stackCommands, startStack } from './test/web/stack.ts';

const executablePath = findBrowser();
if (!executablePath) throw new Error(noBrowserMessage());

async function freePort() {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

const port = await freePort();
const testOrigin = `http://localhost:${port}`;
const stack = await startStack(mkdtempSync(join(tmpdir(), 'sb-wtr-')), testOrigin);

/** Writes {passed, failed} for scripts/run-tests.mjs. */
function countsReporter() {
  return {
    onTestRunFinished({ sessions }) {
      let passed = 0;
      let failed = 0;
      const walk = (suite) => {
        for (const test of suite.tests) {
          if (test.skipped) continue;
          if (test.passed) passed++;
          else failed++;
        }
        for (const child of suite.suites) walk(child);
      };
      for (const session of sessions) {
        if (session.testResults) walk(session.testResults);
        else failed++;
        if (session.errors?.length && !session.testResults?.tests.length) failed++;
      }
      const dir = process.env.TEST_RESULTS_DIR ?? '.test-results';
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'web-test-runner.json'), JSON.stringify({ passed, failed }));
    },
  };
}

export default {
  files: ['test/web/**/*.test.ts'],
  port,
  hostname: 'localhost',
  nodeResolve: { exportConditions: ['production'] },
  concurrency: 1,
  testsFinishTimeout: 120_000,
  testFramework: { config: { timeout: 20_000 } },
  plugins: [
    esbuildPlugin({ ts: true, target: 'es2022' }),
    {
      name: 'stack-commands',
      async executeCommand({ command, payload }) {
        const handler = stackCommands(stack)[command];
        return handler ? handler(payload ?? {}) : undefined;
      },
      async serverStop() {
        await stack.proxy.close();
        await stack.close();
      },
    },
  ],
  browsers: [
    playwrightLauncher({
      product: 'chromium',
      launchOptions: { executablePath, args: CHROMIUM_ARGS },
    }),
  ],
  reporters: [defaultReporter(), countsReporter()],
};
