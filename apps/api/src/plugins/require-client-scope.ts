import { isUuid } from '@breezycorp/db';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError, notFound } from '../errors.ts';
import { assertClientTenant, TenantAccessDenied } from '../tenancy/assert-client-tenant.ts';
import type { IsolationLayers } from '../tenancy/layers.ts';

/**
 * Layer 2 (runbook): for every client-scoped route, resolve `:clientId` (once: the input
 * boundary has canonicalised it), run assertClientTenant (preValidation), and only then
 * (preHandler) open the client's unit of work, which sets `request.scope` to that client.
 * It runs before body validation, so an actor who may not touch the client learns nothing
 * from validation errors either. Handlers never see the unscoped client.
 *
 * Strengthened (DESIGN §4, in the spirit of Pundit's verify_authorized): before a
 * client-scoped response is committed, the request must prove that the assertion admitted
 * the very client its unit of work was opened for; otherwise it fails closed — 500, the
 * transaction rolled back, an `authorization_unverified` audit event and an error log
 * naming the route. The proof's evidence is this plugin's own record of admissions, not
 * the scope it checks.
 */
export default fp<{ layers: IsolationLayers }>(
  async (app, { layers }) => {
    /** The client each request was admitted for by assertClientTenant. */
    const admitted = new WeakMap<FastifyRequest, string>();
    /** The client named by each client-scoped request's URL, read once. */
    const named = new WeakMap<FastifyRequest, string>();

    app.addHook('preValidation', async (request) => {
      if (request.routeOptions.config.routeScope !== 'client-scoped' || request.is404) return;
      const clientId = (request.params as { clientId?: unknown }).clientId;
      // undefined, '', '0' or any malformed id is never "all tenants": it is nobody's.
      if (!isUuid(clientId)) throw notFound();
      named.set(request, clientId);
      if (!layers.assertClientTenant) return;
      try {
        assertClientTenant(request.actor, request.routeOptions.config.actors ?? ['staff'], clientId);
      } catch (error) {
        if (!(error instanceof TenantAccessDenied)) throw error;
        // No unit of work is open yet (it opens in preHandler): the refusal has its own.
        await request.auditFirmWide({
          eventType: 'tenant_access_denied',
          entityType: 'client',
          entityId: null,
          data: { requestedClientId: clientId, route: `${request.method} ${request.routeOptions.url}` },
        });
        throw notFound();
      }
      admitted.set(request, clientId);
    });
    // The unit of work opens only once the request is admitted and its input is in and
    // valid (an upload's body is received in between, holding no connection).
    app.addHook('preHandler', async (request) => {
      const clientId = named.get(request);
      if (request.routeOptions.config.routeScope !== 'client-scoped' || request.is404 || clientId === undefined) return;
      await request.openClientUnit(clientId);
    });

    if (layers.authorizationProof) {
      app.addPreCommitCheck(async (request) => {
        if (request.routeOptions.config.routeScope !== 'client-scoped') return;
        const scope = request.scope;
        const proven = admitted.get(request);
        if (scope.kind === 'client' && proven !== undefined && proven === scope.clientId) return;
        const route = `${request.method} ${request.routeOptions.url}`;
        const clientId = scope.kind === 'client' ? scope.clientId : (named.get(request) ?? null);
        request.log.error({ route, clientId }, 'client-scoped response without a proven assertClientTenant');
        await request.rollbackUnit();
        await request.auditFirmWide({
          eventType: 'authorization_unverified',
          entityType: 'route',
          entityId: route,
          data: { route, requestedClientId: clientId },
        });
        throw new AppError('internal', `authorization not verified on ${route}`);
      });
    }
  },
  { name: 'require-client-scope', dependencies: ['scope-enforcer', 'unit-of-work', 'audit'] },
);
