import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { notFound } from '../../errors.ts';
import { firmDb } from '../../plugins/unit-of-work.ts';
import { staffActor } from '../../tenancy/actor.ts';
import { clientScope } from '../client-route.ts';
import { pagedBody, pageQuery, pager, readPage } from '../pagination.ts';
import { ClientParams, CycleParams, dateColumn, errors } from '../schemas.ts';
import { CreateCycleBody, CycleQuery, CycleView, cycleView, DueSoonQuery, UpdateCycleBody } from './schema.ts';

// Undated cycles come last (NULLS LAST, PostgreSQL's default for ascending), then by creation.
const CYCLES_PAGE = pager('listCycles', 'asc', [
  { field: 'dueDate', kind: 'day', nullable: true },
  { field: 'createdAt', kind: 'instant', column: 'cycles.created_at' },
]);
// Only dated cycles are due soon.
const DUE_SOON_PAGE = pager('listCyclesDueSoon', 'asc', [{ field: 'dueDate', kind: 'day', nullable: true }]);

const cycles: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/api/clients/:clientId/cycles',
    {
      config: { routeScope: 'client-scoped' },
      schema: {
        operationId: 'listCycles',
        summary: "List a client's cycles (by due date, undated last, a page at a time)",
        params: ClientParams,
        querystring: pageQuery(CycleQuery),
        response: { 200: pagedBody({ cycles: Type.Array(CycleView) }), ...errors },
      },
    },
    async (request, reply) => {
      const { db } = clientScope(request);
      const rows = await readPage(request, reply, CYCLES_PAGE, (page) =>
        db.cycle.findMany({ ...page, where: { AND: [request.query.status ? { status: request.query.status } : {}, page.where] } }),
      );
      // Every read of a cycle is audited, in lists too.
      await request.auditMany(
        rows.map((cycle) => ({ eventType: 'cycle.read', entityType: 'cycle', entityId: cycle.id, data: { via: 'list' } })),
      );
      return { cycles: rows.map(cycleView) };
    },
  );

  app.post(
    '/api/clients/:clientId/cycles',
    {
      config: { routeScope: 'client-scoped' },
      schema: {
        operationId: 'createCycle',
        summary: 'Create a cycle for a client',
        params: ClientParams,
        body: CreateCycleBody,
        response: { 201: CycleView, ...errors },
      },
    },
    async (request, reply) => {
      const { db, clientId } = clientScope(request);
      const { kind, period, title, dueDate } = request.body;
      const cycle = await db.cycle.create({
        data: {
          clientId,
          kind,
          period,
          title,
          dueDate: dueDate ? dateColumn(dueDate) : null,
          createdBy: staffActor(request).staffUserId,
        },
      });
      await request.audit({ eventType: 'cycle.created', entityType: 'cycle', entityId: cycle.id });
      return reply.code(201).send(cycleView(cycle));
    },
  );

  app.get(
    '/api/clients/:clientId/cycles/:cycleId',
    {
      config: { routeScope: 'client-scoped' },
      schema: { operationId: 'getCycle', summary: 'Get a cycle', params: CycleParams, response: { 200: CycleView, ...errors } },
    },
    async (request) => {
      const cycle = await clientScope(request).db.cycle.findUnique({ where: { id: request.params.cycleId } });
      if (!cycle) throw notFound();
      await request.audit({ eventType: 'cycle.read', entityType: 'cycle', entityId: cycle.id });
      return cycleView(cycle);
    },
  );

  app.patch(
    '/api/clients/:clientId/cycles/:cycleId',
    {
      config: { routeScope: 'client-scoped' },
      schema: {
        operationId: 'updateCycle',
        summary: 'Update a cycle',
        params: CycleParams,
        body: UpdateCycleBody,
        response: { 200: CycleView, ...errors },
      },
    },
    async (request) => {
      const { db } = clientScope(request);
      const { title, dueDate, status } = request.body;
      const { count } = await db.cycle.updateMany({
        where: { id: request.params.cycleId },
        data: {
          ...(title !== undefined && { title }),
          ...(status !== undefined && { status }),
          ...(dueDate !== undefined && { dueDate: dueDate ? dateColumn(dueDate) : null }),
          updatedAt: new Date(),
        },
      });
      if (count === 0) throw notFound();
      const cycle = await db.cycle.findUniqueOrThrow({ where: { id: request.params.cycleId } });
      await request.audit({
        eventType: 'cycle.updated',
        entityType: 'cycle',
        entityId: cycle.id,
        data: { fields: Object.keys(request.body) },
      });
      return cycleView(cycle);
    },
  );

  app.get(
    '/api/cycles/due-soon',
    {
      config: { routeScope: 'staff-only' },
      schema: {
        operationId: 'listCyclesDueSoon',
        summary: 'Cycles due soon across the clients the caller serves (by due date, a page at a time)',
        querystring: pageQuery(DueSoonQuery),
        response: { 200: pagedBody({ cycles: Type.Array(CycleView) }), ...errors },
      },
    },
    async (request, reply) => {
      const db = firmDb(request);
      const until = new Date(Date.now() + request.query.days * 86_400_000);
      // RLS admits only the clients this staff member serves.
      const rows = await readPage(request, reply, DUE_SOON_PAGE, (page) =>
        db.cycle.findMany({
          ...page,
          // Decoy tenants' cycles are left out of the firm's lists (docs/detection.md).
          where: { AND: [{ status: { not: 'closed' }, dueDate: { lte: until }, client: { isDecoy: false } }, page.where] },
        }),
      );
      // One cross_tenant_read per client whose data this list returned.
      const perClient = new Map<string, string[]>();
      for (const row of rows) perClient.set(row.clientId, [...(perClient.get(row.clientId) ?? []), row.id]);
      await request.auditMany(
        [...perClient].map(([clientId, cycleIds]) => ({
          eventType: 'cross_tenant_read',
          clientId,
          entityType: 'cycle',
          entityId: null,
          data: { route: 'GET /api/cycles/due-soon', cycleIds },
        })),
      );
      return { cycles: rows.map(cycleView) };
    },
  );
};

export default cycles;
