import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError, notFound } from '../../errors.ts';
import { firstRunOnOrAfter } from '../../services/recurring.ts';
import { staffActor } from '../../tenancy/actor.ts';
import { clientScope } from '../client-route.ts';
import { pagedBody, pageQuery, pager, readPage } from '../pagination.ts';
import { ClientParams, dateColumn, errors } from '../schemas.ts';
import { CreateBody, ScheduleParams, ScheduleView, scheduleView } from './schema.ts';

/**
 * A client's recurring requests: a template sent to one of its contacts every month,
 * quarter or year on day D (1–28). The delivery worker's scheduler creates each period's
 * cycle and request on the day (services/delivery/recurring-scheduler.ts).
 */

/** Today's date in Singapore, as a UTC midnight. */
function singaporeToday(): Date {
  const sg = new Date(Date.now() + 8 * 3_600_000);
  return new Date(Date.UTC(sg.getUTCFullYear(), sg.getUTCMonth(), sg.getUTCDate()));
}

const SCHEDULES_PAGE = pager('listRecurringSchedules', 'asc', [
  { field: 'createdAt', kind: 'instant', column: 'recurring_schedules.created_at' },
]);

const recurringSchedules: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/api/clients/:clientId/recurring-schedules',
    {
      config: { routeScope: 'client-scoped' },
      schema: {
        operationId: 'createRecurringSchedule',
        summary: 'Create a recurring request schedule for a client',
        params: ClientParams,
        body: CreateBody,
        response: { 201: ScheduleView, ...errors },
      },
    },
    async (request, reply) => {
      const { db, clientId } = clientScope(request);
      const body = request.body;
      const contact = await db.contact.findFirst({ where: { id: body.contactId, deletedAt: null }, select: { id: true } });
      if (!contact) throw notFound();
      const template = await db.requestTemplate.findFirst({ where: { id: body.templateId, archivedAt: null }, select: { id: true } });
      if (!template) throw notFound();
      const from = body.startOn ? dateColumn(body.startOn) : singaporeToday();
      if (Number.isNaN(from.getTime())) throw new AppError('validation_failed', 'startOn is not a date');
      const created = await db.recurringSchedule.create({
        data: {
          clientId,
          templateId: template.id,
          contactId: contact.id,
          frequency: body.frequency,
          dayOfMonth: body.dayOfMonth,
          cycleKind: body.cycleKind,
          nextRunOn: firstRunOnOrAfter(from, body.dayOfMonth),
          createdBy: staffActor(request).staffUserId,
        },
      });
      await request.audit({
        eventType: 'recurring_schedule.created',
        entityType: 'recurring_schedule',
        entityId: created.id,
        data: { templateId: template.id, contactId: contact.id, frequency: body.frequency, dayOfMonth: body.dayOfMonth },
      });
      return reply.code(201).send(scheduleView(created));
    },
  );

  app.get(
    '/api/clients/:clientId/recurring-schedules',
    {
      config: { routeScope: 'client-scoped' },
      schema: {
        operationId: 'listRecurringSchedules',
        summary: "List a client's recurring request schedules",
        params: ClientParams,
        querystring: pageQuery({}),
        response: { 200: pagedBody({ schedules: Type.Array(ScheduleView) }), ...errors },
      },
    },
    async (request, reply) => {
      const rows = await readPage(request, reply, SCHEDULES_PAGE, (page) => clientScope(request).db.recurringSchedule.findMany(page));
      return { schedules: rows.map(scheduleView) };
    },
  );

  app.post(
    '/api/clients/:clientId/recurring-schedules/:scheduleId/cancel',
    {
      config: { routeScope: 'client-scoped' },
      schema: {
        operationId: 'cancelRecurringSchedule',
        summary: 'Stop a recurring request schedule',
        params: ScheduleParams,
        response: { 200: ScheduleView, ...errors },
      },
    },
    async (request) => {
      const { db } = clientScope(request);
      const { count } = await db.recurringSchedule.updateMany({
        where: { id: request.params.scheduleId, cancelledAt: null },
        data: { cancelledAt: new Date(), updatedAt: new Date() },
      });
      if (count === 0) throw notFound();
      const row = await db.recurringSchedule.findUniqueOrThrow({ where: { id: request.params.scheduleId } });
      await request.audit({ eventType: 'recurring_schedule.cancelled', entityType: 'recurring_schedule', entityId: row.id });
      return scheduleView(row);
    },
  );
};

export default recurringSchedules;
