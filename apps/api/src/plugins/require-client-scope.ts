import { isUuid } from '@breezycorp/db';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError, notFound } from '../errors.ts';
import { assertClientTenant } from '../tenancy/assert-client-tenant.ts';
import type { IsolationLayers } from '../tenancy/layers.ts';

function routeClientId(request: FastifyRequest): unknown {
  return (request.params as { clientId?: unknown }).clientId;
}

/**
 * Layer 2 (runbook): for every client-scoped route, resolve `:clientId`, run
 * assertClientTenant (preValidation), and only then (preHandler) give the handler a
 * tenant-scoped database client (`request.tenantDb`). It runs before body validation, so an actor who may not touch the
 * client learns nothing from validation errors either. Handlers never see the unscoped client.
 *
 * Strengthened (DESIGN §4, in the spirit of Pundit's verify_authorized): before a
 * client-scoped response is committed, the request must prove that the assertion ran for
 * the very client in its URL; otherwise it fails closed — 500, the transaction rolled
 * back, an `authorization_unverified` audit event and an error log naming the route.
 */
export default fp<{ layers: IsolationLayers }>(
  async (app, { layers }) => {
    app.decorateRequest('assertedClientId', null);
    app.addHook('preValidation', async (request) => {
      if (request.routeOptions.config.routeScope !== 'client-scoped' || request.is404) return;
      const clientId = routeClientId(request);
      // undefined, '', '0' or any malformed id is never "all tenants": it is nobody's.
      if (!isUuid(clientId)) throw notFound();
      if (layers.assertClientTenant) await assertClientTenant(request, clientId);
    });
    // The unit of work opens only once the request is admitted and its input is in and
    // valid (an upload's body is received in between, holding no connection).
    app.addHook('preHandler', async (request) => {
      if (request.routeOptions.config.routeScope !== 'client-scoped' || request.is404) return;
      await request.openClientUnit(routeClientId(request) as string);
    });

    if (layers.authorizationProof) {
      app.addPreCommitCheck(async (request) => {
        if (request.routeOptions.config.routeScope !== 'client-scoped') return;
        const clientId = routeClientId(request);
        if (request.assertedClientId !== null && request.assertedClientId === clientId) return;
        const route = `${request.method} ${request.routeOptions.url}`;
        request.log.error({ route, clientId }, 'client-scoped response without a proven assertClientTenant');
        await request.auditFirmWide({
          eventType: 'authorization_unverified',
          entityType: 'route',
          entityId: route,
          data: { route, requestedClientId: typeof clientId === 'string' ? clientId : null },
        });
        throw new AppError('internal', `authorization not verified on ${route}`);
      });
    }
  },
  { name: 'require-client-scope', dependencies: ['scope-enforcer', 'unit-of-work', 'audit'] },
);
