import { createConfig, lintFromString } from '@redocly/openapi-core';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireOperationNames } from '../plugins/openapi.ts';
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
    const LISTS = [
      'listClients',
      'listContacts',
      'listCycles',
      'listCyclesDueSoon',
      'listRequests',
      'listFiles',
      'listPortalFiles',
      'listClientAuditEvents',
      'listAuditEvents',
      'listStaffUsers',
      'listAssignments',
      'listTemplates',
      'listRecurringSchedules',
      'listOutstandingItems',
    ];
    const byId = Object.fromEntries(operations.map(([, op]) => [op.operationId, op]));
    const paged = operations.filter(([, op]) => op.parameters?.some((p) => p.in === 'query' && p.name === 'cursor'));
    expect(paged.map(([, op]) => op.operationId).sort()).toEqual([...LISTS].sort());
    for (const id of LISTS) {
      const op = byId[id] as Operation;
      const limit = op.parameters?.find((p) => p.in === 'query' && p.name === 'limit');
      expect(limit?.schema, id).toMatchObject({ minimum: 1, maximum: 500, default: 100 });
      expect(op.parameters?.find((p) => p.name === 'cursor')?.required, id).toBe(false);
      expect(Object.keys(op.responses['200']?.headers ?? {}).sort(), id).toEqual(['link', 'x-next-cursor']);
    }
  });

  it('a product route without an operationId and a summary refuses to boot', async () => {
    const bare = Fastify();
    bare.addHook('onRoute', requireOperationNames);
    bare.get('/named', { schema: { operationId: 'getNamed', summary: 'Named' } }, async () => ({}));
    expect(() => bare.get('/unnamed', { schema: {} }, async () => ({}))).toThrow(/operationId/);
    await bare.close();
  });
});
