import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppError, notFound } from '../../errors.ts';
import { firmDb } from '../../plugins/unit-of-work.ts';
import { type BulkJobInput, type BulkResult, runBulkJob, storedCycle } from '../../services/bulk-requests.ts';
import { staffActor } from '../../tenancy/actor.ts';
import type { RouteOptions } from '../index.ts';
import { dateColumn, errors } from '../schemas.ts';
import { JobParams, JobStarted, JobView, jobView, StartBody } from './schema.ts';

/**
 * Bulk sends (staff-only): one template to a chosen list of clients, or to every client the
 * staff member serves. The POST checks the actor may act for every listed client (an
 * unknown or foreign one is simply not found), records the job and answers 202 with its id;
 * the job then runs in this process, one client unit of work per client
 * (services/bulk-requests.ts); if this process dies, the delivery worker resumes it. GET polls
 * its progress; the per-client outcome is shown once the job has ended (finished, or failed:
 * given up after repeated interruptions), to whoever started it (or an admin), and audited
 * per client.
 */
/** What routes/index.ts hands this module: a bulk job runs after the answer, one client unit per client, so on the Database. */
export const routeDeps = ['config', 'db'] as const;

const bulkRequests: FastifyPluginAsyncTypebox<RouteOptions<typeof routeDeps>> = async (app, { config, db }) => {
  const running = new Set<Promise<unknown>>();
  app.addHook('onClose', async () => {
    await Promise.allSettled(running);
  });

  app.post(
    '/api/bulk-requests',
    {
      config: { routeScope: 'staff-only' },
      schema: {
        operationId: 'createBulkRequests',
        summary: 'Send a template to many clients (a job, one unit of work per client)',
        body: StartBody,
        response: { 202: JobStarted, ...errors },
      },
      // Started once the job row has committed and the answer is out.
      onResponse: async (request, reply) => {
        const job = (request as { bulkJob?: BulkJobInput }).bulkJob;
        if (!job || reply.statusCode !== 202) return;
        const run = runBulkJob(db, config, job, request.log)
          .catch((error: unknown) => request.log.error({ err: error, bulkJobId: job.jobId }, 'bulk send stopped'))
          .finally(() => running.delete(run));
        running.add(run);
      },
    },
    async (request, reply) => {
      const actor = staffActor(request);
      const tx = firmDb(request);
      const { templateId, clientIds, allMyClients, cycle } = request.body;
      if ((clientIds === undefined) === (allMyClients === undefined)) {
        throw new AppError('validation_failed', 'Give either clientIds or allMyClients');
      }
      const template = await tx.requestTemplate.findFirst({ where: { id: templateId, archivedAt: null }, select: { id: true } });
      if (!template) throw notFound();
      let targets: string[];
      if (allMyClients) {
        targets =
          actor.role === 'admin'
            ? (await tx.client.findMany({ where: { status: 'active' }, select: { id: true }, orderBy: { name: 'asc' } })).map((c) => c.id)
            : [...actor.clientIds];
      } else {
        targets = clientIds as string[];
        // The unit of work admits exactly the actor's clients (admins: all): a client it cannot see is not found.
        const visible = await tx.client.count({ where: { id: { in: targets } } });
        if (visible !== targets.length) throw notFound();
      }
      const jobCycle = {
        kind: cycle.kind,
        period: cycle.period,
        title: cycle.title,
        dueDate: cycle.dueDate ? dateColumn(cycle.dueDate) : null,
      };
      const runner = randomUUID();
      // The input is kept on the row, so that another process can resume the job.
      const job = await tx.bulkJob.create({
        data: {
          createdBy: actor.staffUserId,
          templateId,
          total: targets.length,
          clientIds: targets,
          cycle: { ...storedCycle(jobCycle) },
          httpRequestId: request.id,
          runner,
        },
        select: { id: true },
      });
      await request.audit({
        eventType: 'bulk_request.started',
        entityType: 'bulk_job',
        entityId: job.id,
        clientId: null,
        data: { templateId, clients: targets.length, period: cycle.period },
      });
      (request as { bulkJob?: BulkJobInput }).bulkJob = {
        jobId: job.id,
        runner,
        templateId,
        clientIds: targets,
        cycle: jobCycle,
        createdBy: actor.staffUserId,
        httpRequestId: request.id,
      };
      return reply.code(202).send({ jobId: job.id, total: targets.length });
    },
  );

  app.get(
    '/api/bulk-requests/:jobId',
    {
      config: { routeScope: 'staff-only' },
      schema: {
        operationId: 'getBulkRequestJob',
        summary: 'Progress and per-client results of a bulk send',
        params: JobParams,
        response: { 200: JobView, ...errors },
      },
    },
    async (request) => {
      const actor = staffActor(request);
      const job = await firmDb(request).bulkJob.findUnique({ where: { id: request.params.jobId } });
      if (!job || (actor.role !== 'admin' && job.createdBy !== actor.staffUserId)) throw notFound();
      let results: BulkResult[] | null = null;
      if (job.status !== 'running') {
        // Only clients the reader may still see (an assignment may have ended since).
        const visible = actor.role === 'admin' ? null : new Set(actor.clientIds);
        results = (job.results as unknown as BulkResult[]).filter((r) => !visible || visible.has(r.clientId));
        await request.auditMany(
          results.map((r) => ({
            eventType: 'cross_tenant_read',
            entityType: 'bulk_job',
            entityId: job.id,
            clientId: r.clientId,
            data: { via: 'bulk_job.results' },
          })),
        );
      }
      return jobView(job, results);
    },
  );
};

export default bulkRequests;
