import fp from 'fastify-plugin';
import { AppError } from '../errors.ts';

const TENANT_KEYS = new Set(['clientId', 'client_id']);

/** Every tenant id in `value`, at any depth, that is not `allowed`. */
export function foreignTenantIds(value: unknown, allowed: string, found: Set<string> = new Set(), depth = 0): Set<string> {
  if (depth > 32 || value === null || typeof value !== 'object') return found;
  if (Array.isArray(value)) {
    for (const item of value) foreignTenantIds(item, allowed, found, depth + 1);
    return found;
  }
  for (const [key, child] of Object.entries(value)) {
    // Compared canonically (lower-case): the request's own tenant in another spelling is not foreign.
    if (TENANT_KEYS.has(key) && child !== null && child !== undefined && String(child).toLowerCase() !== allowed.toLowerCase()) {
      found.add(String(child));
    } else if (typeof child === 'object') foreignTenantIds(child, allowed, found, depth + 1);
  }
  return found;
}

/**
 * Layer 6: before serialization, a client-scoped response whose body carries any
 * clientId/client_id other than the request's client is refused with 500, logged and
 * audited as `leak.blocked` (route and request id). The unit of work rolls back with it.
 */
export default fp(
  async (app) => {
    app.addHook('preSerialization', async (request, _reply, payload) => {
      if (request.routeOptions.config.routeScope !== 'client-scoped' || request.is404) return payload;
      // The scope's client; on a client-scoped route without one (refused before its unit
      // opened) every tenant id a body names is foreign.
      const scope = request.scope;
      const clientId = scope.kind === 'client' ? scope.clientId : null;
      const foreign = foreignTenantIds(payload, clientId ?? '');
      if (foreign.size === 0) return payload;
      const route = `${request.method} ${request.routeOptions.url}`;
      request.log.error({ route, foreignCount: foreign.size }, 'response guard blocked a body carrying another tenant');
      await request.rollbackUnit();
      await request.auditFirmWide({
        eventType: 'leak.blocked',
        entityType: 'route',
        entityId: route,
        data: { route, requestedClientId: clientId, foreignClientIds: [...foreign] },
      });
      throw new AppError('internal', `response guard blocked ${route}`);
    });
  },
  { name: 'response-guard', dependencies: ['unit-of-work', 'audit'] },
);
