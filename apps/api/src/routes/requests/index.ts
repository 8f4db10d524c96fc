import { hashToken, newToken } from '@breezycorp/db';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import type { Config } from '../../config.ts';
import { AppError, notFound } from '../../errors.ts';
import { firmDb, tenantDb } from '../../plugins/unit-of-work.ts';
import type { Mailer } from '../../services/mailer.ts';
import { staffActor } from '../../tenancy/actors.ts';
import { errors, NullableTimestamp, Timestamp, Uuid } from '../schemas.ts';

const RequestStatus = Type.Union([Type.Literal('open'), Type.Literal('completed'), Type.Literal('cancelled')]);
const ItemStatus = Type.Union([Type.Literal('pending'), Type.Literal('submitted'), Type.Literal('accepted'), Type.Literal('rejected')]);
type RequestStatusValue = 'open' | 'completed' | 'cancelled';
type ItemStatusValue = 'pending' | 'submitted' | 'accepted' | 'rejected';

export const ItemView = Type.Object(
  {
    id: Uuid,
    requestId: Uuid,
    position: Type.Integer(),
    label: Type.String(),
    description: Type.Union([Type.String(), Type.Null()]),
    status: ItemStatus,
    reviewComment: Type.Union([Type.String(), Type.Null()]),
    reviewedBy: Type.Union([Uuid, Type.Null()]),
    reviewedAt: NullableTimestamp,
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { additionalProperties: false },
);

const requestFields = {
  id: Uuid,
  clientId: Uuid,
  cycleId: Uuid,
  contactId: Uuid,
  status: RequestStatus,
  message: Type.Union([Type.String(), Type.Null()]),
  expiresAt: Timestamp,
  sentAt: Timestamp,
  createdAt: Timestamp,
  updatedAt: Timestamp,
};
/** A request as staff see it. Never its token hash: the token exists only in the one response that created it. */
const RequestView = Type.Object({ ...requestFields, itemCount: Type.Integer() }, { additionalProperties: false });
const RequestWithItems = Type.Object({ ...requestFields, items: Type.Array(ItemView) }, { additionalProperties: false });
const MagicLink = Type.Object({ token: Type.String(), url: Type.String(), expiresAt: Timestamp }, { additionalProperties: false });
const RequestWithLink = Type.Object(
  { ...requestFields, items: Type.Array(ItemView), magicLink: MagicLink },
  { additionalProperties: false },
);

export type ItemRow = {
  id: string;
  cycleRequestId: string;
  position: number;
  label: string;
  description: string | null;
  status: string;
  reviewComment: string | null;
  reviewedBy: string | null;
  reviewedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
};

type RequestRow = {
  id: string;
  clientId: string;
  cycleId: string;
  contactId: string;
  status: string;
  message: string | null;
  expiresAt: Date;
  sentAt: Date;
  createdAt: Date;
  updatedAt: Date;
};

export function itemView(item: ItemRow) {
  return {
    id: item.id,
    requestId: item.cycleRequestId,
    position: item.position,
    label: item.label,
    description: item.description,
    status: item.status as ItemStatusValue,
    reviewComment: item.reviewComment,
    reviewedBy: item.reviewedBy,
    reviewedAt: item.reviewedAt ? item.reviewedAt.toISOString() : null,
    createdAt: item.createdAt.toISOString(),
    updatedAt: item.updatedAt.toISOString(),
  };
}

function requestView(r: RequestRow) {
  return {
    id: r.id,
    clientId: r.clientId,
    cycleId: r.cycleId,
    contactId: r.contactId,
    status: r.status as RequestStatusValue,
    message: r.message,
    expiresAt: r.expiresAt.toISOString(),
    sentAt: r.sentAt.toISOString(),
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  };
}

/** Selects every column a view shows, and never token_hash. */
const REQUEST_COLUMNS = {
  id: true,
  clientId: true,
  cycleId: true,
  contactId: true,
  status: true,
  message: true,
  expiresAt: true,
  sentAt: true,
  createdAt: true,
  updatedAt: true,
} as const;

const CycleParams = Type.Object({ clientId: Uuid, cycleId: Uuid }, { additionalProperties: false });
const RequestParams = Type.Object({ clientId: Uuid, requestId: Uuid }, { additionalProperties: false });
const ItemParams = Type.Object({ clientId: Uuid, requestId: Uuid, itemId: Uuid }, { additionalProperties: false });

const CreateBody = Type.Object(
  {
    contactId: Uuid,
    items: Type.Array(
      Type.Object(
        { label: Type.String({ minLength: 1, maxLength: 200 }), description: Type.Optional(Type.String({ maxLength: 2000 })) },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 50 },
    ),
    message: Type.Optional(Type.String({ maxLength: 5000 })),
    expiresInDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 60 })),
  },
  { additionalProperties: false },
);

