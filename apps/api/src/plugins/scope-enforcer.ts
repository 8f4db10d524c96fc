import fp from 'fastify-plugin';
import { AppError, notFound, unauthenticated } from '../errors.ts';
import type { RouteConfig } from '../tenancy/route-config.ts';
import { checkRouteTable, isRouteScope, type RouteScope } from '../tenancy/route-scope.ts';

export interface RouteTableEntry {
  method: string;
  url: string;
  scope: RouteScope;
  actors: readonly string[];
  adminOnly: boolean;
  /** An upload route (multipart body received before the unit of work). */
  upload: boolean;
  /** Left out of the OpenAPI document (the web app's pages, the document itself). */
  hidden: boolean;
}

export class RouteScopeError extends Error {
  override name = 'RouteScopeError';
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every registered route with its declared scope (HEAD routes included). */
    routeTable: RouteTableEntry[];
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Layer 1 (runbook): at boot, every route must declare `config.routeScope` as one of
 * 'public' | 'staff-only' | 'client-scoped' — anything else makes buildApp throw — and a
 * client-scoped URL must carry a `:clientId` segment — the one rule of tenancy/route-scope.ts. At request time the actor's kind must fit
 * the scope: anonymous on a non-public route → 401; a contact on a staff-only route → 404.
 * Cookie-authenticated unsafe requests must carry the CSRF header.
 */
export default fp<{ enforceAtRequest: boolean }>(
  async (app, { enforceAtRequest }) => {
    app.decorate('routeTable', [] as RouteTableEntry[]);
    app.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      const config: RouteConfig | undefined = route.config;
      const scope = config?.routeScope;
      // The one route rule (tenancy/route-scope.ts), the same the CI gate and `spade routes check` run.
      const [problem] = checkRouteTable(methods.map((method) => ({ method, url: route.url, scope })));
      if (problem?.problem === 'client_scoped_without_client_id') {
        throw new RouteScopeError(
          `Client-scoped route ${methods.join(',')} ${route.url} must carry :clientId in its URL (${problem.message})`,
        );
      }
      if (problem || !isRouteScope(scope)) {
        throw new RouteScopeError(
          `Route ${methods.join(',')} ${route.url} declares no valid config.routeScope (got ${JSON.stringify(scope)}); ` +
            `every route must be 'public', 'staff-only' or 'client-scoped'`,
        );
      }
      for (const method of methods) {
        app.routeTable.push({
          method,
          url: route.url,
          scope,
          actors: scope === 'client-scoped' ? (route.config?.actors ?? ['staff']) : scope === 'staff-only' ? ['staff'] : [],
          adminOnly: route.config?.adminOnly === true,
          upload: route.config?.upload === true,
          hidden: (route.schema as { hide?: boolean } | undefined)?.hide === true,
        });
      }
    });
    app.addHook('onRequest', async (request) => {
      if (request.is404 || !enforceAtRequest) return;
      const { routeScope: scope, adminOnly } = request.routeOptions.config;
      // Unreachable after the boot check; kept so an unknown scope can never mean "open".
      if (!isRouteScope(scope)) throw new AppError('internal', 'route without scope');
      const actor = request.actor;
      if (scope === 'public') return;
      if (actor.kind === 'anonymous') throw unauthenticated();
      if (scope === 'staff-only' && actor.kind !== 'staff') throw notFound();
      if (adminOnly && (actor.kind !== 'staff' || actor.role !== 'admin')) throw notFound();
      if (actor.viaCookie && !SAFE_METHODS.has(request.method) && request.headers['x-csrf-token'] !== actor.csrfToken) {
        throw new AppError('csrf_failed', 'Missing or wrong x-csrf-token header');
      }
    });
  },
  { name: 'scope-enforcer', dependencies: ['auth'] },
);
