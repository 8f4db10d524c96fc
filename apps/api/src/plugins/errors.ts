import { TenantContextError, TenantScopeViolation } from '@breezycorp/db';
import * as Sentry from '@sentry/node';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError, ERROR_STATUS, type ErrorCode } from '../errors.ts';

export interface ErrorsOptions {
  sentryDsn: string | null;
}

/** Fastify's own error codes, mapped onto ours. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_VALIDATION: 'validation_failed',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_REQ_FILE_TOO_LARGE: 'payload_too_large',
  FST_FILES_LIMIT: 'payload_too_large',
  FST_PARTS_LIMIT: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'bad_request',
  FST_ERR_CTP_INVALID_JSON_BODY: 'bad_request',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
  FST_ERR_BAD_URL: 'bad_request',
};

export function classify(error: FastifyError | Error): { code: ErrorCode; message: string } {
  if (error instanceof AppError) return { code: error.code, message: error.message };
  // A unique violation: say that it conflicts, never with what (it could be another tenant's value).
  if ((error as { code?: unknown }).code === 'P2002') return { code: 'conflict', message: 'Conflicts with an existing record' };
  // A Prisma "record not found" (update/delete of a row the scope cannot see) is a 404.
  if ((error as { code?: unknown }).code === 'P2025') return { code: 'not_found', message: 'Not found' };
  if (error instanceof TenantScopeViolation || error instanceof TenantContextError) return { code: 'not_found', message: 'Not found' };
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) return { code: 'validation_failed', message: error.message };
  const mapped = fastifyError.code ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (mapped) return { code: mapped, message: error.message };
  if (fastifyError.statusCode === 429) return { code: 'rate_limited', message: 'Too many requests; try again later' };
  if (fastifyError.statusCode && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return { code: 'bad_request', message: error.message };
  }
  return { code: 'internal', message: 'Internal error' };
}

export function sendError(request: FastifyRequest, reply: FastifyReply, code: ErrorCode, message: string) {
  const status = ERROR_STATUS[code];
  return reply
    .code(status)
    .type('application/json')
    .send({
      error: { code, message: status >= 500 && code === 'internal' ? 'Internal error' : message, requestId: request.id },
    });
}

/**
 * One error handler: `{ error: { code, message, requestId } }` for every failure, no
 * internals on 5xx, the unit of work rolled back before the answer, and 5xx captured to
 * Sentry (tagged with the request id) when SENTRY_DSN is set.
 */
export default fp<ErrorsOptions>(
  async (app, options) => {
    if (options.sentryDsn) {
      Sentry.init({ dsn: options.sentryDsn, tracesSampleRate: 0, defaultIntegrations: false });
    }
    app.setErrorHandler(async (error: FastifyError, request, reply) => {
      const { code, message } = classify(error);
      await request.rollbackUnit();
      const status = ERROR_STATUS[code];
      if (status >= 500) {
        request.log.error({ err: error, route: request.routeOptions.url }, 'request failed');
        if (options.sentryDsn) {
          Sentry.withScope((scope) => {
            scope.setTag('request_id', request.id);
            scope.setTag('route', `${request.method} ${request.routeOptions.url ?? ''}`);
            Sentry.captureException(error);
          });
        }
      } else {
        request.log.info({ code, route: request.routeOptions.url }, message);
      }
      if (code === 'route_offline') reply.header('retry-after', '300');
      return sendError(request, reply, code, message);
    });
    app.setNotFoundHandler({ preValidation: undefined, preHandler: undefined }, async (request, reply) =>
      sendError(request, reply, 'not_found', 'Not found'),
    );
    app.addHook('onClose', async () => {
      if (options.sentryDsn) await Sentry.flush(2_000);
    });
  },
  { name: 'errors', dependencies: ['unit-of-work'] },
);
