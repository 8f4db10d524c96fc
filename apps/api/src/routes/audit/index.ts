import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Static } from 'typebox';
import { AppError } from '../../errors.ts';
import { firmDb } from '../../plugins/unit-of-work.ts';
import { clientScope } from '../client-route.ts';
import { pager, readPage } from '../pagination.ts';
import { ClientParams, errors } from '../schemas.ts';
import { AuditList, AuditQuery, auditEventView } from './schema.ts';

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
        clientScope(request).db.auditEvent.findMany({ ...page, where: { AND: [where, page.where] } }),
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
