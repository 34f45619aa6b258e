import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config.js';
import { openDatabase } from '../../server/db/index.js';
import { PROJECT_ROOT, startChildServer } from './helpers/child-server.js';

describe('loadConfig', () => {
  it('has defaults that need no configuration', () => {
    expect(loadConfig({})).toEqual({
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
      metricsToken: undefined,
    });
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
      mail: { mode: 'smtp', url: 'smtps://u:p@mail.example.com:465' },
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

  it('npm run migrate brings an empty database to the latest schema, then reports it up to date', () => {
    const env = { PATH: process.env.PATH, DATABASE_URL: `sqlite:${join(dir, 'migrate.sqlite')}` };
    const run = () => spawnSync(process.execPath, ['--import', 'tsx', 'server/db/migrate-cli.ts'], { cwd: PROJECT_ROOT, env, encoding: 'utf8' });
    const first = run();
    expect(first.stdout).toBe('Applied: 0001_initial, 0002_zoom_connections, 0003_email, 0004_rate_limits, 0005_availability_version\n');
    expect(first.status).toBe(0);
    expect(run().stdout).toBe('The database is up to date.\n');
  });
});