const ReviewBody = Type.Object(
  {
    decision: Type.Union([Type.Literal('accept'), Type.Literal('reject')]),
    comment: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
  },
  { additionalProperties: false },
);

/** A fresh magic link: the token leaves the server once, in this response and the mail. */
function newMagicLink(config: Config, ttlMs: number) {
  const token = newToken('magicLink');
  const expiresAt = new Date(Date.now() + ttlMs);
  return { token, tokenHash: hashToken(token), expiresAt, url: `${config.publicBaseUrl}/portal#token=${token}` };
}

function linkMessage(to: string, url: string, expiresAt: Date, message: string | null) {
  return {
    to,
    subject: 'Documents requested by your accountant',
    text: [
      message ?? 'Your accountant has asked you to upload some documents.',
      '',
      `Open this link to see the list and upload them: ${url}`,
      `The link works until ${expiresAt.toISOString()}. Do not forward it: anyone holding it can upload on your behalf.`,
    ].join('\n'),
  };
}

/** Responses carrying a magic link must not be cached anywhere. */
function noStore(reply: FastifyReply) {
  reply.header('cache-control', 'no-store');
}

const requests: FastifyPluginAsyncTypebox<{ config: Config; mailer: Mailer }> = async (app, { config, mailer }) => {
  app.post(
    '/api/clients/:clientId/cycles/:cycleId/requests',
    {
      config: { routeScope: 'client-scoped' },
      schema: { params: CycleParams, body: CreateBody, response: { 201: RequestWithLink, ...errors } },
    },
    async (request, reply) => {
      const db = tenantDb(request);
      const { clientId, cycleId } = request.params;
      const { contactId, items, message, expiresInDays } = request.body;
      // Checked up front: another client's cycle or contact is simply not found (404), never a foreign-key error.
      const cycle = await db.cycle.findUnique({ where: { id: cycleId }, select: { id: true, status: true } });
      if (!cycle) throw notFound();
      const contact = await db.contact.findFirst({ where: { id: contactId, deletedAt: null }, select: { id: true, email: true } });
      if (!contact) throw notFound();
      if (cycle.status === 'closed') throw new AppError('conflict', 'This cycle is closed');

      const link = newMagicLink(config, expiresInDays ? expiresInDays * 86_400_000 : config.magicLinkTtlMs);
      const created = await db.cycleRequest.create({
        data: {
          clientId,
          cycleId,
          contactId,
          tokenHash: link.tokenHash,
          expiresAt: link.expiresAt,
          message: message ?? null,
          createdBy: staffActor(request).staffUserId,
          sentAt: new Date(),
        },
        select: REQUEST_COLUMNS,
      });
      await db.requestItem.createMany({
        data: items.map((item, position) => ({
          clientId,
          cycleRequestId: created.id,
          position,
          label: item.label,
          description: item.description ?? null,
        })),
      });
      const itemRows = await db.requestItem.findMany({ where: { cycleRequestId: created.id }, orderBy: { position: 'asc' } });
      await request.auditMany([
        {
          eventType: 'request.created',
          entityType: 'cycle_request',
          entityId: created.id,
          data: { cycleId, contactId, itemCount: itemRows.length },
        },
        {
          eventType: 'magic_link.created',
          entityType: 'cycle_request',
          entityId: created.id,
          data: { contactId, expiresAt: link.expiresAt.toISOString() },
        },
      ]);
      // Last, so a failure to queue the mail rolls the request back instead of leaving an unsent one.
      await mailer.send(linkMessage(contact.email, link.url, link.expiresAt, created.message));
      noStore(reply);
      return reply.code(201).send({
        ...requestView(created),
        items: itemRows.map(itemView),
        magicLink: { token: link.token, url: link.url, expiresAt: link.expiresAt.toISOString() },
      });
    },
  );

  app.get(
    '/api/clients/:clientId/cycles/:cycleId/requests',
    {
      config: { routeScope: 'client-scoped' },
      schema: {
        params: CycleParams,
        response: { 200: Type.Object({ requests: Type.Array(RequestView) }, { additionalProperties: false }), ...errors },
      },
    },
    async (request) => {
      const db = tenantDb(request);
      const cycle = await db.cycle.findUnique({ where: { id: request.params.cycleId }, select: { id: true } });
      if (!cycle) throw notFound();
      const rows = await db.cycleRequest.findMany({
        where: { cycleId: cycle.id },
        select: REQUEST_COLUMNS,
        orderBy: { createdAt: 'asc' },
      });
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
        summary: 'Open requests and outstanding items per client served (the console home)',
        response: {
          200: Type.Object(
            {
              clients: Type.Array(
                Type.Object(
                  { clientId: Uuid, openRequests: Type.Integer({ minimum: 0 }), outstandingItems: Type.Integer({ minimum: 0 }) },
                  { additionalProperties: false },
                ),
              ),
            },
            { additionalProperties: false },
          ),
          ...errors,
        },
      },
    },
    async (request) => {
      // The console's home: per client served, open requests and the items still to do or rejected.
      // RLS admits only this staff member's clients (admins: all).
      const db = firmDb(request);
      const open = await db.cycleRequest.groupBy({ by: ['clientId'], where: { status: 'open' }, _count: { _all: true } });
      const outstanding = await db.requestItem.groupBy({
        by: ['clientId'],
        where: { status: { in: ['pending', 'rejected'] }, request: { status: 'open' } },
        _count: { _all: true },
      });
      const byClient = new Map(open.map((row) => [row.clientId, { openRequests: row._count._all, outstandingItems: 0 }]));
      for (const row of outstanding) {
        const entry = byClient.get(row.clientId) ?? { openRequests: 0, outstandingItems: 0 };
        byClient.set(row.clientId, { ...entry, outstandingItems: row._count._all });
      }
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
      schema: { params: RequestParams, response: { 200: RequestWithItems, ...errors } },
    },
    async (request) => {
      const db = tenantDb(request);
      const found = await db.cycleRequest.findUnique({ where: { id: request.params.requestId }, select: REQUEST_COLUMNS });
      if (!found) throw notFound();
      const items = await db.requestItem.findMany({ where: { cycleRequestId: found.id }, orderBy: { position: 'asc' } });
      await request.audit({ eventType: 'request.read', entityType: 'cycle_request', entityId: found.id });
      return { ...requestView(found), items: items.map(itemView) };
    },
  );

  app.post(
    '/api/clients/:clientId/requests/:requestId/resend',
    {
      config: { routeScope: 'client-scoped' },
      schema: {
        params: RequestParams,
        response: {
          200: Type.Object({ ...requestFields, magicLink: MagicLink }, { additionalProperties: false }),
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const db = tenantDb(request);
      const found = await db.cycleRequest.findUnique({
        where: { id: request.params.requestId },
        select: { id: true, status: true, contactId: true, message: true },
      });
      if (!found) throw notFound();
      if (found.status !== 'open') throw new AppError('conflict', `This request is ${found.status}`);
      const contact = await db.contact.findFirst({ where: { id: found.contactId, deletedAt: null }, select: { email: true } });
      if (!contact) throw new AppError('conflict', "This request's contact has been removed");

      // A new hash replaces the old one: the previous link stops resolving at once.
      const link = newMagicLink(config, config.magicLinkTtlMs);
      const now = new Date();
      await db.cycleRequest.updateMany({
        where: { id: found.id },
        data: { tokenHash: link.tokenHash, expiresAt: link.expiresAt, sentAt: now, updatedAt: now },
      });
      // Sessions opened with the old link end with it: a rotation is how a leaked link is cut off.
      const revoked = await db.contactSession.updateMany({
        where: { cycleRequestId: found.id, revokedAt: null },
        data: { revokedAt: now },
      });
      const updated = await db.cycleRequest.findUniqueOrThrow({ where: { id: found.id }, select: REQUEST_COLUMNS });
      await request.audit({
        eventType: 'magic_link.rotated',
        entityType: 'cycle_request',
        entityId: found.id,
        data: { contactId: found.contactId, expiresAt: link.expiresAt.toISOString(), sessionsRevoked: revoked.count },
      });
      await mailer.send(linkMessage(contact.email, link.url, link.expiresAt, found.message));
      noStore(reply);
      return {
        ...requestView(updated),
        magicLink: { token: link.token, url: link.url, expiresAt: link.expiresAt.toISOString() },
      };
    },
  );

  app.post(
    '/api/clients/:clientId/requests/:requestId/cancel',
    {
      config: { routeScope: 'client-scoped' },
      schema: { params: RequestParams, response: { 200: RequestWithItems, ...errors } },
    },
    async (request) => {
      const db = tenantDb(request);
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
      const items = await db.requestItem.findMany({ where: { cycleRequestId: found.id }, orderBy: { position: 'asc' } });
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
      schema: { params: ItemParams, body: ReviewBody, response: { 200: ItemView, ...errors } },
    },
    async (request) => {
      const db = tenantDb(request);
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
      const updated = await db.requestItem.findUniqueOrThrow({ where: { id: item.id } });
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
