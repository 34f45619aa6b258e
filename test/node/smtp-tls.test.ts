import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.js';
import type { MailSender } from '../../server/email/outbox.js';
import { createMailSender } from '../../server/email/transport.js';
import { startTestSmtp, type TestSmtp } from './helpers/smtp.js';

const MESSAGE = { from: 'b@booking.test', to: 'c@example.test', subject: 'Hello', text: 'Hi', html: '<p>Hi</p>', messageId: '<1@booking.test>', attachments: [] };

describe('SMTP with credentials', () => {
  // A mail server that takes a password over plain text and offers no STARTTLS.
  let smtp: TestSmtp;
  const senders: MailSender[] = [];
  const senderFor = (env: Record<string, string>) => {
    const sender = createMailSender(loadConfig(env).mail);
    senders.push(sender);
    return sender;
  };
  beforeAll(async () => {
    smtp = await startTestSmtp(0, { credentials: { user: 'mailer', pass: 's3cret' } });
  });
  afterAll(async () => {
    for (const sender of senders) sender.close?.();
    await smtp.close();
  });

  it('refuses to send over smtp:// when the server offers no STARTTLS: the password is not sent in clear text', async () => {
    const sender = senderFor({ SMTP_URL: `smtp://mailer:s3cret@127.0.0.1:${smtp.port}` });
    await expect(sender.sendMail(MESSAGE)).rejects.toThrow(/STARTTLS/);
    expect(smtp.messages).toEqual([]);
  });

  it('sends over plain smtp:// with SMTP_INSECURE=true', async () => {
    const sender = senderFor({ SMTP_URL: `smtp://mailer:s3cret@127.0.0.1:${smtp.port}`, SMTP_INSECURE: 'true' });
    await sender.sendMail(MESSAGE);
    const [mail] = await smtp.waitForMessages(1);
    expect(mail!.subject).toBe('Hello');
  });

  it('sends over plain smtp:// without credentials (nothing secret to protect; a local relay)', async () => {
    const sender = senderFor({ SMTP_URL: `smtp://127.0.0.1:${smtp.port}` });
    await sender.sendMail({ ...MESSAGE, subject: 'No credentials', messageId: '<2@booking.test>' });
    expect((await smtp.waitForMessages(2)).map((m) => m.subject)).toEqual(['Hello', 'No credentials']);
  });
});
