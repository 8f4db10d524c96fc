import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError, notFound } from '../../errors.ts';
import { firmDb } from '../../plugins/unit-of-work.ts';
import { messageIdOf } from '../../services/delivery/worker.ts';
import { cadenceOf, createDocumentRequest, type TemplateItem } from '../../services/document-requests.ts';
import { mintMagicLink } from '../../services/magic-links.ts';
import { enqueueContactMessage } from '../../services/outbox.ts';
import { firstReminderAt } from '../../services/reminders.ts';
import { staffActor } from '../../tenancy/actor.ts';
import { clientScope } from '../client-route.ts';
import type { RouteOptions } from '../index.ts';
import { pagedBody, pageQuery, pager, readPage } from '../pagination.ts';
import { CycleParams, errors, iso, noStore, RequestItemParams, RequestParams } from '../schemas.ts';
import {
  CreateBody,
  DELIVERY_EVENT_TYPES,
  DeliveryHistory,
  HandoverLink,
  ITEM_COLUMNS,
  ItemView,
  itemView,
  MESSAGE_COLUMNS,
  messageView,
  OutstandingClient,
  REQUEST_COLUMNS,
  RemindersBody,
  RequestView,
  RequestWithItems,
  ResentRequest,
  ReviewBody,
  requestView,
} from './schema.ts';

const REQUESTS_PAGE = pager('listRequests', 'asc', [{ field: 'createdAt', kind: 'instant', column: 'cycle_requests.created_at' }]);
// The console home: a page of the clients served that have open requests, by name.
const OUTSTANDING_PAGE = pager('listOutstandingItems', 'asc', [{ field: 'name', kind: 'text' }]);

/** What routes/index.ts hands this module: the config (link lifetime, mail domain, public URL), no Database. */
export const routeDeps = ['config'] as const;

