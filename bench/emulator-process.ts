// The Zoom emulator in a process of its own, for load benchmarks.
import { startZoomEmulator } from '../server/zoom-emulator/index.js';

// The bench server's redirect URL: it is only used to connect the bench specialist, by code, not in a browser.
const emulator = await startZoomEmulator({ dailyMeetingLimit: 1_000_000, redirectUri: 'http://localhost/oauth/zoom/callback' });
const user = emulator.controls.addUser({ display_name: 'Bench Host' });
const { code, codeVerifier } = emulator.controls.issueAuthorizationCode({ userId: user.id });
process.stdout.write(
  JSON.stringify({ url: emulator.url, clientId: emulator.clientId, clientSecret: emulator.clientSecret, webhookSecret: emulator.webhookSecret, userId: user.id, code, codeVerifier }) + '\n',
);
