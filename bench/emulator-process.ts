// The Zoom emulator in a process of its own, for load benchmarks.
import { startZoomEmulator } from '../server/zoom-emulator/index.js';

const emulator = await startZoomEmulator({ dailyMeetingLimit: 1_000_000 });
const user = emulator.controls.addUser({ display_name: 'Bench Host' });
process.stdout.write(
  JSON.stringify({ url: emulator.url, clientId: emulator.clientId, clientSecret: emulator.clientSecret, webhookSecret: emulator.webhookSecret, userId: user.id,
    code: emulator.controls.issueAuthorizationCode({ userId: user.id, redirectUri: 'http://localhost/oauth/zoom/callback' }) }) + '\n',
);
