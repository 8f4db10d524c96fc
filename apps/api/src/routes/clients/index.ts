import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { notFound } from '../../errors.ts';
import { firmDb, tenantDb } from '../../plugins/unit-of-work.ts';
import { pagedBody, pageQuery, pager, readPage } from '../pagination.ts';
import { ClientParams, errors, NonBlank, Timestamp, Uuid } from '../schemas.ts';

const ClientStatus = Type.Union([Type.Literal('active'), Type.Literal('archived')]);
export const ClientView = Type.Object(
  { id: Uuid, name: Type.String(), uen: Type.Union([Type.String(), Type.Null()]), status: ClientStatus, createdAt: Timestamp },
  { additionalProperties: false },
);
const Name = NonBlank(200);
const Uen = Type.String({ pattern: '^[0-9A-Z]{9,10}$' });

function view(client: { id: string; name: string; uen: string | null; status: string; createdAt: Date }) {
  return {
    id: client.id,
    name: client.name,
    uen: client.uen,
    status: client.status === 'archived' ? ('archived' as const) : ('active' as const),
    createdAt: client.createdAt.toISOString(),
  };
}

const CLIENTS_PAGE = pager('listClients', 'asc', [{ field: 'name', kind: 'text' }]);

const clients: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/api/clients',
    {
      config: { routeScope: 'staff-only' },
      schema: {
        operationId: 'listClients',
        summary: 'List the clients the caller serves (by name, a page at a time)',
        querystring: pageQuery({}),
        response: { 200: pagedBody({ clients: Type.Array(ClientView) }), ...errors },
      },
    },
    async (request, reply) => {
      const db = firmDb(request);
      // RLS admits exactly the clients this staff member may see (admins: all). Decoy tenants
      // are left out: nothing legitimate lists them (docs/detection.md).
      const rows = await readPage(request, reply, CLIENTS_PAGE, (page) =>
        db.client.findMany({ ...page, where: { AND: [{ isDecoy: false }, page.where] } }),
      );
      // One cross_tenant_read per client whose data this list returned.
      await request.auditMany(
        rows.map((client) => ({
          eventType: 'cross_tenant_read',
          clientId: client.id,
          entityType: 'client',
          entityId: client.id,
          data: { route: 'GET /api/clients' },
        })),
      );
      return { clients: rows.map(view) };
    },
  );

  app.post(
    '/api/clients',
    {
      config: { routeScope: 'staff-only', adminOnly: true },
      schema: {
        operationId: 'createClient',
        summary: 'Create a client (admin)',
        body: Type.Object({ name: Name, uen: Type.Optional(Uen) }, { additionalProperties: false }),
        response: { 201: ClientView, ...errors },
      },
    },
    async (request, reply) => {
      const client = await firmDb(request).client.create({ data: { name: request.body.name, uen: request.body.uen ?? null } });
      await request.audit({ eventType: 'client.created', entityType: 'client', entityId: client.id, clientId: client.id });
      return reply.code(201).send(view(client));
    },
  );

  app.get(
    '/api/clients/:clientId',
    {
      config: { routeScope: 'client-scoped' },
      schema: { operationId: 'getClient', summary: 'Get a client', params: ClientParams, response: { 200: ClientView, ...errors } },
    },
    async (request) => {
      const client = await tenantDb(request).client.findUnique({ where: { id: request.params.clientId } });
      if (!client) throw notFound();
      await request.audit({ eventType: 'client.read', entityType: 'client', entityId: client.id });
      return view(client);
    },
  );

  app.patch(
    '/api/clients/:clientId',
    {
      config: { routeScope: 'client-scoped', adminOnly: true },
      schema: {
        operationId: 'updateClient',
        summary: 'Update a client (admin)',
        params: ClientParams,
        body: Type.Object(
          { name: Type.Optional(Name), uen: Type.Optional(Uen), status: Type.Optional(ClientStatus) },
          { additionalProperties: false },
        ),
        response: { 200: ClientView, ...errors },
      },
    },
    async (request) => {
      const db = tenantDb(request);
      const { count } = await db.client.updateMany({
        where: { id: request.params.clientId },
        data: { ...request.body, updatedAt: new Date() },
      });
      if (count === 0) throw notFound();
      const client = await db.client.findUniqueOrThrow({ where: { id: request.params.clientId } });
      await request.audit({
        eventType: 'client.updated',
        entityType: 'client',
        entityId: client.id,
        data: { fields: Object.keys(request.body) },
      });
      return view(client);
    },
  );
};

export default clients;
