import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Static, Type } from 'typebox';
import { AppError } from '../../errors.ts';
import { firmDb, tenantDb } from '../../plugins/unit-of-work.ts';
import { pagedBody, pageQuery, pager, readPage } from '../pagination.ts';
import { ClientParams, errors, Timestamp, Uuid } from '../schemas.ts';

export const AuditEventView = Type.Object(
  {
    id: Uuid,
    occurredAt: Timestamp,
    eventType: Type.String(),
    actorType: Type.String(),
    actorId: Type.Union([Uuid, Type.Null()]),
    clientId: Type.Union([Uuid, Type.Null()]),
    entityType: Type.Union([Type.String(), Type.Null()]),
    entityId: Type.Union([Type.String(), Type.Null()]),
    requestId: Type.Union([Type.String(), Type.Null()]),
    /** event_data_json: written only by Spade's own code, which never puts secrets in it. */
    data: Type.Record(Type.String(), Type.Unknown()),
  },
  { additionalProperties: false },
);

const AuditQuery = pageQuery({
  actorId: Type.Optional(Uuid),
  eventType: Type.Optional(
    Type.String({ maxLength: 2_000, pattern: '^\\s*[a-z0-9_.]+\\s*(,\\s*[a-z0-9_.]+\\s*)*$', description: 'one type or a comma list' }),
  ),
  since: Type.Optional(Type.String({ format: 'date-time', description: 'inclusive' })),
  until: Type.Optional(Type.String({ format: 'date-time', description: 'exclusive' })),
});

const AuditList = pagedBody({ events: Type.Array(AuditEventView) });

/** The filters every audit listing shares; only those given narrow it (strictUndefinedChecks). */
function auditWhere(query: Static<typeof AuditQuery>) {
  const since = query.since === undefined ? undefined : new Date(query.since);
  const until = query.until === undefined ? undefined : new Date(query.until);
  if ((since && Number.isNaN(since.getTime())) || (until && Number.isNaN(until.getTime()))) {
    throw new AppError('validation_failed', 'since and until must be date-times');
  }
  const eventTypes = query.eventType
    ?.split(',')
    .map((type) => type.trim())
    .filter((type) => type.length > 0);
  return {
    ...(query.actorId !== undefined && { actorId: query.actorId }),
    ...(eventTypes !== undefined && eventTypes.length > 0 && { eventType: { in: eventTypes } }),
    ...((since || until) && { occurredAt: { ...(since && { gte: since }), ...(until && { lt: until }) } }),
  };
}

type AuditRow = {
  id: string;
  occurredAt: Date;
  eventType: string;
  actorType: string;
  actorId: string | null;
  clientId: string | null;
  entityType: string | null;
  entityId: string | null;
  requestId: string | null;
  eventDataJson: unknown;
};

function auditEventView(e: AuditRow) {
  const data = e.eventDataJson;
  return {
    id: e.id,
    occurredAt: e.occurredAt.toISOString(),
    eventType: e.eventType,
    actorType: e.actorType,
    actorId: e.actorId,
    clientId: e.clientId,
    entityType: e.entityType,
    entityId: e.entityId,
    requestId: e.requestId,
    data: data !== null && typeof data === 'object' && !Array.isArray(data) ? (data as Record<string, unknown>) : {},
  };
}

// Newest first: (occurred_at, id) descending. Two lists, two cursors: one list's cursor is refused on the other.
const CLIENT_AUDIT_PAGE = pager('listClientAuditEvents', 'desc', [{ field: 'occurredAt', kind: 'time' }]);
const FIRM_AUDIT_PAGE = pager('listAuditEvents', 'desc', [{ field: 'occurredAt', kind: 'time' }]);

/**
 * Reading the audit trail writes nothing to it. Auditing these reads would make every
 * look at the log add to the log (and a filter on the newest events see its own reads):
 * an audit-of-audit loop. Access is still limited — per client by assertClientTenant and
 * RLS, firm-wide to admins — and Fastify's request log records each request with its id.
 */
const audit: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/api/clients/:clientId/audit-events',
    {
      config: { routeScope: 'client-scoped' },
      schema: {
        operationId: 'listClientAuditEvents',
        summary: "List a client's audit trail",
        params: ClientParams,
        querystring: AuditQuery,
        response: { 200: AuditList, ...errors },
      },
    },
    async (request, reply) => {
      // The scoped client and RLS confine this to the asserted client's events; firm-wide
      // events (client_id NULL) are never among them.
      const where = auditWhere(request.query);
      const rows = await readPage(request, reply, CLIENT_AUDIT_PAGE, (page) =>
        tenantDb(request).auditEvent.findMany({ ...page, where: { AND: [where, page.where] } }),
      );
      return { events: rows.map(auditEventView) };
    },
  );

  app.get(
    '/api/audit-events',
    {
      // The firm-wide trail records decoy touches themselves; reading it is investigation, not a touch.
      config: { routeScope: 'staff-only', adminOnly: true, decoyScan: false },
      schema: {
        operationId: 'listAuditEvents',
        summary: 'List audit events across the clients the caller may see',
        querystring: AuditQuery,
        response: { 200: AuditList, ...errors },
      },
    },
    async (request, reply) => {
      // Admin only: runs as spade_firm_admin, whose policy admits every client's events and the
      // firm-wide ones (client_id NULL).
      const where = auditWhere(request.query);
      const rows = await readPage(request, reply, FIRM_AUDIT_PAGE, (page) =>
        firmDb(request).auditEvent.findMany({ ...page, where: { AND: [where, page.where] } }),
      );
      return { events: rows.map(auditEventView) };
    },
  );
};

export default audit;
