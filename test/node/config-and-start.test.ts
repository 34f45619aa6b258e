import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config.js';
import { openDatabase } from '../../server/db/index.js';
import { startServer } from '../../server/start.js';
import { startZoomEmulator } from '../../server/zoom-emulator/index.js';
import { PROJECT_ROOT, SERVER_COMMANDS, startChildServer } from './helpers/child-server.js';
import { rawGet } from './helpers/raw-http.js';
import { startTestSmtp } from './helpers/smtp.js';

const PRODUCTION_ENV: Record<string, string | undefined> = {
  NODE_ENV: 'production',
  ZOOM_CLIENT_ID: 'id',
  ZOOM_CLIENT_SECRET: 'secret',
  SMTP_URL: 'smtps://u:p@mail.example.com:465',
  PUBLIC_URL: 'https://booking.example.com',
  TOKEN_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
  DATABASE_URL: 'postgres://app@db.invalid/booking',
};

describe('loadConfig', () => {
  it('has defaults that need no configuration', () => {
    expect(loadConfig({})).toEqual({
      isProduction: false,
      port: 3000,
      host: '127.0.0.1',
      publicUrl: undefined,
      databaseUrl: 'sqlite:./data/specialist-booking.sqlite',
      seedDemo: true,
      logLevel: 'info',
      dataDir: './data',
      tokenEncryptionKey: undefined,
      zoom: { mode: 'emulator', emulatorPort: 3001 },
      mail: { mode: 'local', port: 3002 },
      mailFrom: undefined,
      reauthEmailWindowMs: 3_600_000,
      trustProxy: { kind: 'none' },
      shutdownGraceMs: 25_000,
      emailBodyRetentionMs: 30 * 86_400_000,
      zoomHealth: { checkIntervalMs: 6 * 3_600_000, checksPerSecond: 5, refreshTokenLifetimeMs: 90 * 86_400_000 },
      limits: { bookingsPerAddressPerHour: 20, bookingsPerCustomerPerDay: 5, bookingsPerSpecialistPerDay: 80, slotReadsPerAddressPerMinute: 600 },
      metricsToken: undefined,
    });
  });

  it('reads the booking and slot-read limits, and names a wrong one', () => {
    expect(
      loadConfig({ BOOKINGS_PER_ADDRESS_PER_HOUR: '3', BOOKINGS_PER_CUSTOMER_PER_DAY: '2', BOOKINGS_PER_SPECIALIST_PER_DAY: '50', SLOT_READS_PER_ADDRESS_PER_MINUTE: '1200' }).limits,
    ).toEqual({ bookingsPerAddressPerHour: 3, bookingsPerCustomerPerDay: 2, bookingsPerSpecialistPerDay: 50, slotReadsPerAddressPerMinute: 1200 });
    expect(() => loadConfig({ BOOKINGS_PER_SPECIALIST_PER_DAY: '0' })).toThrow(
      'Configuration error: BOOKINGS_PER_SPECIALIST_PER_DAY must be a whole number from 1 to 1000000000 (got "0").',
    );
    expect(() => loadConfig({ SLOT_READS_PER_ADDRESS_PER_MINUTE: 'lots' })).toThrow('Configuration error: SLOT_READS_PER_ADDRESS_PER_MINUTE must be a whole number from 1 to 1000000000 (got "lots").');
  });

  it('reads the Zoom health check settings and names a wrong one', () => {
    expect(loadConfig({ ZOOM_HEALTH_CHECK_HOURS: '12', ZOOM_HEALTH_CHECKS_PER_SECOND: '2', ZOOM_REFRESH_TOKEN_LIFETIME_DAYS: '30' }).zoomHealth).toEqual({
      checkIntervalMs: 12 * 3_600_000,
      checksPerSecond: 2,
      refreshTokenLifetimeMs: 30 * 86_400_000,
    });
    expect(() => loadConfig({ ZOOM_HEALTH_CHECKS_PER_SECOND: '0' })).toThrow(
      'Configuration error: ZOOM_HEALTH_CHECKS_PER_SECOND must be a whole number of checks from 1 to 100 (got "0").',
    );
  });

  it('reads METRICS_TOKEN, refuses a short one and never echoes it', () => {
    const token = 'm'.repeat(32);
    expect(loadConfig({ METRICS_TOKEN: token }).metricsToken).toBe(token);
    expect(() => loadConfig({ METRICS_TOKEN: 'short-secret' })).toThrow(
      /^Configuration error: METRICS_TOKEN must be at least 32 characters \(openssl rand -hex 32\)\.$/,
    );
  });

  it('routes mail by SMTP_URL, or Gmail for the original set-up, else to the local inbox', () => {
    expect(loadConfig({ SMTP_URL: 'smtps://u:p@mail.example.com:465', MAIL_FROM: 'Bookings <b@example.com>' })).toMatchObject({
      mail: { mode: 'smtp', url: 'smtps://u:p@mail.example.com:465', isInsecureAllowed: false },
      mailFrom: 'Bookings <b@example.com>',
    });
    expect(loadConfig({ EMAIL_SERVICE: 'gmail', GMAIL_USER: 'me@gmail.com', GMAIL_PASSWORD: 'app-password' })).toMatchObject({
      mail: { mode: 'gmail', user: 'me@gmail.com', password: 'app-password' },
      mailFrom: 'me@gmail.com',
    });
    expect(() => loadConfig({ EMAIL_SERVICE: 'gmail', GMAIL_USER: 'me@gmail.com' })).toThrow('Configuration error: GMAIL_PASSWORD is required when EMAIL_SERVICE=gmail.');
    expect(() => loadConfig({ SMTP_URL: 'http://x' })).toThrow('Configuration error: SMTP_URL must be smtp://… or smtps://user:pass@host:port.');
    expect(loadConfig({ REAUTH_EMAIL_WINDOW_MINUTES: '15' }).reauthEmailWindowMs).toBe(900_000);
  });

  it('uses real Zoom when credentials are set, and then requires an encryption key', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    const config = loadConfig({ ZOOM_CLIENT_ID: 'id', ZOOM_CLIENT_SECRET: 'secret', ZOOM_WEBHOOK_SECRET: 'whs', TOKEN_ENCRYPTION_KEY: key });
    expect(config.zoom).toEqual({
      mode: 'zoom',
      clientId: 'id',
      clientSecret: 'secret',
      webhookSecret: 'whs',
      oauthBaseUrl: 'https://zoom.us',
      apiBaseUrl: 'https://api.zoom.us/v2',
    });
    expect(config.tokenEncryptionKey).toEqual(Buffer.alloc(32, 7));
    expect(() => loadConfig({ ZOOM_CLIENT_ID: 'id', ZOOM_CLIENT_SECRET: 'secret' })).toThrow(
      'Configuration error: TOKEN_ENCRYPTION_KEY is required with real Zoom credentials (32 random bytes in base64: openssl rand -base64 32).',
    );
    expect(() => loadConfig({ ZOOM_CLIENT_ID: 'id' })).toThrow('Configuration error: ZOOM_CLIENT_SECRET is required when ZOOM_CLIENT_ID is set.');
    expect(loadConfig({ PORT: '0' }).zoom).toEqual({ mode: 'emulator', emulatorPort: 0 });
  });

  it('reads every variable, and FRONTEND_URL as an alias of PUBLIC_URL', () => {
    const config = loadConfig({
      PORT: '8080',
      HOST: '0.0.0.0',
      FRONTEND_URL: 'https://book.example.com/',
      DATABASE_URL: 'postgres://u@db/app',
      SEED_DEMO: 'false',
      LOG_LEVEL: 'warn',
    });
    expect(config).toMatchObject({ port: 8080, host: '0.0.0.0', publicUrl: 'https://book.example.com', databaseUrl: 'postgres://u@db/app', seedDemo: false, logLevel: 'warn' });
    expect(loadConfig({ PUBLIC_URL: 'https://a.example', FRONTEND_URL: 'https://b.example' }).publicUrl).toBe('https://a.example');
  });

  it('reads the operations settings: shutdown grace, email body retention, SMTP_INSECURE', () => {
    expect(loadConfig({ SHUTDOWN_GRACE_SECONDS: '5', EMAIL_BODY_RETENTION_DAYS: '7', SMTP_URL: 'smtp://u:p@relay.internal:25', SMTP_INSECURE: 'true' })).toMatchObject({
      shutdownGraceMs: 5_000,
      emailBodyRetentionMs: 7 * 86_400_000,
      mail: { mode: 'smtp', url: 'smtp://u:p@relay.internal:25', isInsecureAllowed: true },
    });
  });

  it('in production, needs every real piece and seeds no demo', () => {
    const config = loadConfig(PRODUCTION_ENV);
    expect(config).toMatchObject({ isProduction: true, seedDemo: false, publicUrl: 'https://booking.example.com', databaseUrl: 'postgres://app@db.invalid/booking' });
    expect(config.zoom.mode).toBe('zoom');
    expect(config.mail.mode).toBe('smtp');
    expect(loadConfig({ ...PRODUCTION_ENV, SMTP_URL: undefined, EMAIL_SERVICE: 'gmail', GMAIL_USER: 'me@gmail.com', GMAIL_PASSWORD: 'app' }).mail.mode).toBe('gmail');
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(
      'Configuration error: NODE_ENV=production also needs ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET (real Zoom); SMTP_URL or EMAIL_SERVICE=gmail (a mail route); PUBLIC_URL starting with https://; TOKEN_ENCRYPTION_KEY (openssl rand -base64 32); DATABASE_URL.',
    );
    expect(() => loadConfig({ ...PRODUCTION_ENV, SEED_DEMO: 'true' })).toThrow('Configuration error: SEED_DEMO must not be true in production: the demo specialist is for the demo.');
  });

  it.each([
    [{ PORT: 'abc' }, 'Configuration error: PORT must be a whole number from 0 to 65535 (got "abc").'],
    [{ PORT: '70000' }, 'Configuration error: PORT must be a whole number from 0 to 65535 (got "70000").'],
    [{ PUBLIC_URL: 'ftp://x' }, 'Configuration error: PUBLIC_URL must be an http(s) URL such as https://booking.example.com (got "ftp://x").'],
    [{ FRONTEND_URL: 'nope' }, 'Configuration error: FRONTEND_URL must be an http(s) URL such as https://booking.example.com (got "nope").'],
    [{ DATABASE_URL: 'mysql://x' }, 'Configuration error: DATABASE_URL must be postgres://… or sqlite:<path>.'],
    [{ SEED_DEMO: 'maybe' }, 'Configuration error: SEED_DEMO must be true or false (got "maybe").'],
    [{ TOKEN_ENCRYPTION_KEY: 'c2hvcnQ=' }, 'Configuration error: TOKEN_ENCRYPTION_KEY must be 32 random bytes in base64 (openssl rand -base64 32).'],
  ])('names the wrong variable in one line: %o', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});

