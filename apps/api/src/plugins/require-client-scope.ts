import fp from 'fastify-plugin';
import { notFound } from '../errors.ts';
import { assertClientTenant } from '../tenancy/assert-client-tenant.ts';

/**
 * Layer 2 (runbook): for every client-scoped route, resolve `:clientId`, run
 * assertClientTenant, and only then give the handler a tenant-scoped database client
 * (`request.tenantDb`). Handlers never see the unscoped client.
 */
export default fp(
  async (app) => {
    app.decorateRequest('assertedClientId', null);
    app.addHook('preHandler', async (request) => {
      if (request.routeOptions.config.routeScope !== 'client-scoped' || request.is404) return;
      const clientId = (request.params as { clientId?: unknown }).clientId;
      if (typeof clientId !== 'string') throw notFound();
      await assertClientTenant(request, clientId);
      await request.openClientUnit(clientId);
    });
  },
  { name: 'require-client-scope', dependencies: ['scope-enforcer', 'unit-of-work', 'audit'] },
);
