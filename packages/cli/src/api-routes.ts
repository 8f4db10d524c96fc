import { CliError, EXIT, type Io } from './io.ts';

/**
 * The running API's route table, read from its `GET /openapi.json` (DESIGN.md §5): every
 * operation there carries `x-route-scope`. Paths are given in Fastify's form
 * (`/api/clients/:clientId`), the form the kill switch stores.
 */
export interface ApiRoute {
  method: string;
  path: string;
  scope: unknown;
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
export const DEFAULT_API_URL = 'http://127.0.0.1:3000';
const FETCH_TIMEOUT_MS = 5_000;

export function apiBaseUrl(io: Io, option?: string): string {
  return (option ?? io.env.SPADE_API_URL ?? DEFAULT_API_URL).replace(/\/+$/, '');
}

/** `{clientId}` → `:clientId`. */
export function toFastifyPath(openApiPath: string): string {
  return openApiPath.replace(/\{([^}/]+)\}/g, ':$1');
}

export function routesFromOpenApi(spec: unknown): ApiRoute[] {
  const paths = (spec as { paths?: unknown } | null)?.paths;
  if (paths === null || typeof paths !== 'object') throw new CliError('The API answered /openapi.json without a "paths" object');
  const routes: ApiRoute[] = [];
  for (const [openApiPath, item] of Object.entries(paths as Record<string, unknown>)) {
    if (item === null || typeof item !== 'object') continue;
    for (const [key, operation] of Object.entries(item as Record<string, unknown>)) {
      if (!HTTP_METHODS.includes(key.toLowerCase()) || operation === null || typeof operation !== 'object') continue;
      routes.push({
        method: key.toUpperCase(),
        path: toFastifyPath(openApiPath),
        scope: (operation as Record<string, unknown>)['x-route-scope'],
      });
    }
  }
  return routes.sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
}

/** Fetches the live route table; exit 5 when the API cannot be reached. */
export async function fetchApiRoutes(baseUrl: string): Promise<ApiRoute[]> {
  const url = `${baseUrl}/openapi.json`;
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), headers: { accept: 'application/json' } });
  } catch (error) {
    const cause = (error as Error & { cause?: Error }).cause?.message ?? (error as Error).message;
    throw new CliError(`Cannot reach the API at ${url}: ${cause} (set SPADE_API_URL or --api)`, EXIT.apiDown);
  }
  if (!response.ok) throw new CliError(`The API answered ${url} with HTTP ${response.status}`);
  let spec: unknown;
  try {
    spec = await response.json();
  } catch {
    throw new CliError(`The API's ${url} is not JSON`);
  }
  return routesFromOpenApi(spec);
}

/** Does a route pattern match a path, where the path is either a concrete URL or a pattern itself? */
export function patternMatches(pattern: string, path: string): boolean {
  const want = pattern.split('/');
  const got = path
    .replace(/[?#].*$/, '')
    .replace(/(.)\/+$/, '$1')
    .split('/');
  for (let i = 0; i < want.length; i++) {
    const segment = want[i]!;
    if (segment === '*') return true;
    const actual = got[i];
    if (actual === undefined) return false;
    if (segment.startsWith(':')) {
      if (actual === '') return false;
      continue;
    }
    if (segment !== actual) return false;
  }
  return want.length === got.length;
}

/** The routes serving a path: its exact pattern if listed, else every pattern that matches it. */
export function routesForPath(routes: readonly ApiRoute[], path: string): ApiRoute[] {
  const normalized = toFastifyPath(path);
  const exact = routes.filter((route) => route.path === normalized);
  if (exact.length > 0) return exact;
  return routes.filter((route) => patternMatches(route.path, normalized));
}

export interface RouteRef {
  method: string;
  path: string;
}

/** `"GET /api/clients/:clientId/cycles"` → { method: 'GET', path: '/api/clients/:clientId/cycles' }. */
export function parseRouteRef(text: string): RouteRef {
  const match = /^\s*([A-Za-z]+)\s+(\/\S*)\s*$/.exec(text);
  if (!match || !HTTP_METHODS.includes(match[1]!.toLowerCase())) {
    throw new CliError(
      `"${text}" is not a route: write it as "<METHOD> <path>", e.g. "GET /api/clients/:clientId/cycles/:cycleId"`,
      EXIT.usage,
    );
  }
  return { method: match[1]!.toUpperCase(), path: toFastifyPath(match[2]!) };
}
