import { randomUUID } from 'node:crypto';
import { type Database, NO_TENANT, type Prisma } from '@breezycorp/db';
import type { Config } from '../config.ts';
import { isUniqueViolation } from '../errors.ts';
import { type AuditEventType, type AuditRow, writeAuditEvents } from './audit-log.ts';
import { cadenceOf, createDocumentRequest, type TemplateItem } from './document-requests.ts';

/**
 * A bulk send: one template to many clients. Each client's cycle, request, items, link mail
 * (outbox row) and audit events are created in that client's own unit of work, one after the
 * other — no unit ever spans two tenants, and one client's failure (no contact, a closed
 * cycle, a database error) is recorded as that client's outcome and touches no other.
 * Progress is written to the job row (firm-wide) as it goes, so it can be polled.
 *
 * A job survives the death of its process. The row holds the job's input, the lease of the
 * process running it (`runner`) and a heartbeat; the delivery worker resumes a job whose
 * heartbeat is older than `SPADE_BULK_STALE_MS` (recoverStaleBulkJobs). Resuming is safe
 * because each client's request carries the job's id under a unique key (client, job): a
 * client whose unit of work committed before the crash — recorded in the results or not —
 * is found and reported, never created twice, even if the old process was only stalled and
 * both run at once. A job resumed `maxResumes` times without finishing is given up
 * (`failed`), with each client's outcome: created, failed, or not processed.
 */

export type CycleKind = 'bookkeeping' | 'accounting' | 'tax' | 'corporate_secretarial' | 'payroll' | 'other';

export interface BulkJobInput {
  jobId: string;
  /** The lease this run holds on the job row (bulk_jobs.runner). */
  runner: string;
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

/** What the job row keeps of its input, to be resumed from. */
export interface StoredCycle {
  kind: CycleKind;
  period: string;
  title: string;
  dueDate: string | null;
}

export function storedCycle(cycle: BulkJobInput['cycle']): StoredCycle {
  return { ...cycle, dueDate: cycle.dueDate ? cycle.dueDate.toISOString() : null };
}

class ClientOutcome extends Error {}

const NOT_PROCESSED = 'not processed: the bulk send was interrupted';

/** Clients in flight at once (each in its own unit of work, its own pooled connection). */
const BULK_CONCURRENCY = 4;

/** The request this job already created for the client, if any (its unique key makes it at most one). */
async function existingRequest(db: Database, jobId: string, clientId: string): Promise<string | null> {
  return db.inClientUnit(clientId, async (tx) => {
    const found = await tx.cycleRequest.findFirst({ where: { bulkJobId: jobId }, select: { id: true } });
    return found?.id ?? null;
  });
}

/** Creates one client's request from the template, inside that client's unit of work (once per job). */
async function sendToClient(db: Database, config: Config, input: BulkJobInput, clientId: string): Promise<BulkResult> {
  try {
    return await db.inClientUnit(clientId, async (tx) => {
      // Resumed after a crash: this client's unit may have committed already.
      const done = await tx.cycleRequest.findFirst({ where: { bulkJobId: input.jobId }, select: { id: true } });
      if (done) return { clientId, outcome: 'created' as const, requestId: done.id };
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
        bulkJobId: input.jobId,
      });
      const event = (eventType: AuditEventType, data: Prisma.InputJsonObject): AuditRow => ({
        eventType,
        actorType: 'staff',
        actorId: input.createdBy,
        clientId,
        entityType: 'cycle_request',
        entityId: created.requestId,
        requestId: input.httpRequestId,
        eventDataJson: data,
      });
      await writeAuditEvents(tx, [
        event('request.created', { cycleId: cycle.id, contactId: contact.id, templateId: template.id, bulkJobId: input.jobId }),
        event('magic_link.created', { contactId: contact.id, outboxId: created.outboxId }),
      ]);
      return { clientId, outcome: 'created' as const, requestId: created.requestId };
    });
  } catch (error) {
    // Another run of the same job (a stalled process and its successor) created it first.
    if (isUniqueViolation(error)) {
      const requestId = await existingRequest(db, input.jobId, clientId).catch(() => null);
      if (requestId) return { clientId, outcome: 'created', requestId };
    }
    return { clientId, outcome: 'failed', error: error instanceof ClientOutcome ? error.message : 'the request could not be created' };
  }
}

