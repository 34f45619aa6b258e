/**
 * `npm start`: reads the configuration, starts the server, prints where to go.
 */
import { ConfigError, loadConfig } from './config.js';
import { DEMO_SLUG } from './demo/seed.js';
import { startServer } from './start.js';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const running = await startServer(config);
  const base = running.publicUrl;
  process.stdout.write(
    [
      '',
      `specialist-booking is running on ${running.url} (${running.database.kind} database)`,
      '',
      `  Demo specialist profile   ${base}/api/v1/specialists/${DEMO_SLUG}`,
      `  API reference             ${base}/docs`,
      `  OpenAPI document          ${base}/openapi.json`,
      `  Health                    ${base}/healthz  ${base}/readyz`,
      `  Sign in (specialists)     ${base}/sign-in   (demo: maya@demo.specialist-booking.test)`,
      `  Example: plain site       ${base}/examples/plain-site/`,
      `  Example: custom frontend  ${base}/examples/custom-frontend/`,
      ...(running.inbox ? [`  Local inbox (every email the demo sends)  ${base}/inbox`] : []),
      ...(running.zoomEmulator
        ? [`  Zoom emulator (no Zoom credentials set)  ${running.zoomEmulator.url}/__emulator`]
        : []),
      '',
      'Press Ctrl+C to stop.',
      '',
    ].join('\n'),
  );
  const stop = () => {
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(error.message + '\n');
  } else {
    process.stderr.write(`Could not start: ${error instanceof Error ? error.message : String(error)}\n`);
  }
  process.exit(1);
});
