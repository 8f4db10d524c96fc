import type { ScopedTx } from '@breezycorp/db';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { AppError, notFound } from '../../errors.ts';
import { CONTACT_COOKIE, csrfTokenFor } from '../../plugins/auth.ts';
import { sendStoredFile, storeUpload } from '../../services/file-storage.ts';
import { exchangeMagicLink, inspectMagicLink, requestNewLink } from '../../services/magic-links.ts';
import { enqueueStaffDigest } from '../../services/outbox.ts';
import { allRequiredSubmitted } from '../../services/reminders.ts';
import { contactActor } from '../../tenancy/actor.ts';
import { clientScope } from '../client-route.ts';
import { FileBytes, FileView, fileView, uploadErrors } from '../files/schema.ts';
import type { RouteOptions } from '../index.ts';
import { pagedBody, pageQuery, pager, readPage } from '../pagination.ts';
import { ITEM_COLUMNS } from '../requests/schema.ts';
import { ClientParams, errors, FileParams, iso, isoDate, noStore, Ok } from '../schemas.ts';
import {
  AccessLog,
  LinkCheck,
  NewLinkAccepted,
  NewLinkBody,
  PortalItemParams,
  PortalRequestView,
  PortalSession,
  portalItemView,
  publicErrors,
  requestStatus,
  TokenBody,
  TokenParams,
} from './schema.ts';

/** "Email me a new link" requests waiting in this process beyond which more are dropped (a flood from many addresses). */
const NEW_LINK_QUEUE_MAX = 1_000;

/** One answer for every bad link — unknown, malformed, expired, rotated or cancelled look alike. */
const invalidLink = () => new AppError('unauthenticated', 'This link is invalid or has expired');

/** What a staff read of a file is recorded as, and what the contact is shown. */
const STAFF_FILE_READS = { 'file.downloaded': 'downloaded' } as const;

/** The contact's own request: their session is bound to it, and to them. */
async function ownRequest(request: FastifyRequest) {
  const actor = contactActor(request);
  const found = await clientScope(request).db.cycleRequest.findFirst({
    where: { id: actor.cycleRequestId, contactId: actor.contactId },
    select: {
      id: true,
      clientId: true,
      cycleId: true,
      status: true,
      message: true,
      expiresAt: true,
      client: { select: { name: true } },
      cycle: { select: { title: true, dueDate: true } },
    },
  });
  if (!found) throw notFound();
  return found;
}

/** Files this contact uploaded to their own request's items, and nothing else. */
function ownUploads(request: FastifyRequest) {
  const actor = contactActor(request);
  return {
    uploadedByType: 'contact',
    uploadedById: actor.contactId,
    deletedAt: null,
    item: { cycleRequestId: actor.cycleRequestId },
  };
}

/**
 * The upload that completes every required item queues one digest to the client's assigned
 * staff (not one mail per file), in the upload's unit of work; staff_notified_at makes it once.
 */
async function notifyStaffWhenComplete(db: ScopedTx, clientId: string, requestId: string) {
  const items = await db.requestItem.findMany({ where: { cycleRequestId: requestId }, select: { required: true, status: true } });
  if (!allRequiredSubmitted(items)) return;
  const claimed = await db.cycleRequest.updateMany({
    where: { id: requestId, staffNotifiedAt: null },
    data: { staffNotifiedAt: new Date() },
  });
  if (claimed.count === 1) await enqueueStaffDigest(db, { clientId, cycleRequestId: requestId });
}

const PORTAL_FILES_PAGE = pager('listPortalFiles', 'asc', [{ field: 'createdAt', kind: 'instant', column: 'files.created_at' }]);

/** What routes/index.ts hands this module: a magic link is checked and exchanged before its tenant is known, so on the Database. */
export const routeDeps = ['config', 'db'] as const;

