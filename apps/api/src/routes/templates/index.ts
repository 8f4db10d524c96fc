import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { notFound } from '../../errors.ts';
import { firmDb } from '../../plugins/unit-of-work.ts';
import { staffActor } from '../../tenancy/actor.ts';
import { pagedBody, pageQuery, pager, readPage } from '../pagination.ts';
import { errors, iso, NonBlank, NullableTimestamp, Timestamp, Uuid } from '../schemas.ts';

/**
 * Firm-wide request templates: a checklist and the defaults a request copies (message,
 * expiry, reminder cadence). Every staff member reads them; only admins write them (their
 * staff-only routes run as spade_admin). Creating a request from a template copies its
 * fields, so editing a template never changes a request already sent.
 */
const TemplateItem = Type.Object(
  {
    label: NonBlank(200),
    description: Type.Optional(Type.Union([Type.String({ maxLength: 2000 }), Type.Null()])),
    required: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
const fields = {
  name: NonBlank(200),
  message: Type.Optional(Type.Union([Type.String({ maxLength: 5000 }), Type.Null()])),
  items: Type.Array(TemplateItem, { minItems: 1, maxItems: 50 }),
  expiresInDays: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 60 }), Type.Null()])),
  reminderEveryDays: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 60 }), Type.Null()])),
  reminderMax: Type.Optional(Type.Integer({ minimum: 0, maximum: 20 })),
  reminderStartDaysBeforeDue: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 60 }), Type.Null()])),
};
const CreateBody = Type.Object(fields, { additionalProperties: false });
const UpdateBody = Type.Partial(Type.Object({ ...fields, archived: Type.Boolean() }, { additionalProperties: false }));

const NullableInt = Type.Union([Type.Integer(), Type.Null()]);
const TemplateView = Type.Object(
  {
    id: Uuid,
    name: Type.String(),
    message: Type.Union([Type.String(), Type.Null()]),
    items: Type.Array(
      Type.Object(
        { label: Type.String(), description: Type.Union([Type.String(), Type.Null()]), required: Type.Boolean() },
        { additionalProperties: false },
      ),
    ),
    expiresInDays: NullableInt,
    reminderEveryDays: NullableInt,
    reminderMax: Type.Integer(),
    reminderStartDaysBeforeDue: NullableInt,
    archivedAt: NullableTimestamp,
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { additionalProperties: false },
);

type ItemInput = { label: string; description?: string | null | undefined; required?: boolean | undefined };
const normaliseItems = (items: ItemInput[]) =>
  items.map((item) => ({ label: item.label, description: item.description ?? null, required: item.required ?? true }));

type TemplateRow = {
  id: string;
  name: string;
  message: string | null;
  items: unknown;
  expiresInDays: number | null;
  reminderEveryDays: number | null;
  reminderMax: number;
  reminderStartDaysBeforeDue: number | null;
  archivedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
};

function templateView(t: TemplateRow) {
  return {
    id: t.id,
    name: t.name,
    message: t.message,
    items: normaliseItems(t.items as ItemInput[]),
    expiresInDays: t.expiresInDays,
    reminderEveryDays: t.reminderEveryDays,
    reminderMax: t.reminderMax,
    reminderStartDaysBeforeDue: t.reminderStartDaysBeforeDue,
    archivedAt: iso(t.archivedAt),
    createdAt: t.createdAt.toISOString(),
    updatedAt: t.updatedAt.toISOString(),
  };
}

const TemplateParams = Type.Object({ templateId: Uuid }, { additionalProperties: false });

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
