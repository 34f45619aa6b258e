import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Clock } from '../clock.js';
import type { Database, EmailOutboxTable } from '../db/schema.js';
import type { Logger } from '../logger.js';
import type { TokenCipher } from '../security/token-cipher.js';

export interface EmailAttachment {
  filename: string;
  content: string;
  contentType: string;
}

export interface OutgoingEmail {
  kind: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  attachments?: EmailAttachment[];
}

export interface OutboxDeps {
  clock: Clock;
  cipher: TokenCipher;
  /** Domain part of Message-IDs, e.g. the public URL's host. */
  messageIdDomain: string;
}

/**
 * Queues an email in the same transaction as the change that causes it, so
 * the two commit or roll back together. The worker delivers it later.
 * Returns the outbox id.
 */
export async function enqueueEmail(trx: Transaction<Database> | Kysely<Database>, deps: OutboxDeps, email: OutgoingEmail): Promise<string> {
  const id = randomUUID();
  const now = deps.clock().toISOString();
  const content = JSON.stringify({ text: email.text, html: email.html, attachments: email.attachments ?? [] });
  await trx
    .insertInto('email_outbox')
    .values({
      id,
      kind: email.kind,
      message_id: `<${id}@${deps.messageIdDomain}>`,
      to_address: email.to,
      subject: email.subject,
      content_enc: deps.cipher.encrypt(content, `outbox:${id}`),
      status: 'pending',
      attempts: 0,
      next_attempt_at: now,
      claim_owner: null,
      claim_until: null,
      last_error: null,
      sent_at: null,
      created_at: now,
    })
    .execute();
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
  }): Promise<unknown>;
  /** Lets go of open connections (a pooled transport's). */
  close?(): void;
}

