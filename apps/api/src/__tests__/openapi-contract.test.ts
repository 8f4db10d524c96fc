import { createConfig, lintFromString } from '@redocly/openapi-core';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireOperationNames } from '../plugins/openapi.ts';
import {
  BOUNDED_VIEWS,
  listEnvelope,
  listOperations,
  type OpenApiDocument,
  type OpenApiOperation,
  takesPaging,
} from './support/paged-lists.ts';
import { createTestApp, type TestApp } from './support/test-app.ts';

/**
 * The OpenAPI document is a contract other tools (the web app's generated client, API
 * consumers) rely on: lint-clean under Redocly's recommended rules, every operation named,
 * its callers declared, uploads and downloads described as what they are.
 */
let t: TestApp;
type Operation = {
  operationId?: string;
  parameters?: { in: string; name: string; required?: boolean; schema?: { minimum?: number; maximum?: number; default?: unknown } }[];
  summary?: string;
  security?: Record<string, string[]>[];
  requestBody?: { content: Record<string, unknown> };
  responses: Record<string, { content?: Record<string, unknown>; headers?: Record<string, unknown> }>;
  'x-route-scope'?: string;
  'x-actors'?: string[];
  'x-admin-only'?: boolean;
};
let spec: { paths: Record<string, Record<string, Operation>>; servers?: unknown[] };
let operations: [string, Operation][];

beforeAll(async () => {
  t = await createTestApp();
  const response = await t.app.inject({ method: 'GET', url: '/openapi.json' });
  spec = response.json();
  operations = Object.entries(spec.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => [`${method.toUpperCase()} ${path}`, op] as [string, Operation]),
  );
});
afterAll(async () => {
  await t?.close();
});

describe('GET /openapi.json', () => {
  it("is clean under Redocly's recommended lint rules (no error, no warning)", async () => {
    const config = await createConfig({ extends: ['recommended'] });
    const problems = await lintFromString({ source: JSON.stringify(spec), absoluteRef: 'openapi.json', config });
    expect(problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location?.[0]?.pointer}`)).toEqual([]);
  });

  it('names every operation once, with a summary', () => {
    const ids = operations.map(([, op]) => op.operationId);
    expect(ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z]+$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(operations.every(([, op]) => typeof op.summary === 'string' && op.summary.length > 0)).toBe(true);
  });

  it('declares who may call each operation: public ones need nothing, the rest a session', () => {
    for (const [name, op] of operations) {
      expect(Array.isArray(op.security), name).toBe(true);
      if (op['x-route-scope'] === 'public') expect(op.security, name).toEqual([]);
      else expect(op.security?.length, name).toBeGreaterThan(0);
    }
    const byId = Object.fromEntries(operations.map(([, op]) => [op.operationId, op]));
    expect(byId.getPortalRequest?.['x-actors']).toEqual(['contact']);
    expect(byId.getPortalRequest?.security).toContainEqual({ portalSession: [], csrfHeader: [] });
    expect(byId.createClient?.['x-admin-only']).toBe(true);
    expect(byId.listContacts?.['x-admin-only']).toBeUndefined();
  });

  it('documents upload bodies as multipart with one file, and downloads as bytes', () => {
    const byId = Object.fromEntries(operations.map(([, op]) => [op.operationId, op]));
    for (const id of ['uploadItemFile', 'portalUploadFile']) {
      expect(Object.keys(byId[id]?.requestBody?.content ?? {}), id).toEqual(['multipart/form-data']);
    }
    for (const id of ['downloadFile', 'portalDownloadFile']) {
      expect(Object.keys(byId[id]?.responses['200']?.content ?? {}), id).toEqual(['application/octet-stream']);
    }
  });

  it('documents paging on every list: limit (1–500, default 100), an optional cursor, and the next-page headers', () => {
    // A list is found by its shape (support/paged-lists.ts: a GET whose 200 body holds one array), not by name.
    const lists = listOperations(spec as OpenApiDocument);
    const ids = lists.map((list) => list.operationId);
    expect(ids).toEqual(expect.arrayContaining(['listClients', 'listCycles', 'listFiles', 'listPortalFiles', 'listAuditEvents']));
    for (const { operationId: id, operation } of lists) {
      const op = operation as Operation;
      const limit = op.parameters?.find((p) => p.in === 'query' && p.name === 'limit');
      expect(limit?.schema, id).toMatchObject({ minimum: 1, maximum: 500, default: 100 });
      expect(limit?.required, id).toBe(false);
      expect(op.parameters?.find((p) => p.in === 'query' && p.name === 'cursor')?.required, id).toBe(false);
      expect(Object.keys(op.responses['200']?.headers ?? {}).sort(), id).toEqual(['link', 'x-next-cursor']);
    }
    // Only lists are paged: every operation taking a limit or a cursor is one of them.
    const paged = operations.filter(([, op]) => takesPaging(op as OpenApiOperation)).map(([, op]) => op.operationId);
    expect(paged.sort()).toEqual([...ids].sort());
    // The bounded views named as not lists still exist, still look like one, and are not paged (no stale exception).
    for (const [id, why] of Object.entries(BOUNDED_VIEWS)) {
      const found = operations.find(([, op]) => op.operationId === id);
      expect(found, `${id} (${why})`).toBeDefined();
      const [name, op] = found as [string, Operation];
      expect(listEnvelope(spec as OpenApiDocument, name.split(' ')[0] as string, op as OpenApiOperation), id).not.toBeNull();
      expect(takesPaging(op as OpenApiOperation), id).toBe(false);
    }
  });

  it('finds a list by its shape, so an unpaged new list fails the check above', () => {
    const view = { type: 'object', properties: { id: { type: 'string' } } };
    const ok = (schema: unknown) => ({ responses: { '200': { content: { 'application/json': { schema } } } } });
    const doc: OpenApiDocument = {
      paths: {
        '/api/clients/{clientId}/notes': {
          get: { operationId: 'listNotes', ...ok({ type: 'object', properties: { notes: { type: 'array', items: view } } }) },
        },
        '/api/clients/{clientId}/notes/{noteId}': { get: { operationId: 'getNote', ...ok(view) } },
        '/api/clients/{clientId}/report': {
          get: { operationId: 'getReport', ...ok({ type: 'object', properties: { asOf: { type: 'string' }, rows: { type: 'array' } } }) },
        },
        '/api/clients/{clientId}/refs': { get: { operationId: 'listRefs', ...ok({ $ref: '#/components/schemas/Refs' }) } },
      },
      components: {
        schemas: { Refs: { type: 'object', properties: { refs: { $ref: '#/components/schemas/RefArray' } } }, RefArray: { type: 'array' } },
      },
    };
    expect(listOperations(doc).map((list) => list.operationId)).toEqual(['listNotes', 'listRefs']);
    expect(takesPaging(doc.paths['/api/clients/{clientId}/notes']?.get as OpenApiOperation)).toBe(false);
  });

  it('a product route without an operationId and a summary refuses to boot', async () => {
    const bare = Fastify();
    bare.addHook('onRoute', requireOperationNames);
    bare.get('/named', { schema: { operationId: 'getNamed', summary: 'Named' } }, async () => ({}));
    expect(() => bare.get('/unnamed', { schema: {} }, async () => ({}))).toThrow(/operationId/);
    await bare.close();
  });
});
