import { randomUUID } from 'node:crypto';
import type { Database, ScopedTx } from '@breezycorp/db';
import type { Config } from '../../config.ts';
import { type AuditEventType, writeAuditEvents } from '../audit-log.ts';
import { recoverStaleBulkJobs } from '../bulk-requests.ts';
import { mintMagicLink } from '../magic-links.ts';
import { classifySendError, DeliveryError, type MailTransport, type OutgoingMail } from '../mail-transport.ts';
import { runRecurringScheduler } from './recurring-scheduler.ts';
import { runReminderScheduler } from './reminder-scheduler.ts';
import { type RenderedBody, renderMagicLinkMail, renderReminderMail, renderStaffDigestMail } from './render.ts';
import { type ClaimedMessage, unsafeClaimDueMessages } from './unsafe-claims.ts';

/**
 * The delivery worker: takes over bulk sends whose process died (services/bulk-requests.ts),
 * runs the recurring and reminder schedulers (which queue messages),
 * then claims due outbox rows (several workers never claim the same row),
 * renders each in its own client's unit of work — minting the magic link there, so the
 * token exists only in the mail — sends it, and records the outcome: `sent` with the
 * provider's id, or a retry with exponential backoff, or `failed` after the last attempt
 * (or at once on a permanent SMTP 5xx), which staff see on the request.
 *
 * At-least-once: a worker that dies between sending and recording leaves the row
 * `sending`; when its lease runs out another worker sends it again with the same
 * Message-ID (and a fresh link: the first mail's link stops working).
 */

export interface DeliveryLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface RunReport {
  claimed: number;
  sent: number;
  retried: number;
  failed: number;
  cancelled: number;
  reminders: number;
  /** Requests created by recurring schedules. */
  recurring: number;
  /** Interrupted bulk jobs taken over (resumed, or given up as failed). */
  bulkJobs: number;
}

export interface DeliveryWorker {
  readonly id: string;
  /** One pass: due reminders, then up to one batch of due messages. */
  runOnce(): Promise<RunReport>;
  /** Passes until nothing is due (tests, `spade worker --once`). */
  drain(maxPasses?: number): Promise<RunReport>;
  /** Polls every `mail.pollMs` until stopped. */
  start(): void;
  stop(): Promise<void>;
}

export interface WorkerOptions {
  db: Database;
  config: Config;
  transport: MailTransport;
  log: DeliveryLog;
  /** Messages claimed per pass. */
  batchSize?: number;
  /** Messages sent at once within a pass. */
  concurrency?: number;
  now?: () => Date;
}

/** Exponential backoff for a failed send: base, 2×base, 4×base … capped. */
export function retryDelayMs(attempt: number, baseMs: number, capMs: number): number {
  return Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
}

export function messageIdOf(id: string, domain: string): string {
  return `<${id}@${domain}>`;
}

type Prepared = { kind: 'send'; mail: OutgoingMail; attempts: number } | { kind: 'skip' };

const SYSTEM = { actorType: 'system', actorId: null, requestId: null } as const;

async function systemAudit(tx: ScopedTx, clientId: string, eventType: AuditEventType, requestId: string, data: object) {
  await writeAuditEvents(tx, [{ ...SYSTEM, clientId, eventType, entityType: 'cycle_request', entityId: requestId, eventDataJson: data }]);
}

