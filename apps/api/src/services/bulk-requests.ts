import { type Database, NO_TENANT, type Prisma } from '@breezycorp/db';
import type { Config } from '../config.ts';
import type { AuditEventType } from './audit-log.ts';
import { cadenceOf, createDocumentRequest, type TemplateItem } from './document-requests.ts';

/**
 * A bulk send: one template to many clients. Each client's cycle, request, items, link mail
 * (outbox row) and audit events are created in that client's own unit of work, one after the
 * other — no unit ever spans two tenants, and one client's failure (no contact, a closed
 * cycle, a database error) is recorded as that client's outcome and touches no other.
 * Progress is written to the job row (firm-wide) as it goes, so it can be polled.
 */

export type CycleKind = 'bookkeeping' | 'accounting' | 'tax' | 'corporate_secretarial' | 'payroll' | 'other';

export interface BulkJobInput {
  jobId: string;
  templateId: string;
  clientIds: readonly string[];
  cycle: { kind: CycleKind; period: string; title: string; dueDate: Date | null };
  createdBy: string;
  httpRequestId: string;
}

export interface BulkResult {
  clientId: string;
  outcome: 'created' | 'failed';
  requestId?: string;
  error?: string;
}

class ClientOutcome extends Error {}

/** Clients in flight at once (each in its own unit of work, its own pooled connection). */
const BULK_CONCURRENCY = 4;

/** Creates one client's request from the template, inside that client's unit of work. */
async function sendToClient(db: Database, config: Config, input: BulkJobInput, clientId: string): Promise<BulkResult> {
  try {
    return await db.inClientUnit(clientId, async (tx) => {
      const template = await tx.requestTemplate.findFirst({ where: { id: input.templateId, archivedAt: null } });
      if (!template) throw new ClientOutcome('the template was archived');
      const contact = await tx.contact.findFirst({
        where: { deletedAt: null },
        orderBy: { createdAt: 'asc' },
        select: { id: true, email: true },
      });
      if (!contact) throw new ClientOutcome('the client has no contact');
      let cycle = await tx.cycle.findFirst({
        where: { kind: input.cycle.kind, period: input.cycle.period },
        select: { id: true, dueDate: true, status: true },
      });
      cycle ??= await tx.cycle.create({
        data: {
          clientId,
          kind: input.cycle.kind,
          period: input.cycle.period,
          title: input.cycle.title,
          dueDate: input.cycle.dueDate,
          createdBy: input.createdBy,
        },
        select: { id: true, dueDate: true, status: true },
      });
      if (cycle.status === 'closed') throw new ClientOutcome('the cycle is closed');
      const created = await createDocumentRequest(tx, {
        clientId,
        cycle,
        contact,
        items: template.items as unknown as TemplateItem[],
        message: template.message,
        expiresInMs: template.expiresInDays ? template.expiresInDays * 86_400_000 : config.magicLinkTtlMs,
        cadence: cadenceOf(template),
        templateId: template.id,
        createdBy: input.createdBy,
        reason: 'bulk',
      });
      const event = (eventType: AuditEventType, data: Prisma.InputJsonObject) => ({
        eventType,
        actorType: 'staff',
        actorId: input.createdBy,
        clientId,
        entityType: 'cycle_request',
        entityId: created.requestId,
        requestId: input.httpRequestId,
        eventDataJson: data,
      });
      await tx.auditEvent.createMany({
        data: [
          event('request.created', { cycleId: cycle.id, contactId: contact.id, templateId: template.id, bulkJobId: input.jobId }),
          event('magic_link.created', { contactId: contact.id, outboxId: created.outboxId }),
        ],
      });
      return { clientId, outcome: 'created' as const, requestId: created.requestId };
    });
  } catch (error) {
    return { clientId, outcome: 'failed', error: error instanceof ClientOutcome ? error.message : 'the request could not be created' };
  }
}

/** Runs a job to the end, writing progress every few clients and the per-client results at the end. */
export async function runBulkJob(
  db: Database,
  config: Config,
  input: BulkJobInput,
  log: { error(obj: object, msg: string): void },
): Promise<BulkResult[]> {
  const results: BulkResult[] = [];
  const record = (finished: boolean) =>
    db.inUnit(NO_TENANT, (tx) =>
      tx.bulkJob.update({
        where: { id: input.jobId },
        data: {
          done: results.length,
          failed: results.filter((r) => r.outcome === 'failed').length,
          results: results as unknown as Prisma.InputJsonArray,
          ...(finished && { status: 'finished', finishedAt: new Date() }),
        },
        select: { id: true },
      }),
    );
  const outcomes: BulkResult[] = new Array(input.clientIds.length);
  let next = 0;
  let progressWrite: Promise<unknown> = Promise.resolve();
  // A few clients at a time, each still in its own unit of work (a unit never spans two).
  const lanes = Array.from({ length: Math.min(BULK_CONCURRENCY, input.clientIds.length) }, async () => {
    while (next < input.clientIds.length) {
      const index = next++;
      const clientId = input.clientIds[index] as string;
      const result = await sendToClient(db, config, input, clientId);
      if (result.outcome === 'failed') log.error({ bulkJobId: input.jobId, clientId, error: result.error }, 'bulk send: client failed');
      outcomes[index] = result;
      results.push(result);
      if (results.length % 25 === 0) progressWrite = progressWrite.then(() => record(false));
    }
  });
  try {
    await Promise.all(lanes);
    await progressWrite;
  } finally {
    // Even if progress could not be written, the job ends as finished with what was done.
    results.splice(0, results.length, ...outcomes.filter(Boolean));
    await record(true);
  }
  return results;
}
