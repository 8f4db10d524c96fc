import { openApiPath } from '../../plugins/openapi.ts';

/*
 * Which operations are lists, read from the OpenAPI document alone — the rule of docs/api.md
 * and routes/pagination.ts: a list is a GET whose 200 body is an object holding exactly one
 * property, an array (`{ "cycles": [...] }`, the shape `pagedBody` gives). Every list must be
 * paged, and nothing else may take `limit` or `cursor` (openapi-contract.test.ts); the probe
 * must attack every client-scoped list with cursors (tenant-isolation.test.ts). No list is
 * named anywhere: a new one is found by its shape, and an unpaged one fails.
 */

export interface OpenApiParameter {
  in: string;
  name: string;
  required?: boolean;
  schema?: { minimum?: number; maximum?: number; default?: unknown };
}

export interface OpenApiOperation {
  operationId?: string;
  parameters?: OpenApiParameter[];
  responses?: Record<string, { content?: Record<string, { schema?: unknown }>; headers?: Record<string, unknown> }>;
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation>>;
  components?: { schemas?: Record<string, unknown> };
}

/**
 * The one read of a list's shape that is a bounded view of one thing, not a list: not paged,
 * with its own cap (docs/api.md, "Which routes are lists"). openapi-contract.test.ts fails on an
 * entry here that no longer exists, no longer has a list's shape, or is paged after all.
 */
export const BOUNDED_VIEWS: Readonly<Record<string, string>> = Object.freeze({
  getPortalAccessLog: "the contact's own uploads (at most 1,000), each with the firm's reads of it",
});

type Schema = { $ref?: string; type?: unknown; properties?: Record<string, Schema>; items?: unknown };

function resolve(doc: OpenApiDocument, schema: unknown): Schema | undefined {
  let current = schema as Schema | undefined;
  for (let depth = 0; current?.$ref !== undefined && depth < 10; depth++) {
    const match = /^#\/components\/schemas\/(.+)$/.exec(current.$ref);
    if (!match) throw new Error(`paged-lists: cannot resolve ${current.$ref}`);
    current = doc.components?.schemas?.[match[1] as string] as Schema | undefined;
  }
  return current;
}

/** The name of the one array a GET's 200 JSON body holds, when that is all it holds; else null. */
export function listEnvelope(doc: OpenApiDocument, method: string, operation: OpenApiOperation | undefined): string | null {
  if (method.toLowerCase() !== 'get' || operation === undefined) return null;
  const body = resolve(doc, operation.responses?.['200']?.content?.['application/json']?.schema);
  if (body?.type !== 'object' || body.properties === undefined) return null;
  const properties = Object.entries(body.properties);
  if (properties.length !== 1) return null;
  const [name, property] = properties[0] as [string, Schema];
  return resolve(doc, property)?.type === 'array' ? name : null;
}

export function takesPaging(operation: OpenApiOperation): boolean {
  return operation.parameters?.some((p) => p.in === 'query' && (p.name === 'limit' || p.name === 'cursor')) ?? false;
}

export interface ListOperation {
  method: 'GET';
  /** OpenAPI form: `/api/clients/{clientId}/cycles`. */
  path: string;
  operationId: string;
  operation: OpenApiOperation;
}

/** Every operation of the document that is a list (and so must be paged), the bounded views aside. */
export function listOperations(doc: OpenApiDocument): ListOperation[] {
  const lists: ListOperation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      if (listEnvelope(doc, method, operation) === null) continue;
      const operationId = operation.operationId ?? `${method.toUpperCase()} ${path}`;
      if (Object.hasOwn(BOUNDED_VIEWS, operationId)) continue;
      lists.push({ method: 'GET', path, operationId, operation });
    }
  }
  return lists.sort((a, b) => a.path.localeCompare(b.path));
}

/**
 * The routes of a route table that serve a list: the GET of each list operation and its HEAD
 * twin (Fastify answers HEAD with the GET's handler).
 */
export function routesServingLists<R extends { method: string; url: string }>(doc: OpenApiDocument, routes: readonly R[]): R[] {
  const paths = new Set(listOperations(doc).map((list) => list.path));
  return routes.filter((route) => (route.method === 'GET' || route.method === 'HEAD') && paths.has(openApiPath(route.url)));
}
