import nodemailer from 'nodemailer';
import type { MailConfig } from '../config.js';
import type { MailSender } from './outbox.js';

// Bounded waits: a stalled mail server must not hold the outbox worker forever.
const TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 };

/** A nodemailer transport for the configured mail route. */
export function createMailSender(mail: MailConfig, localPort?: number): MailSender {
  if (mail.mode === 'smtp') {
    const url = new URL(mail.url);
    const secure = url.protocol === 'smtps:';
    return nodemailer.createTransport({
      host: url.hostname,
      port: url.port ? Number(url.port) : secure ? 465 : 587,
      secure,
      auth: url.username ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : undefined,
      ...TIMEOUTS,
    }) as unknown as MailSender;
  }
  if (mail.mode === 'gmail') {
    return nodemailer.createTransport({ service: 'gmail', auth: { user: mail.user, pass: mail.password }, ...TIMEOUTS }) as unknown as MailSender;
  }
  // The demo's local SMTP server speaks plain SMTP on loopback.
  return nodemailer.createTransport({ host: '127.0.0.1', port: localPort ?? mail.port, secure: false, ignoreTLS: true, ...TIMEOUTS }) as unknown as MailSender;
}