export function createDeliveryWorker(options: WorkerOptions): DeliveryWorker {
  const { db, config, transport, log } = options;
  const mail = config.mail;
  const id = `worker-${randomUUID()}`;
  const batchSize = options.batchSize ?? 25;
  const concurrency = options.concurrency ?? 4;
  const now = options.now ?? (() => new Date());
  const portalUrl = (token: string) => `${config.publicBaseUrl}/portal#token=${token}`;

  /** Reads the claimed row and renders it, in its client's unit of work. */
  async function prepare(claim: ClaimedMessage): Promise<Prepared> {
    return db.inClientUnit(claim.clientId, async (tx) => {
      const message = await tx.outboxMessage.findFirst({ where: { id: claim.id, status: 'sending', lockedBy: id } });
      if (!message) return { kind: 'skip' };
      const client = await tx.client.findUniqueOrThrow({ where: { id: claim.clientId }, select: { name: true } });
      const request = await tx.cycleRequest.findFirst({
        where: { id: message.cycleRequestId },
        select: { id: true, status: true, expiresAt: true, message: true, contactId: true, remindersSent: true },
      });
      const items = request ? await tx.requestItem.findMany({ where: { cycleRequestId: request.id }, orderBy: { position: 'asc' } }) : [];
      let body: RenderedBody;
      const headers: Record<string, string> = {};
      if (message.kind === 'staff_digest') {
        const contact = request ? await tx.contact.findFirst({ where: { id: request.contactId }, select: { name: true } }) : null;
        const files = await tx.file.groupBy({
          by: ['requestItemId'],
          where: { requestItemId: { in: items.map((item) => item.id) }, deletedAt: null },
          _count: { _all: true },
        });
        const filesOf = new Map(files.map((f) => [f.requestItemId, f._count._all]));
        body = renderStaffDigestMail({
          firmName: mail.firmName,
          clientName: client.name,
          contactName: contact?.name ?? 'The contact',
          url: `${config.publicBaseUrl}/app/clients/${claim.clientId}/requests/${message.cycleRequestId}`,
          items: items.map((item) => ({ label: item.label, status: item.status, fileCount: filesOf.get(item.id) ?? 0 })),
        });
      } else {
        const contact = message.contactId
          ? await tx.contact.findFirst({ where: { id: message.contactId, deletedAt: null }, select: { name: true } })
          : null;
        const live = request && request.status === 'open' && request.expiresAt > now() && contact;
        if (!live || !contact) {
          // Nothing to send any more: the request closed or the contact left since the row was queued.
          await tx.outboxMessage.updateMany({
            where: { id: message.id, lockedBy: id },
            data: {
              status: 'cancelled',
              lastError: 'request closed or contact removed before sending',
              lockedBy: null,
              lockedUntil: null,
              updatedAt: now(),
            },
          });
          return { kind: 'skip' };
        }
        // Minted now, stored as a hash, put in this mail and nowhere else. A new link replaces
        // the previous one (DESIGN.md §2); open contact sessions are not affected.
        const token = await mintMagicLink(tx, request.id);
        if (message.kind === 'reminder') {
          body = renderReminderMail({
            firmName: mail.firmName,
            clientName: client.name,
            contactName: contact.name,
            url: portalUrl(token),
            expiresAt: request.expiresAt,
            number: request.remindersSent,
            outstanding: items.filter((item) => item.status === 'pending' || item.status === 'rejected'),
          });
          headers['List-Unsubscribe'] = `<mailto:${mail.fromAddress}?subject=${encodeURIComponent(`Stop reminders ${request.id}`)}>`;
        } else {
          body = renderMagicLinkMail({
            firmName: mail.firmName,
            clientName: client.name,
            contactName: contact.name,
            message: request.message,
            url: portalUrl(token),
            expiresAt: request.expiresAt,
            items,
          });
        }
      }
      headers['X-Spade-Message-Kind'] = message.kind;
      return {
        kind: 'send',
        attempts: message.attempts,
        mail: {
          messageId: messageIdOf(message.id, mail.messageIdDomain),
          from: { name: mail.firmName, address: mail.fromAddress },
          to: message.toAddress,
          ...body,
          headers,
        },
      };
    });
  }

  async function recordSent(claim: ClaimedMessage, providerMessageId: string | null) {
    await db.inClientUnit(claim.clientId, (tx) =>
      tx.outboxMessage.updateMany({
        where: { id: claim.id, lockedBy: id, status: 'sending' },
        data: { status: 'sent', sentAt: now(), providerMessageId, lastError: null, lockedBy: null, lockedUntil: null, updatedAt: now() },
      }),
    );
  }

  async function recordFailure(claim: ClaimedMessage, attempts: number, error: DeliveryError): Promise<'retried' | 'failed'> {
    const final = error.permanent || attempts >= mail.maxAttempts;
    await db.inClientUnit(claim.clientId, async (tx) => {
      // One clock reading: the next attempt is exactly one backoff after this update.
      const at = now();
      const updated = await tx.outboxMessage.updateMany({
        where: { id: claim.id, lockedBy: id, status: 'sending' },
        data: final
          ? { status: 'failed', lastError: error.message, lockedBy: null, lockedUntil: null, updatedAt: at }
          : {
              status: 'pending',
              lastError: error.message,
              nextAttemptAt: new Date(at.getTime() + retryDelayMs(attempts, mail.retryBaseMs, mail.retryCapMs)),
              lockedBy: null,
              lockedUntil: null,
              updatedAt: at,
            },
      });
      if (final && updated.count === 1) {
        const row = await tx.outboxMessage.findFirstOrThrow({ where: { id: claim.id }, select: { cycleRequestId: true, kind: true } });
        await systemAudit(tx, claim.clientId, 'message.failed', row.cycleRequestId, {
          messageId: claim.id,
          kind: row.kind,
          attempts,
          error: error.message,
        });
      }
    });
    return final ? 'failed' : 'retried';
  }

  async function deliver(claim: ClaimedMessage, report: RunReport) {
    let prepared: Prepared;
    try {
      prepared = await prepare(claim);
    } catch (error) {
      // Rendering failed (a database error): the lease runs out and the row is claimed again.
      log.error({ err: error, outboxId: claim.id }, 'could not prepare a message');
      return;
    }
    if (prepared.kind === 'skip') {
      report.cancelled += 1;
      return;
    }
    try {
      const { providerMessageId } = await transport.send(prepared.mail);
      await recordSent(claim, providerMessageId);
      report.sent += 1;
    } catch (error) {
      const failure = error instanceof DeliveryError ? error : classifySendError(error);
      const outcome = await recordFailure(claim, prepared.attempts, failure);
      report[outcome] += 1;
      log.warn({ outboxId: claim.id, attempts: prepared.attempts, outcome, error: failure.message }, 'mail not sent');
    }
  }

  const bulkRuns = new Set<Promise<unknown>>();

  async function runOnce(): Promise<RunReport> {
    const report: RunReport = { claimed: 0, sent: 0, retried: 0, failed: 0, cancelled: 0, reminders: 0, recurring: 0, bulkJobs: 0 };
    // A resumed bulk job runs in the background (it may take minutes); stop() and drain() wait for it.
    for (const job of await recoverStaleBulkJobs(db, config, log)) {
      report.bulkJobs += 1;
      if (job.run) {
        const run = job.run.finally(() => bulkRuns.delete(run));
        bulkRuns.add(run);
      }
    }
    report.recurring = await runRecurringScheduler({ db, config });
    report.reminders = await runReminderScheduler({ db, now: now() });
    const claims = await unsafeClaimDueMessages(db, id, batchSize, mail.leaseMs);
    report.claimed = claims.length;
    let next = 0;
    const lanes = Array.from({ length: Math.min(concurrency, claims.length) }, async () => {
      while (next < claims.length) {
        const claim = claims[next++] as ClaimedMessage;
        await deliver(claim, report);
      }
    });
    await Promise.all(lanes);
    return report;
  }

  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> | null = null;
  let stopped = true;

  const tick = () => {
    running = runOnce()
      .then((report) => {
        if (report.claimed > 0 || report.reminders > 0 || report.recurring > 0 || report.bulkJobs > 0)
          log.info({ worker: id, ...report }, 'delivery pass');
        // A full batch: more may be due right away.
        return report.claimed >= batchSize;
      })
      .catch((error) => {
        log.error({ err: error }, 'delivery pass failed');
        return false;
      })
      .then((more) => {
        running = null;
        if (!stopped) timer = setTimeout(tick, more ? 0 : mail.pollMs);
      });
  };

  return {
    id,
    runOnce,
    async drain(maxPasses = 100) {
      const total: RunReport = { claimed: 0, sent: 0, retried: 0, failed: 0, cancelled: 0, reminders: 0, recurring: 0, bulkJobs: 0 };
      for (let pass = 0; pass < maxPasses; pass++) {
        const report = await runOnce();
        for (const key of Object.keys(total) as (keyof RunReport)[]) total[key] += report[key];
        if (report.claimed === 0) break;
      }
      // A resumed bulk job queues its clients' mails as it goes: wait for it, then send those.
      while (bulkRuns.size > 0) {
        await Promise.allSettled([...bulkRuns]);
        for (let pass = 0; pass < maxPasses; pass++) {
          const report = await runOnce();
          for (const key of Object.keys(total) as (keyof RunReport)[]) total[key] += report[key];
          if (report.claimed === 0) break;
        }
      }
      return total;
    },
    start() {
      if (!stopped) return;
      stopped = false;
      timer = setTimeout(tick, 0);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      if (running) await running;
      await Promise.allSettled([...bulkRuns]);
    },
  };
}
