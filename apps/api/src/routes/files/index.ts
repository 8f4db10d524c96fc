import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { notFound } from '../../errors.ts';
import { sendStoredFile, storeUpload } from '../../services/file-storage.ts';
import { staffActor } from '../../tenancy/actor.ts';
import { clientScope } from '../client-route.ts';
import type { RouteOptions } from '../index.ts';
import { pagedBody, pageQuery, pager, readPage } from '../pagination.ts';
import { ClientParams, errors, FileParams, Ok, RequestItemParams } from '../schemas.ts';
import { FileBytes, FileQuery, FileView, fileView, PreviewBytes, uploadErrors } from './schema.ts';

const FILES_PAGE = pager('listFiles', 'asc', [{ field: 'createdAt', kind: 'instant', column: 'files.created_at' }]);

/** What routes/index.ts hands this module: the config (upload storage), no Database. */
export const routeDeps = ['config'] as const;

const files: FastifyPluginAsyncTypebox<RouteOptions<typeof routeDeps>> = async (app, { config }) => {
  app.post(
    '/api/clients/:clientId/requests/:requestId/items/:itemId/files',
    {
      config: { routeScope: 'client-scoped', upload: true },
      // The body is multipart, received by plugins/uploads.ts before the unit of work opens;
      // only the params are schema-validated.
      schema: {
        operationId: 'uploadItemFile',
        summary: 'Upload a file to a checklist item (staff)',
        params: RequestItemParams,
        consumes: ['multipart/form-data'],
        response: { 201: FileView, ...uploadErrors },
      },
    },
    async (request, reply) => {
      const { db, clientId } = clientScope(request);
      const { requestId, itemId } = request.params;
      const item = await db.requestItem.findFirst({
        where: { id: itemId, cycleRequestId: requestId },
        select: { id: true, request: { select: { cycleId: true } } },
      });
      if (!item) throw notFound();
      const row = await storeUpload(request, db, config, {
        clientId,
        cycleId: item.request.cycleId,
        requestItemId: item.id,
        uploadedBy: { type: 'staff', id: staffActor(request).staffUserId },
      });
      return reply.code(201).send(fileView(row));
    },
  );

  app.get(
    '/api/clients/:clientId/files',
    {
      config: { routeScope: 'client-scoped' },
      schema: {
        operationId: 'listFiles',
        summary: "List a client's files (oldest first, a page at a time)",
        params: ClientParams,
        querystring: pageQuery(FileQuery),
        response: { 200: pagedBody({ files: Type.Array(FileView) }), ...errors },
      },
    },
    async (request, reply) => {
      const { itemId, requestId } = request.query;
      const filter = {
        deletedAt: null,
        ...(itemId !== undefined && { requestItemId: itemId }),
        ...(requestId !== undefined && { item: { cycleRequestId: requestId } }),
      };
      const rows = await readPage(request, reply, FILES_PAGE, (page) =>
        clientScope(request).db.file.findMany({ ...page, where: { AND: [filter, page.where] } }),
      );
      return { files: rows.map(fileView) };
    },
  );

  app.get(
    '/api/clients/:clientId/files/:fileId/download',
    {
      config: { routeScope: 'client-scoped' },
      // A HEAD would run the handler and audit a download that never happened.
      exposeHeadRoute: false,
      schema: {
        operationId: 'downloadFile',
        summary: 'Download a file (as an attachment)',
        params: FileParams,
        response: { 200: FileBytes, ...errors },
      },
    },
    async (request, reply) => {
      const file = await clientScope(request).db.file.findFirst({ where: { id: request.params.fileId, deletedAt: null } });
      if (!file) throw notFound();
      return sendStoredFile(request, reply, config, file);
    },
  );

  app.get(
    '/api/clients/:clientId/files/:fileId/preview',
    {
      config: { routeScope: 'client-scoped' },
      // A HEAD would run the handler and audit a preview that never happened.
      exposeHeadRoute: false,
      schema: {
        operationId: 'previewFile',
        summary: 'Show an image or PDF inline (sandboxed); other types are download-only',
        params: FileParams,
        response: { 200: PreviewBytes, ...uploadErrors },
      },
    },
    async (request, reply) => {
      const file = await clientScope(request).db.file.findFirst({ where: { id: request.params.fileId, deletedAt: null } });
      if (!file) throw notFound();
      return sendStoredFile(request, reply, config, file, { inline: true });
    },
  );

  app.delete(
    '/api/clients/:clientId/files/:fileId',
    {
      config: { routeScope: 'client-scoped' },
      schema: { operationId: 'deleteFile', summary: 'Delete a file', params: FileParams, response: { 200: Ok, ...errors } },
    },
    async (request) => {
      const { db } = clientScope(request);
      // Soft delete: the bytes stay on disk (evidence, recovery); every read path excludes the row.
      const { count } = await db.file.updateMany({
        where: { id: request.params.fileId, deletedAt: null },
        data: { deletedAt: new Date() },
      });
      if (count === 0) throw notFound();
      await request.audit({ eventType: 'file.deleted', entityType: 'file', entityId: request.params.fileId });
      return { ok: true as const };
    },
  );
};

export default files;
