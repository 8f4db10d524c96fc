import type { Database } from '@breezycorp/db';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError } from '../errors.ts';
import { ErrorBody } from './schemas.ts';

const Status = Type.Object({ status: Type.String() }, { additionalProperties: false });

const health: FastifyPluginAsyncTypebox<{ db: Database }> = async (app, { db }) => {
  app.get(
    '/healthz',
    {
      config: { routeScope: 'public', noDatabase: true },
      schema: { operationId: 'getHealth', summary: 'Liveness of the process', response: { 200: Status, 400: ErrorBody } },
    },
    async () => ({
      status: 'ok',
    }),
  );
  app.get(
    '/readyz',
    {
      config: { routeScope: 'public', noDatabase: true },
      schema: {
        operationId: 'getReadiness',
        summary: 'Readiness: the database is reachable',
        response: { 200: Status, 400: ErrorBody, 503: ErrorBody },
      },
    },
    async () => {
      try {
        await db.ping();
      } catch {
        throw new AppError('unavailable', 'Database unreachable');
      }
      return { status: 'ready' };
    },
  );
  app.get('/openapi.json', { config: { routeScope: 'public', noDatabase: true }, schema: { hide: true } }, async () => app.swagger());
};

export default health;
