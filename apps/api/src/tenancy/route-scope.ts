/**
 * The runbook's route scopes and the one rule over them (DESIGN.md §3): every route
 * declares `config.routeScope` as one of these, and a client-scoped URL has a `clientId`
 * path segment. One implementation, used by the boot check (plugins/scope-enforcer.ts: a
 * route that breaks it makes buildApp throw), the route-coverage test on the live router,
 * and `spade routes check` on a running API's /openapi.json (the CLI imports it as
 * `@breezycorp/api/route-scope`). Free of imports so all three load it cheaply.
 */
export const ROUTE_SCOPES = ['public', 'staff-only', 'client-scoped'] as const;
export type RouteScope = (typeof ROUTE_SCOPES)[number];

/** Which actors a client-scoped route admits. Contacts only ever reach their own request. */
export type ClientRouteActor = 'staff' | 'contact';

export interface RouteEntry {
  method: string;
  /** Fastify (`/api/clients/:clientId`) or OpenAPI (`/api/clients/{clientId}`) form. */
  url: string;
  scope: unknown;
}

export interface RouteProblem {
  method: string;
  url: string;
  problem: 'missing_scope' | 'unknown_scope' | 'client_scoped_without_client_id';
  message: string;
}

export function isRouteScope(value: unknown): value is RouteScope {
  return typeof value === 'string' && (ROUTE_SCOPES as readonly string[]).includes(value);
}

/** True when a path segment is the `clientId` parameter, in either notation. */
export function hasClientIdParam(url: string): boolean {
  return url.split('/').some((segment) => segment === ':clientId' || segment === '{clientId}');
}

/** Every way the table breaks the rules, one problem per route and rule; empty when it is sound. */
export function checkRouteTable(entries: readonly RouteEntry[]): RouteProblem[] {
  const problems: RouteProblem[] = [];
  for (const { method, url, scope } of entries) {
    const where = `${method.toUpperCase()} ${url}`;
    if (scope === undefined || scope === null || scope === '') {
      problems.push({ method, url, problem: 'missing_scope', message: `${where}: declares no route scope` });
    } else if (!isRouteScope(scope)) {
      problems.push({
        method,
        url,
        problem: 'unknown_scope',
        message: `${where}: unknown route scope ${JSON.stringify(scope)} (expected ${ROUTE_SCOPES.join(', ')})`,
      });
    } else if (scope === 'client-scoped' && !hasClientIdParam(url)) {
      problems.push({
        method,
        url,
        problem: 'client_scoped_without_client_id',
        message: `${where}: client-scoped but its URL has no :clientId parameter`,
      });
    }
  }
  return problems;
}
