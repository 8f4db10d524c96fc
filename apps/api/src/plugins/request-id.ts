import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import fp from 'fastify-plugin';

/** What a caller's (or proxy's) x-request-id must look like to be echoed or kept at all. */
const VALID_REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;

/** The caller's x-request-id when it is short and plain; null otherwise. */
export function callerRequestIdOf(req: IncomingMessage): string | null {
  const incoming = req.headers['x-request-id'];
  return typeof incoming === 'string' && VALID_REQUEST_ID.test(incoming) ? incoming : null;
}

/**
 * Fastify's genReqId. Spade's request id is its own: it is what audit_events.request_id
 * stores and `spade evidence request` collects by, so a client must not be able to choose
 * it (and plant rows under another request's id). Only behind a trusted proxy that sets
 * the header itself (and strips the client's) is the incoming id kept
 * (SPADE_TRUST_PROXY_REQUEST_ID=true).
 */
export function requestIdGenerator(trustProxyRequestId: boolean): (req: IncomingMessage) => string {
  if (!trustProxyRequestId) return () => randomUUID();
  return (req) => callerRequestIdOf(req) ?? randomUUID();
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller's own x-request-id, kept apart from Spade's id: logged and echoed, never stored as ours. */
    callerRequestId: string | null;
  }
}

/**
 * Every response carries `x-request-id` (Spade's id); pino binds it to every log line as
 * `reqId`. A caller's different id is echoed as `x-caller-request-id` and logged as
 * `callerRequestId`, so the two can be correlated without trusting either.
 */
export default fp(
  async (app) => {
    app.decorateRequest('callerRequestId', null);
    app.addHook('onRequest', async (request, reply) => {
      reply.header('x-request-id', request.id);
      const caller = callerRequestIdOf(request.raw);
      if (caller && caller !== request.id) {
        request.callerRequestId = caller;
        reply.header('x-caller-request-id', caller);
        request.log = request.log.child({ callerRequestId: caller });
      }
    });
  },
  { name: 'request-id' },
);
