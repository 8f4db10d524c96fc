import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { notFound } from '../../errors.ts';
import { firmDb } from '../../plugins/unit-of-work.ts';
import { staffActor } from '../../tenancy/actor.ts';
import { pagedBody, pageQuery, pager, readPage } from '../pagination.ts';
import { errors } from '../schemas.ts';
import { CreateBody, normaliseItems, TemplateParams, TemplateView, templateView, UpdateBody } from './schema.ts';

const TEMPLATES_PAGE = pager('listTemplates', 'asc', [{ field: 'name', kind: 'text' }]);

const templates: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/api/templates',
    {
      config: { routeScope: 'staff-only' },
      schema: {
        operationId: 'listTemplates',
        summary: 'List request templates (by name, a page at a time)',
        querystring: pageQuery({}),
        response: { 200: pagedBody({ templates: Type.Array(TemplateView) }), ...errors },
      },
    },
    async (request, reply) => {
      const rows = await readPage(request, reply, TEMPLATES_PAGE, (page) =>
        firmDb(request).requestTemplate.findMany({ ...page, where: { AND: [{ archivedAt: null }, page.where] } }),
      );
      return { templates: rows.map(templateView) };
    },
  );

  app.post(
    '/api/templates',
    {
      config: { routeScope: 'staff-only', adminOnly: true },
      schema: {
        operationId: 'createTemplate',
        summary: 'Create a request template (admin)',
        body: CreateBody,
        response: { 201: TemplateView, ...errors },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const created = await firmDb(request).requestTemplate.create({
        data: {
          name: body.name,
          message: body.message ?? null,
          items: normaliseItems(body.items),
          expiresInDays: body.expiresInDays ?? null,
          reminderEveryDays: body.reminderEveryDays ?? null,
          reminderMax: body.reminderMax ?? 0,
          reminderStartDaysBeforeDue: body.reminderStartDaysBeforeDue ?? null,
          createdBy: staffActor(request).staffUserId,
        },
      });
      await request.audit({
        eventType: 'template.created',
        entityType: 'request_template',
        entityId: created.id,
        data: { name: body.name },
      });
      return reply.code(201).send(templateView(created));
    },
  );

  app.patch(
    '/api/templates/:templateId',
    {
      config: { routeScope: 'staff-only', adminOnly: true },
      schema: {
        operationId: 'updateTemplate',
        summary: 'Update or archive a request template (admin)',
        params: TemplateParams,
        body: UpdateBody,
        response: { 200: TemplateView, ...errors },
      },
    },
    async (request) => {
      const db = firmDb(request);
      const found = await db.requestTemplate.findUnique({ where: { id: request.params.templateId }, select: { id: true } });
      if (!found) throw notFound();
      const { archived, items, ...rest } = request.body;
      const updated = await db.requestTemplate.update({
        where: { id: found.id },
        data: {
          ...Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== undefined)),
          ...(items && { items: normaliseItems(items) }),
          ...(archived !== undefined && { archivedAt: archived ? new Date() : null }),
          updatedAt: new Date(),
        },
      });
      await request.audit({
        eventType: 'template.updated',
        entityType: 'request_template',
        entityId: found.id,
        data: { fields: Object.keys(request.body) },
      });
      return templateView(updated);
    },
  );
};

export default templates;
