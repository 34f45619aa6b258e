import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Clock } from '../clock.js';
import type { Database } from '../db/schema.js';
import { enqueueJob, PermanentJobError, type JobHandler, type RetryPolicy } from '../jobs/index.js';
import type { Logger } from '../logger.js';
import type { TokenCipher } from '../security/token-cipher.js';

export interface EmailAttachment {
  filename: string;
  content: string;
  contentType: string;
}

/**
 * A calendar invitation or update, sent through nodemailer's `icalEvent`:
 * the inline `text/calendar; method=…` part that Gmail and Outlook show as
 * an invitation card (nodemailer also attaches it as `invite.ics`).
 */
export interface EmailCalendar {
  method: 'REQUEST' | 'CANCEL';
  /** The `.ics` text (server/email/ics.ts). */
  content: string;
}

export interface OutgoingEmail {
  kind: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  calendar?: EmailCalendar;
  /** Where replies go: the specialist, on a customer's email (issue #16). Omitted: to the sender. */
  replyTo?: string;
  /** The specialist whose message this is (their dashboard shows it if it fails); omit for system mail. */
  specialistId?: string;
}

export interface OutboxDeps {
  clock: Clock;
  cipher: TokenCipher;
  /** Domain part of Message-IDs, e.g. the public URL's host. */
  messageIdDomain: string;
}

/**
 * Queues an email in the same transaction as the change that causes it, so
 * the two commit or roll back together: the message in `email_outbox`, and
 * the `email.send` job that the job worker runs to deliver it.
 * Returns the outbox id.
 */
export async function enqueueEmail(trx: Transaction<Database> | Kysely<Database>, deps: OutboxDeps, email: OutgoingEmail): Promise<string> {
  const id = randomUUID();
  const now = deps.clock().toISOString();
  // Everything a reader could learn from is encrypted with the body, the calendar and the Reply-To address too.
  const content: EmailContent = { text: email.text, html: email.html, calendar: email.calendar, replyTo: email.replyTo };
  await trx
    .insertInto('email_outbox')
    .values({
      id,
      kind: email.kind,
      message_id: `<${id}@${deps.messageIdDomain}>`,
      to_address: email.to,
      subject: email.subject,
      content_enc: deps.cipher.encrypt(JSON.stringify(content), `outbox:${id}`),
      status: 'pending',
      attempts: 0,
      last_error: null,
      sent_at: null,
      failed_at: null,
      specialist_id: email.specialistId ?? null,
      created_at: now,
    })
    .execute();
  await enqueueJob(trx, deps.clock, { kind: EMAIL_JOB_KIND, payload: { outboxId: id } satisfies EmailJobPayload, dedupeKey: `email:${id}` });
  return id;
}

/**
 * What the worker needs of a mail transport (nodemailer's `Transporter` fits).
 * A refusal it throws carries the server's `responseCode`, the `command`
 * refused (`'RCPT TO'`, `'DATA'`, …) and whether it is `permanent`, as
 * nodemailer's SMTP errors do.
 */
export interface MailSender {
  sendMail(message: {
    from: string;
    to: string;
    subject: string;
    text: string;
    html: string;
    messageId: string;
    attachments: EmailAttachment[];
    /** nodemailer's `icalEvent`. */
    icalEvent?: EmailCalendar;
    replyTo?: string;
  }): Promise<unknown>;
  /** Lets go of open connections (a pooled transport's). */
  close?(): void;
}

/** The job kind that delivers one outbox message; its payload is `{ outboxId }`. */
export const EMAIL_JOB_KIND = 'email.send';

export interface EmailJobOptions {
  db: Kysely<Database>;
  clock: Clock;
  cipher: TokenCipher;
  sender: MailSender;
  from: string;
  logger: Logger;
  /** Overrides of the email retry schedule (tests shorten it); defaults below. */
  retry?: Partial<RetryPolicy>;
}

/**
 * Email as a kind of job: delivers the outbox message named by the job's
 * payload. The job worker claims it under a fenced lease, so two workers — in
 * one process or several — never send it at the same time; a worker that
 * dies mid-send loses its lease and another resends with the same
 * Message-ID. The `sent` write goes through the job's fenced completion: a
 * worker whose lease ran out while it waited on the mail server, and whose
 * message another worker has taken since, changes nothing and logs it.
 *
 * A failed attempt is retried 5 s later, then after twice as long each time
 * up to 1 h apart, each delay varied by ±25%, until 24 h after queueing: the
 * first failure from then on is final, so a message is tried about 34 times
 * over 24 to 25¼ hours. A message whose content cannot be decrypted, or that
 * the mail server refuses for good (a permanent reply — 5xx other than 503 —
 * to its recipient or its content), is failed at once. Every attempt is
 * recorded in `email_delivery_attempts` (also one whose lease was lost: it
 * did reach the mail server), and the message's row shows its status, its
 * attempts and the last error.
 */
