import nodemailer from 'nodemailer';
import type { MailConfig } from '../config.js';
import type { MailSender } from './outbox.js';

// Bounded waits: a stalled mail server must not hold the job worker forever.
const TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 };
// One SMTP session carries many messages (nodemailer's pool), instead of a
// connect, greeting and login per message: under a burst of bookings the
// outbox keeps up at a fraction of the CPU, and mail servers see one client
// rather than a storm of connections. The outbox sends one message at a time,
// so one connection is all it uses; it is replaced after 100 messages.
const POOL = { pool: true, maxConnections: 1, maxMessages: 100 } as const;

/**
 * A nodemailer transport for the configured mail route. Its pooled
 * connection stays open between messages: whoever makes it calls `close()`.
 *
 * Credentials never travel in clear text: with a user in an `smtp://` URL
 * the connection must upgrade with STARTTLS (nodemailer's `requireTLS`), and
 * a server that does not offer it gets no message (the outbox records the
 * failed attempt and retries). `isInsecureAllowed` (SMTP_INSECURE=true)
 * lifts this, for a relay on a trusted network.
 */
export function createMailSender(mail: MailConfig, localPort?: number): MailSender {
  if (mail.mode === 'smtp') {
    const url = new URL(mail.url);
    const secure = url.protocol === 'smtps:';
    const hasCredentials = url.username !== '';
    return nodemailer.createTransport({
      host: url.hostname,
      port: url.port ? Number(url.port) : secure ? 465 : 587,
      secure,
      requireTLS: hasCredentials && !secure && !mail.isInsecureAllowed,
      auth: hasCredentials ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : undefined,
      ...TIMEOUTS,
      ...POOL,
    }) as unknown as MailSender;
  }
  if (mail.mode === 'gmail') {
    return nodemailer.createTransport({ service: 'gmail', auth: { user: mail.user, pass: mail.password }, ...TIMEOUTS, ...POOL }) as unknown as MailSender;
  }
  // The demo's local SMTP server speaks plain SMTP on loopback.
  return nodemailer.createTransport({ host: '127.0.0.1', port: localPort ?? mail.port, secure: false, ignoreTLS: true, ...TIMEOUTS, ...POOL }) as unknown as MailSender;
}
