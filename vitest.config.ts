import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/node/**/*.test.ts', 'test/browser/**/*.test.ts'],
    // Names the run's PostgreSQL test schemas and drops them when it ends.
    globalSetup: ['test/node/helpers/database-run.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // A poll waits on whole bookings (Zoom, database, mail) and page loads: 1 s (vitest's default) is tight on a loaded machine.
    expect: { poll: { timeout: 10_000 } },
  },
});