const portal: FastifyPluginAsyncTypebox<RouteOptions<typeof routeDeps>> = async (app, { config, db }) => {
  app.get(
    '/api/portal/links/:token',
    {
      // The token is in the path: keep the request lines (which carry the URL) out of the logs.
      logLevel: 'warn',
      // The magic-link service runs its own transactions (the token's client is not known yet).
      config: {
        routeScope: 'public',
        ownTransactions: true,
        rateLimit: { max: config.rateLimit.exchangePerMinute, timeWindow: '1 minute' },
      },
      schema: {
        operationId: 'checkMagicLink',
        summary: 'Check a magic link (changes nothing)',
        params: TokenParams,
        response: {
          200: LinkCheck,
          ...publicErrors,
        },
      },
    },
    async (request, reply) => {
      // Mail scanners prefetch links: this check writes nothing, not even an audit event.
      const link = await inspectMagicLink(db, request.params.token);
      if (!link) throw invalidLink();
      noStore(reply);
      return {
        valid: true as const,
        expiresAt: iso(link.expiresAt),
        firmName: config.firmName,
        clientName: link.clientName,
        cycleTitle: link.cycleTitle,
        dueDate: isoDate(link.dueDate),
      };
    },
  );

  app.post(
    '/api/portal/exchange',
    {
      config: {
        routeScope: 'public',
        ownTransactions: true,
        rateLimit: { max: config.rateLimit.exchangePerMinute, timeWindow: '1 minute' },
      },
      schema: {
        operationId: 'exchangeMagicLink',
        summary: 'Exchange a magic link for a portal session',
        body: TokenBody,
        response: {
          200: PortalSession,
          ...publicErrors,
        },
      },
    },
    async (request, reply) => {
      const outcome = await exchangeMagicLink(db, request.body.token, {
        sessionTtlMs: config.contactSessionTtlMs,
        httpRequestId: request.id,
        ip: request.ip,
      });
      // A replay was recorded on the request itself (magic_link.replayed), where staff see it.
      if (outcome.kind === 'replayed') throw invalidLink();
      if (outcome.kind === 'invalid') {
        // Neither the token nor its hash goes into the event.
        await request.auditFirmWide({
          eventType: 'magic_link.rejected',
          entityType: 'cycle_request',
          entityId: null,
          data: { ip: request.ip },
        });
        throw invalidLink();
      }
      const grant = outcome.grant;
      reply.setCookie(CONTACT_COOKIE, grant.sessionToken, {
        httpOnly: true,
        sameSite: 'strict',
        secure: config.cookieSecure,
        path: '/api/portal',
        expires: grant.expiresAt,
      });
      noStore(reply);
      return {
        clientId: grant.clientId,
        requestId: grant.cycleRequestId,
        contactId: grant.contactId,
        sessionToken: grant.sessionToken,
        csrfToken: csrfTokenFor(grant.sessionToken),
        expiresAt: iso(grant.expiresAt),
      };
    },
  );

  let newLinkQueue: Promise<unknown> = Promise.resolve();
  let newLinksWaiting = 0;
  app.post(
    '/api/portal/new-link',
    {
      config: {
        routeScope: 'public',
        ownTransactions: true,
        // Per IP here; per address in requestNewLink (counted in the outbox, so across instances).
        rateLimit: { max: config.mail.newLinkPerIpPerMinute, timeWindow: '1 minute' },
      },
      schema: {
        operationId: 'requestNewMagicLink',
        summary: 'Email me a new link (same answer whether or not the address is known)',
        body: NewLinkBody,
        response: {
          202: NewLinkAccepted,
          ...publicErrors,
        },
      },
      // The work starts once the answer is out: its time cannot tell a known address from an unknown one.
      onResponse: async (request, reply) => {
        if (reply.statusCode !== 202) return;
        const { email } = request.body as { email: string };
        // One at a time in this process: the per-address limit counts the outbox, then queues.
        if (newLinksWaiting >= NEW_LINK_QUEUE_MAX) {
          request.log.warn({ waiting: newLinksWaiting }, 'new-link request dropped: too many waiting');
          return;
        }
        newLinksWaiting += 1;
        const work = newLinkQueue
          .then(() =>
            requestNewLink(db, email, {
              perAddressPerHour: config.mail.newLinkPerAddressPerHour,
              httpRequestId: request.id,
              ip: request.ip,
            }),
          )
          .finally(() => {
            newLinksWaiting -= 1;
          });
        newLinkQueue = work.catch(() => undefined);
        app.background.run('new-link request', () => work);
      },
    },
    async (_request, reply) => {
      // Known or not, open request or not, limited or not: one answer, given before any lookup,
      // so no address can be probed by its answer or by its answer's time.
      noStore(reply);
      return reply.code(202).send({
        ok: true as const,
        message: 'If this address has an open request with us, a new link is on its way.',
      });
    },
  );

  app.post(
    '/api/portal/clients/:clientId/logout',
    {
      config: { routeScope: 'client-scoped', actors: ['contact'] },
      schema: {
        operationId: 'portalLogout',
        summary: "End the contact's portal session",
        params: ClientParams,
        response: { 200: Ok, ...errors },
      },
    },
    async (request, reply) => {
      const actor = contactActor(request);
      await clientScope(request).db.contactSession.updateMany({
        where: { id: actor.sessionId, revokedAt: null },
        data: { revokedAt: new Date() },
      });
      await request.audit({ eventType: 'auth.logout', entityType: 'contact_session', entityId: actor.sessionId });
      reply.clearCookie(CONTACT_COOKIE, { path: '/api/portal' });
      return { ok: true as const };
    },
  );

  app.get(
    '/api/portal/clients/:clientId/request',
    {
      config: { routeScope: 'client-scoped', actors: ['contact'] },
      schema: {
        operationId: 'getPortalRequest',
        summary: "The contact's request and its checklist",
        params: ClientParams,
        response: { 200: PortalRequestView, ...errors },
      },
    },
    async (request) => {
      const own = await ownRequest(request);
      const items = await clientScope(request).db.requestItem.findMany({
        where: { cycleRequestId: own.id },
        orderBy: { position: 'asc' },
        select: ITEM_COLUMNS,
      });
      await request.audit({ eventType: 'request.read', entityType: 'cycle_request', entityId: own.id });
      return {
        id: own.id,
        clientId: own.clientId,
        cycleId: own.cycleId,
        status: requestStatus(own.status),
        message: own.message,
        expiresAt: iso(own.expiresAt),
        firmName: config.firmName,
        clientName: own.client.name,
        cycleTitle: own.cycle.title,
        dueDate: isoDate(own.cycle.dueDate),
        items: items.map(portalItemView),
      };
    },
  );

  app.post(
    '/api/portal/clients/:clientId/items/:itemId/files',
    {
      config: { routeScope: 'client-scoped', actors: ['contact'], upload: true },
      // The body is multipart, received by plugins/uploads.ts before the unit of work opens;
      // only the params are schema-validated.
      schema: {
        operationId: 'portalUploadFile',
        summary: 'Upload a file to a checklist item (contact)',
        params: PortalItemParams,
        consumes: ['multipart/form-data'],
        response: { 201: FileView, ...uploadErrors },
      },
    },
    async (request, reply) => {
      const actor = contactActor(request);
      const { db, clientId } = clientScope(request);
      const own = await ownRequest(request);
      // An item of any other request — even this client's — is not found.
      const item = await db.requestItem.findFirst({ where: { id: request.params.itemId, cycleRequestId: own.id } });
      if (!item) throw notFound();
      if (item.status === 'accepted') throw new AppError('conflict', 'This item has already been accepted');
      const row = await storeUpload(request, db, config, {
        clientId,
        cycleId: own.cycleId,
        requestItemId: item.id,
        uploadedBy: { type: 'contact', id: actor.contactId },
      });
      await db.requestItem.updateMany({ where: { id: item.id }, data: { status: 'submitted', updatedAt: new Date() } });
      await notifyStaffWhenComplete(db, clientId, own.id);
      return reply.code(201).send(fileView(row));
    },
  );

  app.get(
    '/api/portal/clients/:clientId/files',
    {
      config: { routeScope: 'client-scoped', actors: ['contact'] },
      schema: {
        operationId: 'listPortalFiles',
        summary: 'The files the contact uploaded (oldest first, a page at a time)',
        params: ClientParams,
        querystring: pageQuery({}),
        response: { 200: pagedBody({ files: Type.Array(FileView) }), ...errors },
      },
    },
    async (request, reply) => {
      const rows = await readPage(request, reply, PORTAL_FILES_PAGE, (page) =>
        clientScope(request).db.file.findMany({ ...page, where: { AND: [ownUploads(request), page.where] } }),
      );
      return { files: rows.map(fileView) };
    },
  );

  app.delete(
    '/api/portal/clients/:clientId/files/:fileId',
    {
      config: { routeScope: 'client-scoped', actors: ['contact'] },
      schema: {
        operationId: 'deleteOwnPortalFile',
        summary: 'Remove one of your own uploads while it awaits review (contact)',
        params: FileParams,
        response: { 200: Ok, ...errors },
      },
    },
    async (request) => {
      const { db } = clientScope(request);
      // Only the contact's own upload, and only while its item awaits review: a reviewed file is the firm's record.
      const file = await db.file.findFirst({
        where: { id: request.params.fileId, ...ownUploads(request) },
        select: { id: true, requestItemId: true, item: { select: { status: true } } },
      });
      if (!file) throw notFound();
      if (file.item.status !== 'submitted') throw new AppError('conflict', 'This file has already been reviewed');
      const now = new Date();
      await db.file.updateMany({ where: { id: file.id, deletedAt: null }, data: { deletedAt: now } });
      // The item goes back to "to do" when its last file is removed.
      const left = await db.file.count({ where: { requestItemId: file.requestItemId, deletedAt: null } });
      if (left === 0) await db.requestItem.updateMany({ where: { id: file.requestItemId }, data: { status: 'pending', updatedAt: now } });
      await request.audit({ eventType: 'file.deleted', entityType: 'file', entityId: file.id });
      return { ok: true as const };
    },
  );

  app.get(
    '/api/portal/clients/:clientId/access-log',
    {
      config: { routeScope: 'client-scoped', actors: ['contact'] },
      schema: {
        operationId: 'getPortalAccessLog',
        summary: "Who at the firm viewed or downloaded the contact's files",
        params: ClientParams,
        response: { 200: AccessLog, ...errors },
      },
    },
    async (request) => {
      const { db } = clientScope(request);
      const files = await db.file.findMany({
        where: ownUploads(request),
        select: { id: true, filename: true, createdAt: true },
        orderBy: { createdAt: 'asc' },
        take: 1_000,
      });
      const reads = await db.auditEvent.findMany({
        where: {
          actorType: 'staff',
          entityType: 'file',
          entityId: { in: files.map((f) => f.id) },
          eventType: { in: Object.keys(STAFF_FILE_READS) },
        },
        select: { entityId: true, eventType: true, actorId: true, occurredAt: true },
        orderBy: [{ occurredAt: 'asc' }, { id: 'asc' }],
        take: 5_000,
      });
      const staffIds = [...new Set(reads.map((r) => r.actorId).filter((id): id is string => id !== null))];
      const staff =
        staffIds.length === 0 ? [] : await db.staffUser.findMany({ where: { id: { in: staffIds } }, select: { id: true, name: true } });
      const nameOf = new Map(staff.map((s) => [s.id, s.name]));
      await request.audit({ eventType: 'access_log.read', entityType: 'contact', entityId: contactActor(request).contactId });
      return {
        files: files.map((file) => ({
          fileId: file.id,
          filename: file.filename,
          uploadedAt: iso(file.createdAt),
          accesses: reads
            .filter((r) => r.entityId === file.id)
            .map((r) => ({
              staffName: (r.actorId && nameOf.get(r.actorId)) || 'A member of staff',
              action: STAFF_FILE_READS[r.eventType as keyof typeof STAFF_FILE_READS],
              at: iso(r.occurredAt),
            })),
        })),
      };
    },
  );

  app.get(
    '/api/portal/clients/:clientId/files/:fileId/download',
    // No automatic HEAD: it would run the handler and audit a download that never happened.
    {
      config: { routeScope: 'client-scoped', actors: ['contact'] },
      exposeHeadRoute: false,
      schema: {
        operationId: 'portalDownloadFile',
        summary: "Download one of the contact's own files",
        params: FileParams,
        response: { 200: FileBytes, ...errors },
      },
    },
    async (request, reply) => {
      const file = await clientScope(request).db.file.findFirst({ where: { id: request.params.fileId, ...ownUploads(request) } });
      if (!file) throw notFound();
      return sendStoredFile(request, reply, config, file);
    },
  );
};

export default portal;
