import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { TenantContextError, TenantScopeViolation } from '@breezycorp/db';
import * as Sentry from '@sentry/node';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { databaseFailure } from '../database-errors.ts';
import { AppError, ERROR_STATUS, type ErrorCode, isUniqueViolation, RETRY_AFTER_SECONDS } from '../errors.ts';

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
  FST_ERR_MAX_PARAM_LENGTH: 'uri_too_long',
  FST_ERR_ASYNC_CONSTRAINT: 'bad_request',
  FST_PROTO_VIOLATION: 'bad_request',
  FST_ERR_CTP_INVALID_TYPE: 'bad_request',
};

/** Messages for codes whose framework message would echo the client's input (the URL). */
const FIXED_MESSAGES: Partial<Record<ErrorCode, string>> = {
  uri_too_long: 'A path parameter is too long',
};

export function classify(error: FastifyError | Error): { code: ErrorCode; message: string } {
  if (error instanceof AppError) return { code: error.code, message: error.message };
  // A unique violation: say that it conflicts, never with what (it could be another tenant's value).
  if (isUniqueViolation(error)) return { code: 'conflict', message: 'Conflicts with an existing record' };
  // A Prisma "record not found" (update/delete of a row the scope cannot see) is a 404.
  if ((error as { code?: unknown }).code === 'P2025') return { code: 'not_found', message: 'Not found' };
  if (error instanceof TenantScopeViolation || error instanceof TenantContextError) return { code: 'not_found', message: 'Not found' };
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) return { code: 'validation_failed', message: error.message };
  const mapped = fastifyError.code ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (mapped) return { code: mapped, message: FIXED_MESSAGES[mapped] ?? error.message };
  // The database layer: away or saturated → 503 (retry); a value PostgreSQL refused → 400;
  // a parent that does not exist (foreign key) → 404, like any other unknown id.
  switch (databaseFailure(error)) {
    case 'unavailable':
      return { code: 'unavailable', message: 'The service is temporarily unavailable; try again shortly' };
    case 'bad_input':
      return { code: 'bad_request', message: 'A value in the request cannot be stored' };
    case 'missing_parent':
      return { code: 'not_found', message: 'Not found' };
  }
  if (fastifyError.statusCode === 429) return { code: 'rate_limited', message: 'Too many requests; try again later' };
  if (fastifyError.statusCode && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return { code: 'bad_request', message: error.message };
  }
  return { code: 'internal', message: 'Internal error' };
}

export function errorBody(code: ErrorCode, message: string, requestId: string) {
  const status = ERROR_STATUS[code];
  return { error: { code, message: status >= 500 && code === 'internal' ? 'Internal error' : message, requestId } };
}

export function sendError(request: FastifyRequest, reply: FastifyReply, code: ErrorCode, message: string) {
  const retryAfter = RETRY_AFTER_SECONDS[code];
  if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter));
  return reply
    .code(ERROR_STATUS[code])
    .type('application/json')
    .send(errorBody(code, message, request.id));
}

/**
 * Fastify's `frameworkErrors`: a URL it cannot decode (`%ZZ`), a path parameter over the
 * length limit. These never reach the hooks, so the request id header is set here.
 */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const { code, message } = classify(error);
  reply.header('x-request-id', request.id);
  request.log.info({ code }, message);
  return sendError(request, reply, code, message);
}

/**
 * Node's `clientError`: a request its HTTP parser refused (malformed or duplicated
 * Content-Length, Content-Length with Transfer-Encoding, a NUL in the request line,
 * oversize headers) or that timed out. There is no request object: answer on the raw
 * socket in the same shape, with a fresh request id, then close it.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Duplex) {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const code: ErrorCode =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? 'headers_too_large'
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 'request_timeout'
        : 'bad_request';
  const message =
    code === 'headers_too_large'
      ? 'Request headers too large'
      : code === 'request_timeout'
        ? 'Request timed out'
        : 'Malformed HTTP request';
  const status = ERROR_STATUS[code];
  const requestId = randomUUID();
  const body = JSON.stringify(errorBody(code, message, requestId));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nx-request-id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
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
      } else if (code === 'unavailable') {
        request.log.warn({ err: error, route: request.routeOptions.url }, 'database unavailable');
      } else {
        request.log.info({ code, route: request.routeOptions.url }, message);
      }
      return sendError(request, reply, code, message);
    });

    // 405 for a method no route of this API answers (OPTIONS, TRACE, …); 404 otherwise.
    const methods = new Set<string>();
    app.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) methods.add(method.toUpperCase());
    });
    app.setNotFoundHandler({ preValidation: undefined, preHandler: undefined }, async (request, reply) => {
      if (!methods.has(request.method.toUpperCase())) {
        reply.header('allow', [...methods].sort().join(', '));
        return sendError(request, reply, 'method_not_allowed', `Method ${request.method} is not allowed`);
      }
      return sendError(request, reply, 'not_found', 'Not found');
    });

    // While the server drains (SIGTERM), new requests on kept-alive sockets get our 503
    // (Fastify's own has another shape and no request id).
    let closing = false;
    app.addHook('preClose', async () => {
      closing = true;
    });
    app.addHook('onRequest', async (_request, reply) => {
      if (!closing) return;
      reply.header('connection', 'close');
      throw new AppError('unavailable', 'The server is shutting down; try again shortly');
    });
    app.addHook('onClose', async () => {
      if (options.sentryDsn) await Sentry.flush(2_000);
    });
  },
  { name: 'errors', dependencies: ['unit-of-work'] },
);
