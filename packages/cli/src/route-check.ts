/**
 * The route rules of DESIGN.md §3, as a pure function: the API's route-coverage test runs
 * it on the live router's table, `spade routes check` on a running API's /openapi.json.
 * Keep it free of imports so both can load it cheaply.
 */
export const ROUTE_SCOPE_VALUES = ['public', 'staff-only', 'client-scoped'] as const;
export type RouteScopeValue = (typeof ROUTE_SCOPE_VALUES)[number];

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

export function isRouteScopeValue(value: unknown): value is RouteScopeValue {
  return typeof value === 'string' && (ROUTE_SCOPE_VALUES as readonly string[]).includes(value);
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
    } else if (!isRouteScopeValue(scope)) {
      problems.push({
        method,
        url,
        problem: 'unknown_scope',
        message: `${where}: unknown route scope ${JSON.stringify(scope)} (expected ${ROUTE_SCOPE_VALUES.join(', ')})`,
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