export interface BulkRunOptions {
  /** How often the running process renews its lease (SPADE_BULK_HEARTBEAT_MS). */
  heartbeatMs: number;
  /** Outcomes already recorded by an earlier run of this job (resume): those clients are skipped. */
  recorded?: readonly BulkResult[];
}

/**
 * Runs a job to the end, writing progress every few clients and the per-client results at
 * the end — each write only while this run still holds the job's lease. A run that loses
 * its lease (another process resumed the job) stops taking new clients and writes nothing.
 */
export async function runBulkJob(
  db: Database,
  config: Config,
  input: BulkJobInput,
  log: { error(obj: object, msg: string): void },
  options: BulkRunOptions = { heartbeatMs: config.bulk.heartbeatMs },
): Promise<BulkResult[]> {
  const recorded = new Map((options.recorded ?? []).map((r) => [r.clientId, r]));
  const outcomes: (BulkResult | undefined)[] = input.clientIds.map((clientId) => recorded.get(clientId));
  let lost = false;
  const current = () => outcomes.filter((r): r is BulkResult => r !== undefined);
  /** Writes progress (and the end) under this run's lease; false once the lease is someone else's. */
  const write = async (data: Prisma.BulkJobUpdateManyMutationInput) => {
    if (lost) return false;
    const { count } = await db.inUnit(NO_TENANT, (tx) =>
      tx.bulkJob.updateMany({
        where: { id: input.jobId, status: 'running', runner: input.runner },
        data: { ...data, heartbeatAt: new Date() },
      }),
    );
    if (count === 0) lost = true;
    return count === 1;
  };
  const record = (finished: boolean) => {
    const results = current();
    return write({
      done: results.length,
      failed: results.filter((r) => r.outcome === 'failed').length,
      results: results as unknown as Prisma.InputJsonArray,
      ...(finished && { status: 'finished', finishedAt: new Date() }),
    });
  };
  const heartbeat = setInterval(() => {
    write({}).catch((error: unknown) => log.error({ err: error, bulkJobId: input.jobId }, 'bulk send: heartbeat failed'));
  }, options.heartbeatMs);
  heartbeat.unref();

  const pending = outcomes.flatMap((outcome, index) => (outcome ? [] : [index]));
  let next = 0;
  let sinceWrite = 0;
  let progressWrite: Promise<unknown> = Promise.resolve();
  // A few clients at a time, each still in its own unit of work (a unit never spans two).
  const lanes = Array.from({ length: Math.min(BULK_CONCURRENCY, pending.length) }, async () => {
    while (next < pending.length && !lost) {
      const index = pending[next++] as number;
      const clientId = input.clientIds[index] as string;
      const result = await sendToClient(db, config, input, clientId);
      if (result.outcome === 'failed') log.error({ bulkJobId: input.jobId, clientId, error: result.error }, 'bulk send: client failed');
      outcomes[index] = result;
      if (++sinceWrite % 25 === 0) progressWrite = progressWrite.then(() => record(false));
    }
  });
  try {
    await Promise.all(lanes);
    await progressWrite.catch((error: unknown) => log.error({ err: error, bulkJobId: input.jobId }, 'bulk send: progress not written'));
  } finally {
    clearInterval(heartbeat);
    // Even if progress could not be written, the job ends as finished with what was done.
    if (!lost) await record(true);
  }
  return current();
}

/** Recovery settings (config.bulk). */
export interface BulkRecovery {
  heartbeatMs: number;
  /** A running job whose heartbeat is older than this is taken over. */
  staleMs: number;
  /** Taken over this many times without finishing: given up as `failed`. */
  maxResumes: number;
}

