/**
 * `npm start` (the demo) and `npm run start:production` (NODE_ENV=production,
 * from dist/): reads the configuration, starts the server, prints where to
 * go. SIGTERM or Ctrl+C shuts down gracefully (see `RunningServer.close`).
 */
import { ConfigError, loadConfig } from './config.js';
import { DEMO_SLUG } from './demo/seed.js';
import { startServer, type RunningServer } from './start.js';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const running = await startServer(config);
  process.stdout.write((config.isProduction ? productionBanner(running) : demoBanner(running, config.seedDemo)).join('\n'));
  let isStopping = false;
  const stop = () => {
    // A second signal while draining stops at once.
    if (isStopping) process.exit(1);
    isStopping = true;
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

function productionBanner(running: RunningServer): string[] {
  const base = running.publicUrl;
  return [`specialist-booking is running on ${running.url} (${running.database.kind} database, production) for ${base}`, ''];
}

function demoBanner(running: RunningServer, isSeeded: boolean): string[] {
  const base = running.publicUrl;
  return [
    '',
    `specialist-booking is running on ${running.url} (${running.database.kind} database)`,
    '',
    '  This is a DEMO, not for the internet: the Zoom emulator and the local inbox (which shows',
    '  every sign-in link) answer only on localhost. To deploy, see "Deploy" in README.md (NODE_ENV=production).',
    '',
    ...(isSeeded ? [`  Demo specialist profile   ${base}/api/v1/specialists/${DEMO_SLUG}`] : []),
    `  API reference             ${base}/docs`,
    `  OpenAPI document          ${base}/openapi.json`,
    `  Health                    ${base}/healthz  ${base}/readyz`,
    `  Sign in (specialists)     ${base}/sign-in${isSeeded ? '   (demo: maya@demo.specialist-booking.test)' : ''}`,
    `  Example: plain site       ${base}/examples/plain-site/`,
    `  Example: custom frontend  ${base}/examples/custom-frontend/`,
    ...(running.inbox ? [`  Local inbox (every email the demo sends)  ${base}/inbox`] : []),
    ...(running.zoomEmulator ? [`  Zoom emulator (no Zoom credentials set)  ${running.zoomEmulator.url}/__emulator`] : []),
    '',
    'Press Ctrl+C to stop.',
    '',
  ];
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(error.message + '\n');
  } else {
    process.stderr.write(`Could not start: ${error instanceof Error ? error.message : String(error)}\n`);
  }
  process.exit(1);
});