const requests: FastifyPluginAsyncTypebox<RouteOptions<typeof routeDeps>> = async (app, { config }) => {
  app.post(
    '/api/clients/:clientId/cycles/:cycleId/requests',
    {
      config: { routeScope: 'client-scoped' },
      schema: {
        operationId: 'createRequest',
        summary: 'Send a request (checklist + magic link) to a contact',
        params: CycleParams,
        body: CreateBody,
        response: { 201: RequestWithItems, ...errors },
      },
    },
    async (request, reply) => {
      const { db, clientId } = clientScope(request);
      const { cycleId } = request.params;
      const { contactId, templateId } = request.body;
      // Checked up front: another client's cycle or contact is simply not found (404), never a foreign-key error.
      const cycle = await db.cycle.findUnique({ where: { id: cycleId }, select: { id: true, status: true, dueDate: true } });
      if (!cycle) throw notFound();
      const contact = await db.contact.findFirst({ where: { id: contactId, deletedAt: null }, select: { id: true, email: true } });
      if (!contact) throw notFound();
      if (cycle.status === 'closed') throw new AppError('conflict', 'This cycle is closed');
      const template = templateId ? await db.requestTemplate.findFirst({ where: { id: templateId, archivedAt: null } }) : null;
      if (templateId && !template) throw notFound();

      // A template's fields are copied, not referenced: editing the template later changes no sent request.
      const items: TemplateItem[] | undefined = request.body.items ?? (template?.items as TemplateItem[] | undefined);
      if (!items || items.length === 0) throw new AppError('validation_failed', 'Give items, or a template that has them');
      const message = request.body.message ?? template?.message ?? null;
      const expiresInDays = request.body.expiresInDays ?? template?.expiresInDays ?? null;
      const cadence = request.body.reminders
        ? {
            everyDays: request.body.reminders.everyDays,
            max: request.body.reminders.max,
            startDaysBeforeDue: request.body.reminders.startDaysBeforeDue ?? null,
          }
        : cadenceOf(template);
      const { requestId, outboxId } = await createDocumentRequest(db, {
        clientId,
        cycle: { id: cycle.id, dueDate: cycle.dueDate },
        contact,
        items,
        message,
        expiresInMs: expiresInDays ? expiresInDays * 86_400_000 : config.magicLinkTtlMs,
        cadence,
        templateId: template?.id ?? null,
        createdBy: staffActor(request).staffUserId,
        reason: 'request_created',
      });
      const created = await db.cycleRequest.findUniqueOrThrow({ where: { id: requestId }, select: REQUEST_COLUMNS });
      const itemRows = await db.requestItem.findMany({
        where: { cycleRequestId: created.id },
        orderBy: { position: 'asc' },
        select: ITEM_COLUMNS,
      });
      await request.auditMany([
        {
          eventType: 'request.created',
          entityType: 'cycle_request',
          entityId: created.id,
          data: { cycleId, contactId, itemCount: itemRows.length, ...(template && { templateId: template.id }) },
        },
        {
          eventType: 'magic_link.created',
          entityType: 'cycle_request',
          entityId: created.id,
          data: { contactId, expiresAt: iso(created.expiresAt), outboxId },
        },
      ]);
      return reply.code(201).send({ ...requestView(created), items: itemRows.map(itemView) });
    },
  );

  app.get(
    '/api/clients/:clientId/cycles/:cycleId/requests',
    {
      config: { routeScope: 'client-scoped' },
      schema: {
        operationId: 'listRequests',
        summary: "List a cycle's requests (oldest first, a page at a time)",
        params: CycleParams,
        querystring: pageQuery({}),
        response: { 200: pagedBody({ requests: Type.Array(RequestView) }), ...errors },
      },
    },
    async (request, reply) => {
      const { db } = clientScope(request);
      const cycle = await db.cycle.findUnique({ where: { id: request.params.cycleId }, select: { id: true } });
      if (!cycle) throw notFound();
      const rows = await readPage(request, reply, REQUESTS_PAGE, (page) =>
        db.cycleRequest.findMany({ ...page, where: { AND: [{ cycleId: cycle.id }, page.where] }, select: REQUEST_COLUMNS }),
      );
      const counts = await db.requestItem.groupBy({
        by: ['cycleRequestId'],
        where: { cycleRequestId: { in: rows.map((r) => r.id) } },
        _count: { _all: true },
      });
      const countOf = new Map(counts.map((c) => [c.cycleRequestId, c._count._all]));
      await request.auditMany(
        rows.map((r) => ({ eventType: 'request.read', entityType: 'cycle_request', entityId: r.id, data: { via: 'list' } })),
      );
      return { requests: rows.map((r) => ({ ...requestView(r), itemCount: countOf.get(r.id) ?? 0 })) };
    },
  );

  app.get(
    '/api/outstanding-items',
    {
      config: { routeScope: 'staff-only' },
      schema: {
        operationId: 'listOutstandingItems',
        summary: 'Open requests and outstanding items per client served (the console home; by client name, a page at a time)',
        querystring: pageQuery({}),
        response: {
          200: pagedBody({
            clients: Type.Array(OutstandingClient),
          }),
          ...errors,
        },
      },
    },
    async (request, reply) => {
      // The console's home: per client served, open requests and the items still to do or rejected.
      // RLS admits only this staff member's clients (admins: all). A page of the clients with an
      // open request (outstanding items belong to open requests), then the counts of those.
      const db = firmDb(request);
      const page = await readPage(request, reply, OUTSTANDING_PAGE, (args) =>
        db.client.findMany({
          ...args,
          where: { AND: [{ requests: { some: { status: 'open' } } }, args.where] },
          select: { id: true, name: true },
        }),
      );
      const clientIds = page.map((client) => client.id);
      const open = await db.cycleRequest.groupBy({
        by: ['clientId'],
        where: { status: 'open', clientId: { in: clientIds } },
        _count: { _all: true },
      });
      const outstanding = await db.requestItem.groupBy({
        by: ['clientId'],
        where: { clientId: { in: clientIds }, status: { in: ['pending', 'rejected'] }, request: { status: 'open' } },
        _count: { _all: true },
      });
      const openOf = new Map(open.map((row) => [row.clientId, row._count._all]));
      const outstandingOf = new Map(outstanding.map((row) => [row.clientId, row._count._all]));
      const byClient = new Map(
        clientIds.map((clientId) => [
          clientId,
          { openRequests: openOf.get(clientId) ?? 0, outstandingItems: outstandingOf.get(clientId) ?? 0 },
        ]),
      );
      await request.auditMany(
        [...byClient.keys()].map((clientId) => ({
          eventType: 'cross_tenant_read',
          clientId,
          entityType: 'client',
          entityId: clientId,
          data: { route: 'GET /api/outstanding-items' },
        })),
      );
      return { clients: [...byClient].map(([clientId, counts]) => ({ clientId, ...counts })) };
    },
  );

  app.get(
    '/api/clients/:clientId/requests/:requestId',
    {
      config: { routeScope: 'client-scoped' },
      schema: {
        operationId: 'getRequest',
        summary: 'Get a request with its checklist',
        params: RequestParams,
        response: { 200: RequestWithItems, ...errors },
      },
    },
    async (request) => {
      const { db } = clientScope(request);
      const found = await db.cycleRequest.findUnique({ where: { id: request.params.requestId }, select: REQUEST_COLUMNS });
      if (!found) throw notFound();
      const items = await db.requestItem.findMany({
        where: { cycleRequestId: found.id },
        orderBy: { position: 'asc' },
        select: ITEM_COLUMNS,
      });
      await request.audit({ eventType: 'request.read', entityType: 'cycle_request', entityId: found.id });
      return { ...requestView(found), items: items.map(itemView) };
    },
  );

  app.post(
    '/api/clients/:clientId/requests/:requestId/resend',
    {
      config: { routeScope: 'client-scoped' },
      schema: {
        operationId: 'resendRequest',
        summary: 'Send a new magic link (the old one stops working)',
        params: RequestParams,
        response: {
          200: ResentRequest,
          ...errors,
        },
      },
    },
    async (request) => {
      const { db, clientId } = clientScope(request);
      const found = await db.cycleRequest.findUnique({
        where: { id: request.params.requestId },
        select: { id: true, status: true, contactId: true },
      });
      if (!found) throw notFound();
      if (found.status !== 'open') throw new AppError('conflict', `This request is ${found.status}`);
      const contact = await db.contact.findFirst({ where: { id: found.contactId, deletedAt: null }, select: { email: true } });
      if (!contact) throw new AppError('conflict', "This request's contact has been removed");

      // The old link stops resolving at once; the new one is minted when the mail is sent.
      const now = new Date();
      const expiresAt = new Date(now.getTime() + config.magicLinkTtlMs);
      await db.cycleRequest.updateMany({
        where: { id: found.id },
        data: { tokenHash: null, linkExchangedAt: null, expiresAt, sentAt: now, updatedAt: now },
      });
      // Sessions opened with the old link end with it: a rotation is how a leaked link is cut off.
      const revoked = await db.contactSession.updateMany({
        where: { cycleRequestId: found.id, revokedAt: null },
        data: { revokedAt: now },
      });
      const queued = await enqueueContactMessage(db, {
        clientId,
        cycleRequestId: found.id,
        contactId: found.contactId,
        to: contact.email,
        kind: 'magic_link',
        reason: 'resend',
      });
      const updated = await db.cycleRequest.findUniqueOrThrow({ where: { id: found.id }, select: REQUEST_COLUMNS });
      await request.audit({
        eventType: 'magic_link.rotated',
        entityType: 'cycle_request',
        entityId: found.id,
        data: { contactId: found.contactId, expiresAt: iso(expiresAt), sessionsRevoked: revoked.count, outboxId: queued.id },
      });
      return { ...requestView(updated), outboxMessageId: queued.id };
    },
  );

  app.get(
    '/api/clients/:clientId/requests/:requestId/messages',
    {
      config: { routeScope: 'client-scoped' },
      schema: {
        operationId: 'listRequestMessages',
        summary: 'Outgoing messages of a request and their delivery status',
        params: RequestParams,
        response: {
          200: DeliveryHistory,
          ...errors,
        },
      },
    },
    async (request) => {
      const { db } = clientScope(request);
      const found = await db.cycleRequest.findUnique({ where: { id: request.params.requestId }, select: { id: true } });
      if (!found) throw notFound();
      const messages = await db.outboxMessage.findMany({
        where: { cycleRequestId: found.id },
        orderBy: { createdAt: 'asc' },
        take: 500,
        select: MESSAGE_COLUMNS,
      });
      const events = await db.auditEvent.findMany({
        where: { entityType: 'cycle_request', entityId: found.id, eventType: { in: DELIVERY_EVENT_TYPES } },
        orderBy: { occurredAt: 'asc' },
        take: 500,
        select: { eventType: true, occurredAt: true, eventDataJson: true },
      });
      await request.audit({ eventType: 'request.read', entityType: 'cycle_request', entityId: found.id, data: { via: 'messages' } });
      return {
        messages: messages.map((m) => messageView(m, messageIdOf(m.id, config.mail.messageIdDomain))),
        events: events.map((e) => ({
          eventType: e.eventType,
          occurredAt: iso(e.occurredAt),
          data: (e.eventDataJson ?? {}) as Record<string, unknown>,
        })),
      };
    },
  );

  app.patch(
    '/api/clients/:clientId/requests/:requestId/reminders',
    {
      config: { routeScope: 'client-scoped' },
      schema: {
        operationId: 'updateRequestReminders',
        summary: "Set, pause or stop a request's reminders",
        params: RequestParams,
        body: RemindersBody,
        response: { 200: RequestView, ...errors },
      },
    },
    async (request) => {
      const { db } = clientScope(request);
      const found = await db.cycleRequest.findUnique({
        where: { id: request.params.requestId },
        select: { ...REQUEST_COLUMNS, cycle: { select: { dueDate: true } } },
      });
      if (!found) throw notFound();
      if (found.status !== 'open') throw new AppError('conflict', `This request is ${found.status}`);
      const body = request.body;
      const cadence = {
        everyDays: body.everyDays ?? found.reminderEveryDays,
        max: body.max ?? found.reminderMax,
        startDaysBeforeDue: body.startDaysBeforeDue === undefined ? found.reminderStartDaysBeforeDue : body.startDaysBeforeDue,
      };
      const pausedUntil =
        body.pausedUntil === undefined ? found.remindersPausedUntil : body.pausedUntil ? new Date(body.pausedUntil) : null;
      const now = new Date();
      const cadenceChanged = body.everyDays !== undefined || body.max !== undefined || body.startDaysBeforeDue !== undefined;
      // A changed cadence starts over from now; a pause alone keeps the schedule (the scheduler waits it out).
      let nextReminderAt = found.nextReminderAt;
      if (cadenceChanged || (found.nextReminderAt === null && found.remindersSent < cadence.max)) {
        nextReminderAt = cadence.max > found.remindersSent ? firstReminderAt(cadence, now, found.cycle.dueDate) : null;
      }
      if (pausedUntil && nextReminderAt && nextReminderAt < pausedUntil) nextReminderAt = pausedUntil;
      await db.cycleRequest.updateMany({
        where: { id: found.id },
        data: {
          reminderEveryDays: cadence.everyDays,
          reminderMax: cadence.max,
          reminderStartDaysBeforeDue: cadence.startDaysBeforeDue,
          remindersPausedUntil: pausedUntil,
          nextReminderAt,
          remindersStoppedReason: nextReminderAt ? null : found.remindersStoppedReason,
          updatedAt: now,
        },
      });
      const updated = await db.cycleRequest.findUniqueOrThrow({ where: { id: found.id }, select: REQUEST_COLUMNS });
      const itemCount = await db.requestItem.count({ where: { cycleRequestId: found.id } });
      await request.audit({
        eventType: 'request.reminders_updated',
        entityType: 'cycle_request',
        entityId: found.id,
        data: { ...body },
      });
      return { ...requestView(updated), itemCount };
    },
  );

  app.post(
    '/api/clients/:clientId/requests/:requestId/handover-link',
    {
      config: { routeScope: 'client-scoped' },
      schema: {
        operationId: 'createHandoverLink',
        summary: 'Mint a link to hand over by phone (audited)',
        params: RequestParams,
        response: {
          200: HandoverLink,
          ...errors,
        },
      },
    },
    async (request, reply) => {
      // The one response that carries a link: an explicit, audited staff action for handing a
      // link over by phone or in person. It replaces the current link, like any new link.
      const { db } = clientScope(request);
      const found = await db.cycleRequest.findUnique({
        where: { id: request.params.requestId },
        select: { id: true, status: true, contactId: true, expiresAt: true },
      });
      if (!found) throw notFound();
      if (found.status !== 'open' || found.expiresAt <= new Date()) throw new AppError('conflict', 'This request is not open');
      const contact = await db.contact.findFirst({ where: { id: found.contactId, deletedAt: null }, select: { id: true } });
      if (!contact) throw new AppError('conflict', "This request's contact has been removed");
      const token = await mintMagicLink(db, found.id);
      await request.audit({
        eventType: 'magic_link.handed_over',
        entityType: 'cycle_request',
        entityId: found.id,
        data: { contactId: found.contactId, staffUserId: staffActor(request).staffUserId },
      });
      noStore(reply);
      return { url: `${config.publicBaseUrl}/portal#token=${token}`, expiresAt: iso(found.expiresAt) };
    },
  );

  app.post(
    '/api/clients/:clientId/requests/:requestId/cancel',
    {
      config: { routeScope: 'client-scoped' },
      schema: {
        operationId: 'cancelRequest',
        summary: 'Cancel a request',
        params: RequestParams,
        response: { 200: RequestWithItems, ...errors },
      },
    },
    async (request) => {
      const { db } = clientScope(request);
      const found = await db.cycleRequest.findUnique({ where: { id: request.params.requestId }, select: { id: true, status: true } });
      if (!found) throw notFound();
      if (found.status !== 'open') throw new AppError('conflict', `This request is ${found.status}`);
      const now = new Date();
      await db.cycleRequest.updateMany({ where: { id: found.id }, data: { status: 'cancelled', updatedAt: now } });
      const revoked = await db.contactSession.updateMany({
        where: { cycleRequestId: found.id, revokedAt: null },
        data: { revokedAt: now },
      });
      const updated = await db.cycleRequest.findUniqueOrThrow({ where: { id: found.id }, select: REQUEST_COLUMNS });
      const items = await db.requestItem.findMany({
        where: { cycleRequestId: found.id },
        orderBy: { position: 'asc' },
        select: ITEM_COLUMNS,
      });
      await request.audit({
        eventType: 'request.cancelled',
        entityType: 'cycle_request',
        entityId: found.id,
        data: { sessionsRevoked: revoked.count },
      });
      return { ...requestView(updated), items: items.map(itemView) };
    },
  );

  app.post(
    '/api/clients/:clientId/requests/:requestId/items/:itemId/review',
    {
      config: { routeScope: 'client-scoped' },
      schema: {
        operationId: 'reviewItem',
        summary: 'Accept or reject a checklist item',
        params: RequestItemParams,
        body: ReviewBody,
        response: { 200: ItemView, ...errors },
      },
    },
    async (request) => {
      const { db } = clientScope(request);
      const { requestId, itemId } = request.params;
      const { decision, comment } = request.body;
      if (decision === 'reject' && !comment?.trim()) {
        throw new AppError('validation_failed', 'A comment is required when rejecting an item');
      }
      const item = await db.requestItem.findFirst({ where: { id: itemId, cycleRequestId: requestId }, select: { id: true } });
      if (!item) throw notFound();
      const now = new Date();
      await db.requestItem.updateMany({
        where: { id: item.id },
        data: {
          status: decision === 'accept' ? 'accepted' : 'rejected',
          reviewComment: comment?.trim() || null,
          reviewedBy: staffActor(request).staffUserId,
          reviewedAt: now,
          updatedAt: now,
        },
      });
      const updated = await db.requestItem.findUniqueOrThrow({ where: { id: item.id }, select: ITEM_COLUMNS });
      await request.audit({
        eventType: 'item.reviewed',
        entityType: 'request_item',
        entityId: item.id,
        data: { requestId, decision, ...(comment?.trim() && { comment: comment.trim() }) },
      });
      return itemView(updated);
    },
  );
};

export default requests;
