/**
 * A real SMTP server for tests (smtp-server), whose messages are parsed by
 * mailparser. It records every arrival, duplicates included; it can hold a
 * message's DATA unanswered until released, or for ever (stall), and refuse
 * every recipient with a given reply.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll } from 'vitest';

export interface TestSmtp {
  port: number;
  url: string;
  messages: ParsedMail[];
  /** How many SMTP connections clients have opened so far. */
  readonly connections: number;
  /** The next message's DATA is read and never answered; resolves when that happens. */
  stallNext(): Promise<void>;
  /**
   * The next message's DATA is read and left unanswered until `release()`;
   * `arrived` resolves when it is read. The message is recorded on release.
   */
  holdNext(): { arrived: Promise<void>; release(): void };
  waitForMessages(count: number, timeoutMs?: number): Promise<ParsedMail[]>;
  close(): Promise<void>;
}

export interface TestSmtpOptions {
  /** Accept AUTH with these credentials, also over plain text (the server offers no STARTTLS). */
  credentials?: { user: string; pass: string };
  /** Answer every RCPT TO with this reply, e.g. `{ code: 550, message: 'No such user here' }`. */
  refuseRecipients?: { code: number; message: string };
}

export async function startTestSmtp(port = 0, options: TestSmtpOptions = {}): Promise<TestSmtp> {
  const messages: ParsedMail[] = [];
  let hold: { onArrived(): void; released: Promise<void> } | undefined;
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
    onRcptTo(_address, _session, callback) {
      const { refuseRecipients } = options;
      if (!refuseRecipients) return callback();
      callback(Object.assign(new Error(refuseRecipients.message), { responseCode: refuseRecipients.code }));
    },
    closeTimeout: 100,
    onData(stream, _session, callback) {
      const held = hold;
      hold = undefined;
      if (held) stream.on('end', held.onArrived);
      // A held message is answered (and recorded) only on release: the client waits meanwhile.
      Promise.all([simpleParser(stream), held?.released]).then(
        ([mail]) => {
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
  function holdNext(): { arrived: Promise<void>; release(): void } {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const arrived = new Promise<void>((resolve) => (hold = { onArrived: resolve, released }));
    return { arrived, release };
  }
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
    stallNext: () => holdNext().arrived,
    holdNext,
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

/**
 * A test SMTP server for the enclosing `describe` block: started before its
 * tests, closed after them.
 *
 * @example
 * const smtp = useTestSmtp();
 * expect(smtp().messages).toHaveLength(1);
 */
export function useTestSmtp(): () => TestSmtp {
  let smtp: TestSmtp | undefined;
  beforeAll(async () => {
    smtp = await startTestSmtp();
  });
  afterAll(async () => {
    await smtp?.close();
  });
  return () => {
    if (!smtp) throw new Error('The test SMTP server starts in beforeAll: use it inside a test or hook.');
    return smtp;
  };
}