export interface OutboxWorkerOptions {
  db: Kysely<Database>;
  clock: Clock;
  cipher: TokenCipher;
  sender: MailSender;
  from: string;
  logger: Logger;
  /** How often to look for due mail. Default 250 ms. */
  pollMs?: number;
  /** How long a claim lasts; a worker that died lets go after this. Default 60 s. */
  claimMs?: number;
  /** How long after queueing a message is retried: its first failure this late is final. Default 24 h. */
  retryForMs?: number;
  /** First retry delay; doubles each attempt up to `maxDelayMs`, each varied by ±25%. Defaults 5 s and 1 h. */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export interface OutboxWorker {
  start(): void;
  /** Stops polling and waits for the delivery in flight; the rest of its batch waits for the next start (or another worker). */
  stop(): Promise<void>;
  /** Delivers every due message once; returns how many were sent. */
  deliverDue(): Promise<number>;
}

/** Messages looked up at a time. */
const BATCH_SIZE = 20;

/** How an attempt ended: delivered (`error` null), or failed for now or for good. */
type AttemptOutcome = { error: null } | { error: string; isFinal: boolean };

/**
 * Delivers the outbox. Each message is claimed with a compare-and-swap on
 * its lease (`claim_until`), so two workers — in one process or several —
 * never send it at the same time; a worker that dies mid-send loses its
 * lease and another resends with the same Message-ID.
 *
 * Every claim writes a fresh token to `claim_owner`, and an attempt's outcome
 * is written only where the row is still `pending` under that token: a
 * worker whose lease ran out while it waited on the mail server, and whose
 * message another worker has taken since, changes nothing and logs it.
 *
 * A failed attempt is retried 5 s later, then after twice as long each time
 * up to 1 h apart (`baseDelayMs`, `maxDelayMs`), each delay varied by ±25%,
 * until 24 h after queueing (`retryForMs`): the first failure from then on is
 * final, so a message is tried about 34 times over 24 to 25¼ hours. A message
 * whose content cannot be decrypted, or that the mail server refuses for good
 * (a permanent reply — 5xx other than 503 — to its recipient or its content),
 * is failed at once. Every attempt is recorded in `email_delivery_attempts`.
 */
export function createOutboxWorker(options: OutboxWorkerOptions): OutboxWorker {
  const { db, clock, cipher, sender, logger } = options;
  const pollMs = options.pollMs ?? 250;
  const claimMs = options.claimMs ?? 60_000;
  const retryForMs = options.retryForMs ?? 24 * 3_600_000;
  const baseDelayMs = options.baseDelayMs ?? 5_000;
  const maxDelayMs = options.maxDelayMs ?? 3_600_000;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  let isStopped = true;
  let isStopping = false;

  /** Takes a due message's lease; returns the claim's token, or undefined when another worker has it. */
  async function claim(id: string): Promise<string | undefined> {
    const now = clock();
    const token = randomUUID();
    const result = await db
      .updateTable('email_outbox')
      .set((eb) => ({ claim_owner: token, claim_until: new Date(now.getTime() + claimMs).toISOString(), attempts: eb('attempts', '+', 1) }))
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .where((eb) => eb.or([eb('claim_until', 'is', null), eb('claim_until', '<', now.toISOString())]))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1 ? token : undefined;
  }

  /**
   * Records the attempt, and writes its outcome to the message if the claim
   * `token` still holds it. Returns false when the claim was lost.
   */
  async function settle(row: Selectable<EmailOutboxTable>, token: string, outcome: AttemptOutcome): Promise<boolean> {
    const now = clock();
    const settled = outcome.error === null ? { status: 'sent' as const, sent_at: now.toISOString(), last_error: null } : afterFailure(row.attempts, outcome, now);
    const isClaimHeld = await db.transaction().execute(async (trx) => {
      await trx.insertInto('email_delivery_attempts').values({ outbox_id: row.id, attempt: row.attempts, attempted_at: now.toISOString(), error: outcome.error }).execute();
      const result = await trx
        .updateTable('email_outbox')
        .set({ ...settled, claim_owner: null, claim_until: null })
        .where('id', '=', row.id)
        .where('status', '=', 'pending')
        .where('claim_owner', '=', token)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    });
    const fields = { outboxId: row.id, kind: row.kind, attempt: row.attempts };
    if (!isClaimHeld) logger.warn(outcome.error === null ? 'email sent after its claim was lost' : 'email delivery failed after its claim was lost', { ...fields, error: outcome.error });
    else if (outcome.error === null) logger.info('email sent', fields);
    else logger.warn('email delivery failed', { ...fields, error: outcome.error, isFinal: outcome.isFinal });
    return isClaimHeld;
  }

  /** A failed message's next state: pending until its backoff delay has passed, or failed. */
  function afterFailure(attempts: number, outcome: { error: string; isFinal: boolean }, now: Date) {
    if (outcome.isFinal) return { status: 'failed' as const, last_error: outcome.error };
    const delayMs = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempts - 1)) * (0.75 + Math.random() / 2);
    return { status: 'pending' as const, last_error: outcome.error, next_attempt_at: new Date(now.getTime() + delayMs).toISOString() };
  }

  async function deliverOne(id: string): Promise<boolean> {
    const token = await claim(id);
    if (!token) return false;
    const row = await db.selectFrom('email_outbox').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    let plaintext: string;
    try {
      plaintext = cipher.decrypt(row.content_enc, `outbox:${id}`);
    } catch (error) {
      // Another key or a damaged row: no retry can read it.
      await settle(row, token, { error: `cannot decrypt the content: ${describeError(error)}`, isFinal: true });
      return false;
    }
    const content = JSON.parse(plaintext) as { text: string; html: string; attachments: EmailAttachment[] };
    try {
      await sender.sendMail({ from: options.from, to: row.to_address, subject: row.subject, messageId: row.message_id, ...content });
    } catch (error) {
      const isLate = clock().getTime() >= Date.parse(row.created_at) + retryForMs;
      await settle(row, token, { error: describeError(error), isFinal: isLate || isRefusedForGood(error) });
      return false;
    }
    return settle(row, token, { error: null });
  }

  /** Delivers up to a batch of due messages; `isFull` when more may be waiting. */
  async function deliverBatch(): Promise<{ sent: number; isFull: boolean }> {
    const now = clock().toISOString();
    const due = await db
      .selectFrom('email_outbox')
      .select('id')
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .where((eb) => eb.or([eb('claim_until', 'is', null), eb('claim_until', '<', now)]))
      .orderBy('created_at')
      .limit(BATCH_SIZE)
      .execute();
    let sent = 0;
    for (const { id } of due) {
      if (isStopping) break;
      if (await deliverOne(id)) sent++;
    }
    return { sent, isFull: due.length === BATCH_SIZE };
  }

  async function deliverDue(): Promise<number> {
    return (await deliverBatch()).sent;
  }

  function schedule(delayMs: number): void {
    if (isStopped) return;
    timer = setTimeout(() => {
      running = deliverBatch()
        .catch((error: unknown) => {
          logger.error('outbox worker failed', { error: describeError(error) });
          return { sent: 0, isFull: false };
        })
        .then((batch) => {
          // A full batch means more is waiting (a burst of bookings): the next goes at once, not after a poll.
          schedule(batch.isFull ? 0 : pollMs);
          return batch.sent;
        });
    }, delayMs);
    timer.unref();
  }

  return {
    start() {
      if (!isStopped) return;
      isStopped = false;
      isStopping = false;
      // What is pending at start (mail queued while the server was down) goes at once.
      schedule(0);
    },
    async stop() {
      isStopped = true;
      isStopping = true;
      if (timer) clearTimeout(timer);
      await running;
      isStopping = false;
    },
    deliverDue,
  };
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
