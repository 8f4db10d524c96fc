import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../app.ts';
import { resourceModules } from '../routes/index.ts';
import { checkRouteTable, ROUTE_SCOPES } from '../tenancy/route-scope.ts';
import { createTestApp, type TestApp } from './support/test-app.ts';

/**
 * The runbook's CI gate: every route that buildApp registers declares a valid scope, and
 * a client-scoped route carries :clientId. Run on its own with
 *   pnpm --filter @breezycorp/api vitest run src/__tests__/route-coverage.test.ts
 */
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ seed: false });
});
afterAll(async () => {
  await t?.close();
});

/** buildApp with one extra route: the boot check must refuse it. */
const bootWith = (extraRoutes: (app: FastifyInstance) => Promise<void>) =>
  buildApp(t.config, { db: t.db, adminDb: t.adminDb, logger: false, extraRoutes });

describe('route coverage', () => {
  it('every route registered by buildApp declares a known routeScope', () => {
    const table = t.app.routeTable;
    expect(table.length).toBeGreaterThan(20);
    for (const route of table) expect(ROUTE_SCOPES, `${route.method} ${route.url}`).toContain(route.scope);
    // The table is the live router's: each entry is a route Fastify really serves.
    for (const route of table) expect(t.app.hasRoute({ method: route.method as 'GET', url: route.url }), route.url).toBe(true);
  });

  it('the live table passes the same rule check as `spade routes check`', () => {
    expect(checkRouteTable(t.app.routeTable)).toEqual([]);
    // The check is not vacuous: the same table with one scope dropped fails it.
    const broken = t.app.routeTable.map((route, i) => (i === 0 ? { ...route, scope: undefined } : route));
    expect(checkRouteTable(broken)).toHaveLength(1);
  });

  it('every client-scoped route carries :clientId in its URL', () => {
    const clientScoped = t.app.routeTable.filter((route) => route.scope === 'client-scoped');
    expect(clientScoped.length).toBeGreaterThan(10);
    for (const route of clientScoped) expect(route.url, `${route.method} ${route.url}`).toContain(':clientId');
  });

  it('HEAD routes are covered too', () => {
    const heads = t.app.routeTable.filter((route) => route.method === 'HEAD');
    expect(heads.length).toBeGreaterThan(0);
    for (const head of heads) {
      const get = t.app.routeTable.find((route) => route.method === 'GET' && route.url === head.url);
      expect(head.scope).toBe(get?.scope);
    }
  });

  it('buildApp refuses to boot with a route that declares no scope', async () => {
    await expect(
      bootWith(async (app) => {
        app.get('/api/undeclared', async () => ({ leaked: true }));
      }),
    ).rejects.toThrow(/declares no valid config.routeScope/);
  });

  it('buildApp refuses to boot with an unknown scope', async () => {
    await expect(
      bootWith(async (app) => {
        app.get('/api/misdeclared', { config: { routeScope: 'tenant' as never } }, async () => ({}));
      }),
    ).rejects.toThrow(/declares no valid config.routeScope/);
  });

  it('buildApp refuses a client-scoped route without :clientId', async () => {
    await expect(
      bootWith(async (app) => {
        app.get('/api/files/:fileId', { config: { routeScope: 'client-scoped' } }, async () => ({}));
      }),
    ).rejects.toThrow(/must carry :clientId/);
  });

  it('the boot check and the CI gate are one rule: a client-scoped URL whose segment only starts with :clientId is refused by both', async () => {
    const url = '/api/tenants/:clientIdentity/files';
    expect(checkRouteTable([{ method: 'GET', url, scope: 'client-scoped' }]).map((p) => p.problem)).toEqual([
      'client_scoped_without_client_id',
    ]);
    await expect(
      bootWith(async (app) => {
        app.get(url, { config: { routeScope: 'client-scoped' } }, async () => ({}));
      }),
    ).rejects.toThrow(/must carry :clientId/);
  });

  it("the runbook's grep finds routeScope in every route file", async () => {
    const routesDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../routes');
    const files = (await readdir(routesDir, { recursive: true })).filter((f) => f.endsWith('.ts'));
    let checked = 0;
    for (const file of files) {
      const source = await readFile(path.join(routesDir, file), 'utf8');
      if (!/\bapp\.(get|post|put|patch|delete|route)\(/.test(source)) continue;
      checked += 1;
      expect(source, file).toContain('routeScope');
    }
    expect(checked).toBeGreaterThanOrEqual(5);
  });

  it('registers every resource folder of routes/: each route a route file declares is served by the live app', async () => {
    const routesDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../routes');
    const folders = (await readdir(routesDir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
    expect((await resourceModules()).map((module) => module.name)).toEqual(folders.sort());
    expect(folders.length).toBeGreaterThanOrEqual(10);
    let declared = 0;
    for (const file of (await readdir(routesDir, { recursive: true })).filter((f) => f.endsWith('.ts'))) {
      const source = await readFile(path.join(routesDir, file), 'utf8');
      for (const match of source.matchAll(/\bapp\.(get|post|put|patch|delete)\(\s*'([^']+)'/g)) {
        declared += 1;
        const [method, url] = [match[1]!.toUpperCase(), match[2]!];
        expect(t.app.hasRoute({ method: method as 'GET', url }), `${file}: ${method} ${url}`).toBe(true);
      }
    }
    expect(declared).toBeGreaterThan(50);
  });

  it('hands a resource module only the dependencies it names, and refuses a folder it cannot register', async () => {
    const modules = await resourceModules();
    // The Database goes only where a route must act before a tenant is known or across tenants.
    const withDb = modules.filter((module) => module.deps.includes('db')).map((module) => module.name);
    expect(withDb.sort()).toEqual(['auth', 'bulk-requests', 'portal']);
    expect(modules.find((module) => module.name === 'cycles')?.deps).toEqual([]);

    const dir = await mkdtemp(path.join(tmpdir(), 'spade-routes-'));
    try {
      await mkdir(path.join(dir, 'good'));
      await writeFile(path.join(dir, 'good', 'index.ts'), 'export default async function good() {}\n');
      expect((await resourceModules(dir)).map((module) => [module.name, module.deps])).toEqual([['good', []]]);
      await mkdir(path.join(dir, 'greedy'));
      await writeFile(
        path.join(dir, 'greedy', 'index.ts'),
        "export const routeDeps = ['secrets'];\nexport default async function greedy() {}\n",
      );
      await expect(resourceModules(dir)).rejects.toThrow(/routes\/greedy\/index.ts: routeDeps must list only config, db/);
      await rm(path.join(dir, 'greedy'), { recursive: true });
      await mkdir(path.join(dir, 'headless'));
      await writeFile(path.join(dir, 'headless', 'schema.ts'), 'export const x = 1;\n');
      await expect(resourceModules(dir)).rejects.toThrow(/routes\/headless\/ has no index.ts/);
      await writeFile(path.join(dir, 'headless', 'index.ts'), 'export const routes = 1;\n');
      await expect(resourceModules(dir)).rejects.toThrow(/routes\/headless\/index.ts must default-export its routes plugin/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('OpenAPI marks every operation with its x-route-scope', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(response.statusCode).toBe(200);
    const spec = response.json<{ paths: Record<string, Record<string, { 'x-route-scope'?: string }>> }>();
    const operations = Object.entries(spec.paths).flatMap(([p, ops]) => Object.entries(ops).map(([m, op]) => ({ p, m, op })));
    expect(operations.length).toBeGreaterThan(10);
    for (const { p, m, op } of operations) expect(ROUTE_SCOPES, `${m} ${p}`).toContain(op['x-route-scope']);
  });
});