/** Ends a job that cannot or should not run again: each client created, failed, or not processed. */
async function giveUp(db: Database, job: { id: string; clientIds: string[]; recorded: BulkResult[] }, runner: string) {
  const recorded = new Map(job.recorded.map((r) => [r.clientId, r]));
  const results: BulkResult[] = [];
  for (const clientId of job.clientIds) {
    const known = recorded.get(clientId);
    if (known) {
      results.push(known);
      continue;
    }
    const requestId = await existingRequest(db, job.id, clientId).catch(() => null);
    results.push(requestId ? { clientId, outcome: 'created', requestId } : { clientId, outcome: 'failed', error: NOT_PROCESSED });
  }
  // A job from before its input was kept: what it recorded is all that is known.
  for (const r of job.recorded) if (!job.clientIds.includes(r.clientId)) results.push(r);
  await db.inUnit(NO_TENANT, (tx) =>
    tx.bulkJob.updateMany({
      where: { id: job.id, status: 'running', runner },
      data: {
        status: 'failed',
        finishedAt: new Date(),
        done: results.length,
        failed: results.filter((r) => r.outcome === 'failed').length,
        results: results as unknown as Prisma.InputJsonArray,
      },
    }),
  );
  return results;
}

export interface RecoveredJob {
  jobId: string;
  action: 'resumed' | 'failed';
  /** Resumed: resolves when the run ends. */
  run?: Promise<unknown>;
}

/**
 * Takes over running jobs whose heartbeat is stale (their process died or hung): each by
 * compare-and-set on its lease, so of several workers exactly one takes a job. A job with
 * its input kept is resumed (in the background: `run`) unless it was resumed `maxResumes`
 * times already; otherwise it is marked failed with every client's outcome.
 */
export async function recoverStaleBulkJobs(
  db: Database,
  config: Config,
  log: { error(obj: object, msg: string): void; warn(obj: object, msg: string): void },
  recovery: BulkRecovery = config.bulk,
): Promise<RecoveredJob[]> {
  const staleBefore = new Date(Date.now() - recovery.staleMs);
  const stale = await db.inUnit(NO_TENANT, (tx) =>
    tx.bulkJob.findMany({
      where: { status: 'running', heartbeatAt: { lt: staleBefore } },
      orderBy: { heartbeatAt: 'asc' },
      take: 10,
      select: { id: true, runner: true },
    }),
  );
  const recovered: RecoveredJob[] = [];
  for (const candidate of stale) {
    const runner = randomUUID();
    const taken = await db.inUnit(NO_TENANT, async (tx) => {
      const { count } = await tx.bulkJob.updateMany({
        where: { id: candidate.id, status: 'running', heartbeatAt: { lt: staleBefore }, runner: candidate.runner },
        data: { runner, heartbeatAt: new Date(), resumed: { increment: 1 } },
      });
      return count === 1 ? tx.bulkJob.findUnique({ where: { id: candidate.id } }) : null;
    });
    if (!taken) continue;
    const clientIds = taken.clientIds as unknown as string[];
    const recorded = taken.results as unknown as BulkResult[];
    const cycle = taken.cycle as unknown as StoredCycle | null;
    if (clientIds.length !== taken.total || !cycle || taken.resumed > recovery.maxResumes) {
      log.warn({ bulkJobId: taken.id, resumed: taken.resumed - 1 }, 'bulk send: interrupted job given up');
      await giveUp(db, { id: taken.id, clientIds, recorded }, runner);
      recovered.push({ jobId: taken.id, action: 'failed' });
      continue;
    }
    log.warn({ bulkJobId: taken.id, resumed: taken.resumed, recorded: recorded.length }, 'bulk send: resuming an interrupted job');
    const input: BulkJobInput = {
      jobId: taken.id,
      runner,
      templateId: taken.templateId,
      clientIds,
      cycle: { ...cycle, dueDate: cycle.dueDate ? new Date(cycle.dueDate) : null },
      createdBy: taken.createdBy,
      httpRequestId: taken.httpRequestId ?? `bulk-resume-${taken.id}`,
    };
    const run = runBulkJob(db, config, input, log, { heartbeatMs: recovery.heartbeatMs, recorded }).catch((error: unknown) =>
      log.error({ err: error, bulkJobId: taken.id }, 'bulk send stopped'),
    );
    recovered.push({ jobId: taken.id, action: 'resumed', run });
  }
  return recovered;
}
