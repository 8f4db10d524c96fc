import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError, notFound, rethrowUniqueAs } from '../../errors.ts';
import { clientScope } from '../client-route.ts';
import { pagedBody, pageQuery, pager, readPage } from '../pagination.ts';
import { ClientParams, errors, Ok } from '../schemas.ts';
import { ContactParams, ContactView, CreateContactBody, contactView, UpdateContactBody } from './schema.ts';

/** The message names the field, never the value: a 409 must not echo what it collided with. */
const duplicateEmail = () => new AppError('conflict', 'A contact with this email already exists for this client');

/**
 * Translates the unique index on (client_id, lower(email)) into a 409. The pre-check in
 * the handlers answers the common case; this catches the race between two writers.
 */
const rethrowDuplicate = rethrowUniqueAs(duplicateEmail);

const CONTACTS_PAGE = pager('listContacts', 'asc', [{ field: 'name', kind: 'text' }]);

const contacts: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/api/clients/:clientId/contacts',
    {
      config: { routeScope: 'client-scoped' },
      schema: {
        operationId: 'listContacts',
        summary: "List a client's contacts (by name, a page at a time)",
        params: ClientParams,
        querystring: pageQuery({}),
        response: { 200: pagedBody({ contacts: Type.Array(ContactView) }), ...errors },
      },
    },
    async (request, reply) => {
      const rows = await readPage(request, reply, CONTACTS_PAGE, (page) =>
        clientScope(request).db.contact.findMany({ ...page, where: { AND: [{ deletedAt: null }, page.where] } }),
      );
      // Every read of a contact is audited, in lists too.
      await request.auditMany(
        rows.map((contact) => ({ eventType: 'contact.read', entityType: 'contact', entityId: contact.id, data: { via: 'list' } })),
      );
      return { contacts: rows.map(contactView) };
    },
  );

  app.post(
    '/api/clients/:clientId/contacts',
    {
      config: { routeScope: 'client-scoped' },
      schema: {
        operationId: 'createContact',
        summary: 'Add a contact to a client',
        params: ClientParams,
        body: CreateContactBody,
        response: { 201: ContactView, ...errors },
      },
    },
    async (request, reply) => {
      const { db, clientId } = clientScope(request);
      const email = request.body.email.trim();
      const taken = await db.contact.findFirst({
        where: { email: { equals: email, mode: 'insensitive' }, deletedAt: null },
        select: { id: true },
      });
      if (taken) throw duplicateEmail();
      const contact = await db.contact
        .create({
          data: { clientId, name: request.body.name.trim(), email, phone: request.body.phone ?? null },
        })
        .catch(rethrowDuplicate);
      await request.audit({ eventType: 'contact.created', entityType: 'contact', entityId: contact.id });
      return reply.code(201).send(contactView(contact));
    },
  );

  app.get(
    '/api/clients/:clientId/contacts/:contactId',
    {
      config: { routeScope: 'client-scoped' },
      schema: { operationId: 'getContact', summary: 'Get a contact', params: ContactParams, response: { 200: ContactView, ...errors } },
    },
    async (request) => {
      const contact = await clientScope(request).db.contact.findFirst({ where: { id: request.params.contactId, deletedAt: null } });
      if (!contact) throw notFound();
      await request.audit({ eventType: 'contact.read', entityType: 'contact', entityId: contact.id });
      return contactView(contact);
    },
  );

  app.patch(
    '/api/clients/:clientId/contacts/:contactId',
    {
      config: { routeScope: 'client-scoped' },
      schema: {
        operationId: 'updateContact',
        summary: 'Update a contact',
        params: ContactParams,
        body: UpdateContactBody,
        response: { 200: ContactView, ...errors },
      },
    },
    async (request) => {
      const { db } = clientScope(request);
      const { contactId } = request.params;
      const { name, phone } = request.body;
      const email = request.body.email?.trim();
      if (email !== undefined) {
        const taken = await db.contact.findFirst({
          where: { email: { equals: email, mode: 'insensitive' }, deletedAt: null, id: { not: contactId } },
          select: { id: true },
        });
        if (taken) throw duplicateEmail();
      }
      const { count } = await db.contact
        .updateMany({
          where: { id: contactId, deletedAt: null },
          data: {
            ...(name !== undefined && { name: name.trim() }),
            ...(email !== undefined && { email }),
            ...(phone !== undefined && { phone }),
            updatedAt: new Date(),
          },
        })
        .catch(rethrowDuplicate);
      if (count === 0) throw notFound();
      const contact = await db.contact.findUniqueOrThrow({ where: { id: contactId } });
      await request.audit({
        eventType: 'contact.updated',
        entityType: 'contact',
        entityId: contact.id,
        data: { fields: Object.keys(request.body) },
      });
      return contactView(contact);
    },
  );

  app.delete(
    '/api/clients/:clientId/contacts/:contactId',
    {
      config: { routeScope: 'client-scoped' },
      schema: { operationId: 'deleteContact', summary: 'Remove a contact', params: ContactParams, response: { 200: Ok, ...errors } },
    },
    async (request) => {
      // Soft delete: requests and sessions keep pointing at the row; the contact's portal
      // session stops resolving (spade_resolve_contact_session checks deleted_at).
      const now = new Date();
      const { count } = await clientScope(request).db.contact.updateMany({
        where: { id: request.params.contactId, deletedAt: null },
        data: { deletedAt: now, updatedAt: now },
      });
      if (count === 0) throw notFound();
      await request.audit({ eventType: 'contact.deleted', entityType: 'contact', entityId: request.params.contactId });
      return { ok: true as const };
    },
  );
};

export default contacts;