describe('startServer: one composition root', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-root-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('builds the services once: the slot list the API cached is in the services the process shares, and close() stops every background task', async () => {
    const running = await startServer(loadConfig({ PORT: '0', DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`, DATA_DIR: dir, LOG_LEVEL: 'silent' }));
    try {
      expect(running.background.names).toEqual(['job worker', 'stale booking sweep', 'retention', 'zoom health check']);
      expect(running.background.running()).toEqual(['job worker', 'stale booking sweep', 'retention', 'zoom health check']);
      const profile = await (await fetch(`${running.url}/api/v1/specialists/demo`)).json();
      const serviceId: string = profile.services[0].id;
      const tomorrow = new Date(Math.ceil(Date.now() / 86_400_000) * 86_400_000);
      const question = { slug: 'demo', serviceId, from: tomorrow.toISOString(), to: new Date(tomorrow.getTime() + 7 * 86_400_000).toISOString() };
      const answer = await (await fetch(`${running.url}/api/v1/specialists/demo/services/${serviceId}/slots?${new URLSearchParams({ from: question.from, to: question.to })}`)).json();
      expect(answer.slots.length).toBeGreaterThan(0);
      // The weekly hours go behind the caches' backs (no availability_version
      // bump): only a cache that already holds the API's answer still has slots.
      await running.database.db.deleteFrom('availability_rules').execute();
      const cached = await running.services.slots.list(question);
      expect({ success: true, ...JSON.parse(JSON.stringify(cached)) }).toEqual(answer);
    } finally {
      await running.close();
    }
    expect(running.background.running()).toEqual([]);
  }, 30_000);
});

describe('npm start', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-start-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('stops with one line naming a wrong variable, and exit code 1', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      cwd: PROJECT_ROOT,
      env: { PATH: process.env.PATH, PORT: 'abc' },
      encoding: 'utf8',
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toBe('Configuration error: PORT must be a whole number from 0 to 65535 (got "abc").\n');
  });

  it('starts on a fresh SQLite file with the demo specialist, two services and weekly hours, and prints the URLs', async () => {
    const databaseUrl = `sqlite:${join(dir, 'fresh', 'demo.sqlite')}`;
    const server = await startChildServer({ DATABASE_URL: databaseUrl });
    try {
      expect(server.output()).toContain(`specialist-booking is running on ${server.url} (sqlite database)`);
      const port = new URL(server.url).port;
      expect(server.output()).toContain(`http://localhost:${port}/api/v1/specialists/demo`);
      expect(server.output()).toContain(`http://localhost:${port}/docs`);
      const profile = await (await fetch(`${server.url}/api/v1/specialists/demo`)).json();
      expect(profile.services.map((s: { title: string }) => s.title)).toEqual(['Intro call', 'Coaching session']);
      const slots = await (await fetch(`${server.url}/api/v1/specialists/demo/services/${profile.services[0].id}/slots`)).json();
      expect(slots.slots.length).toBeGreaterThan(50);
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      expect(server.output()).toContain(`http://localhost:${port}/inbox`);
      expect(server.output()).toContain('This is a DEMO, not for the internet');

      // DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1 reads nothing.
      const emulatorUrl = /(http:\/\/127\.0\.0\.1:\d+)\/__emulator/.exec(server.output())![1]!;
      for (const url of [`${server.url}/inbox`, `${emulatorUrl}/__emulator`, `${emulatorUrl}/v2/users/me`]) {
        const rebound = await rawGet(url, { host: `evil.example:${new URL(url).port}` });
        expect([url, rebound.status, rebound.body.toString()]).toEqual([url, 403, 'This demo page answers only on localhost, to a browser on this machine (not through a proxy).']);
      }
      expect((await rawGet(`${server.url}/inbox`, { host: `localhost:${port}` })).status).toBe(200);

      // The demo specialist starts connected to the emulator, and the invites land in the local inbox.
      const booked = await fetch(`${server.url}/api/v1/specialists/demo/bookings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ serviceId: profile.services[0].id, start: slots.slots[0].start, customer: { name: 'Ines <Inbox>', email: 'ines@example.test' } }),
      });
      expect(booked.status).toBe(201);
      const { booking } = await booked.json();
      let inbox = '';
      for (let i = 0; i < 200 && !(inbox.includes('Confirmed:') && inbox.includes('New booking:')); i++) {
        await new Promise((r) => setTimeout(r, 50));
        inbox = await (await fetch(`${server.url}/inbox`)).text();
      }
      expect(inbox).toContain('Confirmed: Intro call with Dr. Maya Lindqvist');
      expect(inbox).toContain('New booking: Intro call with Ines &lt;Inbox&gt;');
      const first = /href="(\/inbox\/\d+)"/.exec(inbox)![1]!;
      const message = await (await fetch(`${server.url}${first}`)).text();
      expect(message).toContain('<iframe title="Email content"');
      expect(message).toContain(`<a href="${booking.zoomJoinUrl}">`);
      expect(message).toContain('invite.ics');
    } finally {
      expect(await server.stop('SIGTERM')).toBe(0);
    }
    // A second start finds the schema and the demo in place and adds nothing.
    const again = await startChildServer({ DATABASE_URL: databaseUrl });
    await again.stop();
    const { db, close } = openDatabase(databaseUrl);
    expect(await db.selectFrom('specialists').select('slug').execute()).toEqual([{ slug: 'demo' }]);
    expect((await db.selectFrom('availability_rules').select('id').execute()).length).toBe(10);
    await close();
  }, 90_000); // two server starts and a booking

  it('builds only when a bundle is missing or older than a source or a build input', () => {
    // A project in miniature whose "build" leaves a mark: the decision is what is tested here.
    const project = join(dir, 'mini');
    const write = (path: string, text = '') => {
      mkdirSync(join(project, path, '..'), { recursive: true });
      writeFileSync(join(project, path), text);
    };
    for (const path of ['widget/index.ts', 'sdk/index.ts', 'package.json', 'rollup.config.mjs', 'tsconfig.json']) write(path);
    write('scripts/build.mjs', "import { appendFileSync } from 'node:fs'; appendFileSync('built', 'x');");
    const builds = () => {
      const result = spawnSync(process.execPath, [join(PROJECT_ROOT, 'scripts/build-if-stale.mjs')], { cwd: project, encoding: 'utf8' });
      expect(result.status).toBe(0);
      return existsSync(join(project, 'built')) ? readFileSync(join(project, 'built'), 'utf8').length : 0;
    };
    const later = (path: string, seconds: number) => utimesSync(join(project, path), new Date(), new Date(Date.now() + seconds * 1000));
    expect(builds()).toBe(1); // no bundles yet
    write('dist/browser/specialist-booking.js');
    write('dist/browser/specialist-booking-sdk.js');
    expect(builds()).toBe(1); // fresh: skipped
    later('widget/index.ts', 10);
    expect(builds()).toBe(2);
    later('dist/browser/specialist-booking.js', 20);
    later('dist/browser/specialist-booking-sdk.js', 20);
    expect(builds()).toBe(2);
    later('rollup.config.mjs', 30);
    expect(builds()).toBe(3);
  });

  it('npm run migrate brings an empty database to the latest schema, then reports it up to date', () => {
    const env = { PATH: process.env.PATH, DATABASE_URL: `sqlite:${join(dir, 'migrate.sqlite')}` };
    const run = () => spawnSync(process.execPath, ['--import', 'tsx', 'server/db/migrate-cli.ts'], { cwd: PROJECT_ROOT, env, encoding: 'utf8' });
    const first = run();
    expect(first.stdout).toBe('Applied: 0001_initial, 0002_zoom_connections, 0003_email, 0004_rate_limits, 0005_availability_version, 0006_rate_limit_expiry, 0007_link_bound_oauth, 0008_retention_indexes, 0009_last_zoom_user, 0010_meeting_lock_token, 0011_jobs, 0012_booking_lifecycle, 0013_reminder_offsets, 0014_zoom_health, 0015_held_requests\n');
    expect(first.status).toBe(0);
    expect(run().stdout).toBe('The database is up to date.\n');
  });
});

describe('npm run start:production', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-production-'));
  beforeAll(() => {
    // `npm test` builds first; a lone run of this file builds what it needs.
    if (!existsSync(join(PROJECT_ROOT, 'dist/server/main.js'))) execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: PROJECT_ROOT, stdio: 'pipe' });
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs the compiled server with NODE_ENV=production', () => {
    const scripts = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(scripts['start:production']).toBe(`NODE_ENV=production node ${SERVER_COMMANDS.compiled.join(' ')}`);
  });

  it('starts with everything configured: health answers, and there is no inbox, no emulator and no demo', async () => {
    const smtp = await startTestSmtp();
    const zoom = await startZoomEmulator({ redirectUri: 'https://booking.example.com/oauth/zoom/callback' });
    const databaseUrl = `sqlite:${join(dir, 'production.sqlite')}`;
    const server = await startChildServer(
      {
        NODE_ENV: 'production',
        DATABASE_URL: databaseUrl,
        PUBLIC_URL: 'https://booking.example.com',
        TOKEN_ENCRYPTION_KEY: Buffer.alloc(32, 9).toString('base64'),
        ZOOM_CLIENT_ID: zoom.clientId,
        ZOOM_CLIENT_SECRET: zoom.clientSecret,
        ZOOM_OAUTH_BASE_URL: zoom.oauthBaseUrl,
        ZOOM_API_BASE_URL: zoom.apiBaseUrl,
        SMTP_URL: smtp.url,
      },
      'compiled',
    );
    try {
      expect(server.output()).toContain(`specialist-booking is running on ${server.url} (sqlite database, production) for https://booking.example.com\n`);
      expect(server.output()).not.toMatch(/DEMO|inbox|emulator/i);
      const health = await fetch(`${server.url}/healthz`);
      expect([health.status, await health.json()]).toEqual([200, { success: true, status: 'ok' }]);
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      // No inbox on any Host: the route does not exist.
      expect((await rawGet(`${server.url}/inbox`, { host: 'localhost' })).status).toBe(404);
      expect((await fetch(`${server.url}/api/v1/specialists/demo`)).status).toBe(404);
      expect(zoom.controls.users()).toEqual([]);
    } finally {
      expect(await server.stop('SIGTERM')).toBe(0);
      await zoom.close();
      await smtp.close();
    }
    const { db, close } = openDatabase(databaseUrl);
    expect(await db.selectFrom('specialists').select('slug').execute()).toEqual([]);
    await close();
  }, 60_000);

  const complete = { PATH: process.env.PATH ?? '', ...PRODUCTION_ENV };
  const needs = 'Configuration error: NODE_ENV=production also needs';
  it.each([
    [{ ZOOM_CLIENT_ID: undefined }, `${needs} ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET (real Zoom).`],
    [{ ZOOM_CLIENT_SECRET: undefined }, `${needs} ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET (real Zoom).`],
    [{ SMTP_URL: undefined }, `${needs} SMTP_URL or EMAIL_SERVICE=gmail (a mail route).`],
    [{ PUBLIC_URL: undefined }, `${needs} PUBLIC_URL starting with https://.`],
    [{ PUBLIC_URL: 'http://booking.example.com' }, `${needs} PUBLIC_URL starting with https://.`],
    [{ TOKEN_ENCRYPTION_KEY: undefined }, `${needs} TOKEN_ENCRYPTION_KEY (openssl rand -base64 32).`],
    [{ DATABASE_URL: undefined }, `${needs} DATABASE_URL.`],
    [{ DATABASE_URL: undefined, SMTP_URL: undefined }, `${needs} SMTP_URL or EMAIL_SERVICE=gmail (a mail route); DATABASE_URL.`],
  ])('refuses to start with %o: exit code 1 and one line', (change, line) => {
    const env = Object.fromEntries(Object.entries({ ...complete, ...change }).filter(([, v]) => v !== undefined)) as Record<string, string>;
    const result = spawnSync(process.execPath, SERVER_COMMANDS.compiled, { cwd: PROJECT_ROOT, env, encoding: 'utf8' });
    expect([result.status, result.stdout, result.stderr]).toEqual([1, '', `${line}\n`]);
  });
});
