import fp from 'fastify-plugin';
import type { Config } from '../config.ts';
import { discardUpload, receiveUpload } from '../services/file-storage.ts';

/**
 * Upload routes (`config.upload`) receive their multipart body here, in preValidation —
 * after require-client-scope's tenant assertion (registered before this plugin), before
 * the unit of work opens (preHandler) — so a slow or stalled upload holds no database
 * connection, only a socket that the idle timeout closes. A received file nobody stored
 * is removed when the request ends.
 */
export default fp<{ config: Pick<Config, 'storageDir' | 'upload'> }>(
  async (app, { config }) => {
    app.decorateRequest('upload', null);
    app.addHook('preValidation', async (request) => {
      if (!request.routeOptions.config.upload || request.is404) return;
      request.upload = await receiveUpload(request, config);
    });
    const cleanUp = async (request: import('fastify').FastifyRequest) => {
      const upload = request.upload;
      request.upload = null;
      await discardUpload(upload);
    };
    app.addHook('onResponse', cleanUp);
    app.addHook('onRequestAbort', cleanUp);
  },
  { name: 'uploads', dependencies: ['require-client-scope'] },
);
