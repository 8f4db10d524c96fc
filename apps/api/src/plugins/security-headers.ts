import type { IncomingMessage, ServerResponse } from 'node:http';
import fp from 'fastify-plugin';
import helmet from 'helmet';

/**
 * Helmet's security headers on every response (the API's own CSP: nothing may load, nothing
 * may frame it; web-app.ts sets the pages' CSP). The middleware is built once, at boot:
 * @fastify/helmet rebuilt it — parsing the CSP directives — on every request (issue 13's
 * profile: ≈ 1 % of the CPU of a request).
 */
const secure = helmet({ contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } } });

export default fp(
  async (app) => {
    app.addHook('onRequest', (request, reply, done) => {
      secure(request.raw as IncomingMessage, reply.raw as ServerResponse, (error?: unknown) => done(error as Error | undefined));
    });
  },
  { name: 'security-headers' },
);
