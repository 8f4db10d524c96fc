import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { notFound } from '../../errors.ts';
import { firmDb } from '../../plugins/unit-of-work.ts';
import { clientScope } from '../client-route.ts';
import { pagedBody, pageQuery, pager, readPage } from '../pagination.ts';
import { ClientParams, errors } from '../schemas.ts';
import { ClientView, CreateClientBody, clientView, UpdateClientBody } from './schema.ts';

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
      return { clients: rows.map(clientView) };
    },
  );

  app.post(
    '/api/clients',
    {
      config: { routeScope: 'staff-only', adminOnly: true },
      schema: {
        operationId: 'createClient',
        summary: 'Create a client (admin)',
        body: CreateClientBody,
        response: { 201: ClientView, ...errors },
      },
    },
    async (request, reply) => {
      const client = await firmDb(request).client.create({ data: { name: request.body.name, uen: request.body.uen ?? null } });
      await request.audit({ eventType: 'client.created', entityType: 'client', entityId: client.id, clientId: client.id });
      return reply.code(201).send(clientView(client));
    },
  );

  app.get(
    '/api/clients/:clientId',
    {
      config: { routeScope: 'client-scoped' },
      schema: { operationId: 'getClient', summary: 'Get a client', params: ClientParams, response: { 200: ClientView, ...errors } },
    },
    async (request) => {
      const { db, clientId } = clientScope(request);
      const client = await db.client.findUnique({ where: { id: clientId } });
      if (!client) throw notFound();
      await request.audit({ eventType: 'client.read', entityType: 'client', entityId: client.id });
      return clientView(client);
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
        body: UpdateClientBody,
        response: { 200: ClientView, ...errors },
      },
    },
    async (request) => {
      const { db, clientId } = clientScope(request);
      const { count } = await db.client.updateMany({
        where: { id: clientId },
        data: { ...request.body, updatedAt: new Date() },
      });
      if (count === 0) throw notFound();
      const client = await db.client.findUniqueOrThrow({ where: { id: clientId } });
      await request.audit({
        eventType: 'client.updated',
        entityType: 'client',
        entityId: client.id,
        data: { fields: Object.keys(request.body) },
      });
      return clientView(client);
    },
  );
};

export default clients;
