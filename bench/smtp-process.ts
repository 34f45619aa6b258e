// A mail server in a process of its own, for load benchmarks: it takes every
// message and keeps none. In the load generator's process, parsing the mail
// of a few hundred bookings a second delayed the generator's own timers,
// which the paced runs then counted as the server's latency.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  onData(stream, _session, callback) {
    stream.on('end', () => callback());
    stream.resume();
  },
});
// A client that goes away mid-connection (the server under test killed at the end of a run) is not an error here.
server.on('error', () => {});
server.listen(0, '127.0.0.1');
await once(server.server, 'listening');
process.stdout.write(JSON.stringify({ url: `smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}` }) + '\n');
