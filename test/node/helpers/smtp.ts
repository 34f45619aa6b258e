/**
 * A real SMTP server for tests (smtp-server), whose messages are parsed by
 * mailparser. It records every arrival, duplicates included, and can stall:
 * accept a message's DATA and never answer.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface TestSmtp {
  port: number;
  url: string;
  messages: ParsedMail[];
  /** How many SMTP connections clients have opened so far. */
  readonly connections: number;
  /** The next message's DATA is read and never answered; resolves when that happens. */
  stallNext(): Promise<void>;
  waitForMessages(count: number, timeoutMs?: number): Promise<ParsedMail[]>;
  close(): Promise<void>;
}

export interface TestSmtpOptions {
  /** Accept AUTH with these credentials, also over plain text (the server offers no STARTTLS). */
  credentials?: { user: string; pass: string };
}

export async function startTestSmtp(port = 0, options: TestSmtpOptions = {}): Promise<TestSmtp> {
  const messages: ParsedMail[] = [];
  let stall: (() => void) | undefined;
  let connections = 0;
  const server = new SMTPServer({
    authOptional: true,
    onConnect(_session, callback) {
      connections++;
      callback();
    },
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: options.credentials !== undefined,
    onAuth(auth, _session, callback) {
      const { credentials } = options;
      if (credentials && auth.username === credentials.user && auth.password === credentials.pass) callback(null, { user: auth.username });
      else callback(new Error('Invalid username or password'));
    },
    closeTimeout: 100,
    onData(stream, _session, callback) {
      if (stall) {
        const began = stall;
        stall = undefined;
        stream.resume();
        stream.on('end', began);
        return; // never call back: the client waits for an answer that does not come
      }
      simpleParser(stream).then(
        (mail) => {
          messages.push(mail);
          callback();
        },
        (error: Error) => callback(error),
      );
    },
  });
  // A client that goes away mid-connection (a server killed with -9, a pooled
  // connection dropped) is an ordinary event for a mail server, not a crash.
  server.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'ECONNRESET' && error.code !== 'EPIPE') throw error;
  });
  server.listen(port, '127.0.0.1');
  await once(server.server, 'listening');
  const actualPort = (server.server.address() as AddressInfo).port;
  return {
    port: actualPort,
    url: `smtp://127.0.0.1:${actualPort}`,
    messages,
    get connections() {
      return connections;
    },
    stallNext: () => new Promise<void>((resolve) => (stall = resolve)),
    async waitForMessages(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (messages.length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} messages, got ${messages.length}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return messages;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
