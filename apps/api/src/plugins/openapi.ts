import swagger from '@fastify/swagger';
import fp from 'fastify-plugin';
import { CONTACT_COOKIE, STAFF_COOKIE } from './auth.ts';
import type { RouteTableEntry } from './scope-enforcer.ts';

export class OpenApiContractError extends Error {
  override name = 'OpenApiContractError';
}

type Operation = Record<string, unknown> & {
  responses?: Record<string, { content?: Record<string, { schema?: { format?: string } }> }>;
};
type Spec = { paths?: Record<string, Record<string, Operation>> } & Record<string, unknown>;

/**
 * The product's routes must name themselves (routes/index.ts installs this as an onRoute
 * hook): operationId and summary, which the generated web client and the docs rely on.
 */
export function requireOperationNames(route: { method: string | string[]; url: string; schema?: unknown }): void {
  const schema = route.schema as { hide?: boolean; operationId?: unknown; summary?: unknown } | undefined;
  if (schema?.hide || route.method === 'HEAD') return;
  if (typeof schema?.operationId !== 'string' || typeof schema.summary !== 'string') {
    throw new OpenApiContractError(`Route ${String(route.method)} ${route.url} must declare schema.operationId and schema.summary`);
  }
}

/** Who may call an operation, as OpenAPI security requirements (any one of them suffices). */
function securityOf(entry: RouteTableEntry): Record<string, string[]>[] {
  if (entry.scope === 'public') return [];
  const requirements: Record<string, string[]>[] = [];
  if (entry.actors.includes('staff')) requirements.push({ bearerAuth: [] }, { staffSession: [], csrfHeader: [] });
  if (entry.actors.includes('contact')) requirements.push({ bearerAuth: [] }, { portalSession: [], csrfHeader: [] });
  // Bearer appears once even when both kinds of actor are admitted.
  return requirements.filter((r, i) => !('bearerAuth' in r) || requirements.findIndex((o) => 'bearerAuth' in o) === i);
}

/** A Fastify URL pattern in OpenAPI's form: `/api/clients/:clientId` → `/api/clients/{clientId}` (a regex constraint dropped). */
export function openApiPath(url: string): string {
  return url.replace(/:(\w+)(\([^)]*\))?/g, '{$1}');
}

/**
 * `GET /openapi.json`: OpenAPI 3 from the route schemas, lint-clean under Redocly's
 * recommended rules (`openapi-contract.test.ts`). Every operation names itself (operationId,
 * summary — a product route without them refuses to boot), says who may call it (security from the
 * route's scope and actors, plus `x-route-scope`, `x-actors`, `x-admin-only`), documents
 * upload bodies as multipart and downloads as bytes.
 */
export default fp(
  async (app) => {
    await app.register(swagger, {
      openapi: {
        info: {
          title: 'Spade API',
          version: '0.2.0',
          description: 'The client portal of a professional-services firm: clients (tenants), cycles, requests, files, audit.',
          license: { name: 'Proprietary', url: 'https://example.invalid/spade/license' },
        },
        servers: [{ url: '/', description: 'This Spade instance (same origin as the web app)' }],
        components: {
          securitySchemes: {
            bearerAuth: { type: 'http', scheme: 'bearer', description: 'A staff session token or a contact portal session token' },
            staffSession: { type: 'apiKey', in: 'cookie', name: STAFF_COOKIE, description: 'The staff console session (HttpOnly)' },
            portalSession: { type: 'apiKey', in: 'cookie', name: CONTACT_COOKIE, description: 'The contact portal session (HttpOnly)' },
            csrfHeader: { type: 'apiKey', in: 'header', name: 'x-csrf-token', description: 'Required with a cookie session on writes' },
          },
        },
      },
      transformObject: (documentObject) => {
        const spec = (documentObject as { openapiObject: Spec }).openapiObject;
        for (const entry of app.routeTable) {
          const path = openApiPath(entry.url);
          const operation = spec.paths?.[path]?.[entry.method.toLowerCase()];
          if (!operation) continue;
          operation['x-route-scope'] = entry.scope;
          operation['x-actors'] = entry.actors;
          if (entry.adminOnly) operation['x-admin-only'] = true;
          operation.security = securityOf(entry);
          if (entry.upload) {
            operation.requestBody = {
              required: true,
              content: {
                'multipart/form-data': {
                  schema: {
                    type: 'object',
                    required: ['file'],
                    properties: { file: { type: 'string', format: 'binary', description: 'Exactly one file, not empty' } },
                  },
                },
              },
            };
          }
          const ok = operation.responses?.['200'];
          const json = ok?.content?.['application/json'];
          if (ok && json?.schema?.format === 'binary') {
            ok.content = { 'application/octet-stream': { schema: { format: 'binary' } } };
          }
        }
        return spec;
      },
    });
  },
  { name: 'openapi', dependencies: ['scope-enforcer'] },
);