export function createEmailJobHandler(options: EmailJobOptions): JobHandler<EmailJobPayload> {
  const { db, clock, cipher, sender, logger } = options;
  const recordAttempt = (outboxId: string, attempt: number, error: string | null) =>
    db.insertInto('email_delivery_attempts').values({ outbox_id: outboxId, attempt, attempted_at: clock().toISOString(), error }).execute();

  return {
    kind: EMAIL_JOB_KIND,
    retry: { ...EMAIL_RETRY_POLICY, ...options.retry },

    async run({ outboxId }, context) {
      const row = await db.selectFrom('email_outbox').selectAll().where('id', '=', outboxId).executeTakeFirst();
      // Gone (its specialist deleted) or settled already: nothing to send.
      if (!row || row.status !== 'pending') return;
      await db.updateTable('email_outbox').set({ attempts: context.attempt }).where('id', '=', outboxId).execute();
      const fields = { outboxId, kind: row.kind, attempt: context.attempt };
      let content: EmailContent;
      try {
        content = JSON.parse(cipher.decrypt(row.content_enc, `outbox:${outboxId}`));
      } catch (error) {
        // Another key or a damaged row: no retry can read it.
        const reason = `cannot decrypt the content: ${describeError(error)}`;
        await recordAttempt(outboxId, context.attempt, reason);
        throw new PermanentJobError(reason);
      }
      try {
        const { calendar, attachments = [], ...body } = content;
        await sender.sendMail({ from: options.from, to: row.to_address, subject: row.subject, messageId: row.message_id, ...body, attachments, ...(calendar ? { icalEvent: calendar } : {}) });
      } catch (error) {
        const reason = describeError(error);
        await recordAttempt(outboxId, context.attempt, reason);
        throw isRefusedForGood(error) ? new PermanentJobError(reason) : new Error(reason);
      }
      await recordAttempt(outboxId, context.attempt, null);
      const isHeld = await context.complete((trx) =>
        trx.updateTable('email_outbox').set({ status: 'sent', sent_at: clock().toISOString(), last_error: null }).where('id', '=', outboxId).execute().then(() => undefined),
      );
      if (isHeld) logger.info('email sent', fields);
      else logger.warn('email sent after its claim was lost', { ...fields, error: null });
    },

    async onFailure(trx, { outboxId }, failure) {
      await trx
        .updateTable('email_outbox')
        .set({ status: failure.isFinal ? 'failed' : 'pending', last_error: failure.error, failed_at: failure.isFinal ? failure.at.toISOString() : null })
        .where('id', '=', outboxId)
        .execute();
    },
  };
}

/**
 * What `content_enc` holds, as JSON. Messages queued before issue #16 have
 * no `calendar` or `replyTo` and carry their invite.ics in `attachments`,
 * which is still sent; messages queued since have no attachments.
 */
interface EmailContent {
  text: string;
  html: string;
  attachments?: EmailAttachment[];
  calendar?: EmailCalendar;
  replyTo?: string;
}

/** An `email.send` job's payload: the outbox row to deliver (the content stays there, encrypted). */
export interface EmailJobPayload {
  outboxId: string;
}

/** Documented above: 5 s doubling to 1 h, for 24 h, 60 s claims. */
const EMAIL_RETRY_POLICY: Partial<RetryPolicy> = { baseDelayMs: 5_000, maxDelayMs: 3_600_000, retryForMs: 24 * 3_600_000, leaseMs: 60_000 };

/** An email given up on, as its specialist sees it. */
export interface FailedEmail {
  id: string;
  kind: string;
  to: string;
  subject: string;
  failedAt: string;
  reason: string;
}

/**
 * A specialist's emails given up on, newest first (at most `limit`, default
 * 50): recipient, subject, when and why; never the content. (The operator
 * lists every failed job with `npm run jobs -- failed`.)
 */
export async function listFailedEmails(db: Kysely<Database>, options: { specialistId: string; limit?: number }): Promise<FailedEmail[]> {
  const rows = await db
    .selectFrom('email_outbox')
    .select(['id', 'kind', 'to_address', 'subject', 'failed_at', 'created_at', 'last_error'])
    .where('specialist_id', '=', options.specialistId)
    .where('status', '=', 'failed')
    .orderBy('failed_at', 'desc')
    .orderBy('id')
    .limit(options.limit ?? 50)
    .execute();
  return rows.map((row) => ({ id: row.id, kind: row.kind, to: row.to_address, subject: row.subject, failedAt: row.failed_at ?? row.created_at, reason: row.last_error ?? '' }));
}

/**
 * Whether the mail server refused this message for good: a permanent reply
 * (RFC 5321's 5xx, other than 503 "bad sequence of commands") to its
 * recipient or its content. A refused login or sender is the route's fault,
 * which the operator can fix, so it is retried like an outage.
 */
function isRefusedForGood(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const { permanent, command } = error as { permanent?: boolean; command?: string };
  return permanent === true && (command === 'RCPT TO' || command === 'DATA');
}

/** An error's message for the attempt log; SMTP errors carry their response code. */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { responseCode?: number; code?: string }).responseCode ?? (error as { code?: string }).code;
  return (code ? `${code}: ` : '') + error.message.slice(0, 500);
}
