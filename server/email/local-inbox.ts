import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface InboxMessage {
  /** Position in the inbox, for URLs. */
  id: number;
  messageId: string;
  from: string;
  to: string[];
  subject: string;
  date: Date;
  text: string;
  html: string;
  attachments: { filename: string; contentType: string; content: string }[];
  /** How many times this Message-ID arrived (more than 1: a resend, shown once). */
  deliveries: number;
}

export interface LocalInbox {
  port: number;
  messages(): InboxMessage[];
  /** Every raw arrival, duplicates included, for tests. */
  arrivals(): number;
  close(): Promise<void>;
}

/**
 * The demo's mail server: a real SMTP server (smtp-server) on 127.0.0.1 that
 * parses what it receives (mailparser) and keeps it in memory for the inbox
 * page. Messages are keyed by Message-ID, so a resend shows once.
 */
export async function startLocalInbox(options: { port?: number; hostname?: string } = {}): Promise<LocalInbox> {
  const byMessageId = new Map<string, InboxMessage>();
  let arrivals = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    banner: 'specialist-booking local inbox',
    closeTimeout: 1_000,
    onData(stream, _session, callback) {
      simpleParser(stream)
        .then((mail) => {
          arrivals++;
          const messageId = mail.messageId ?? `<arrival-${arrivals}@local>`;
          const existing = byMessageId.get(messageId);
          if (existing) {
            existing.deliveries++;
          } else {
            const to = (Array.isArray(mail.to) ? mail.to : mail.to ? [mail.to] : []).flatMap((a) => a.value.map((v) => v.address ?? ''));
            byMessageId.set(messageId, {
              id: byMessageId.size + 1,
              messageId,
              from: mail.from?.text ?? '',
              to,
              subject: mail.subject ?? '',
              date: mail.date ?? new Date(),
              text: mail.text ?? '',
              html: typeof mail.html === 'string' ? mail.html : '',
              // The inline text/calendar alternative (an invitation card) is the same file as the invite.ics attachment: list it once.
              attachments: mail.attachments.filter((a) => !(a.contentType === 'text/calendar' && a.filename === undefined)).map((a) => ({ filename: a.filename ?? 'attachment', contentType: a.contentType, content: a.content.toString('utf8') })),
              deliveries: 1,
            });
          }
          callback();
        })
        .catch((error: Error) => callback(error));
    },
  });
  server.listen(options.port ?? 0, options.hostname ?? '127.0.0.1');
  await once(server.server, 'listening');
  return {
    port: (server.server.address() as AddressInfo).port,
    messages: () => [...byMessageId.values()],
    arrivals: () => arrivals,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
