import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Database } from '@breezycorp/db';
import type { FastifyPluginAsync } from 'fastify';
import type { Config } from '../config.ts';
import { requireOperationNames } from '../plugins/openapi.ts';
import health from './health.ts';

export interface RouteDeps {
  config: Config;
  db: Database;
}

/**
 * What a resource module is handed: only the dependencies it names in its `routeDeps` export,
 * none by default. A client-scoped handler works through `request.scope` (the unit of work's
 * scoped client); the `Database` would let it open a unit for any client, so it goes only to
 * the modules that must act before a tenant is known or across tenants (auth, portal, bulk
 * requests), each saying so in its own file.
 */
export type RouteOptions<K extends readonly (keyof RouteDeps)[]> = Pick<RouteDeps, K[number]>;

const DEP_NAMES: readonly (keyof RouteDeps)[] = ['config', 'db'];
export const ROUTES_DIR = path.dirname(fileURLToPath(import.meta.url));

export interface ResourceModule {
  /** The folder under routes/, e.g. `cycles`. */
  name: string;
  plugin: FastifyPluginAsync<never>;
  deps: readonly (keyof RouteDeps)[];
}

/**
 * Every resource: each folder of routes/ is one, its `index.ts` default-exporting the plugin
 * that registers its routes (and `routeDeps` when it needs any). Sorted by folder name. A folder
 * without an index.ts, an index.ts without a plugin, or a dependency nobody provides fails the
 * boot, never skips a resource.
 */
export async function resourceModules(dir = ROUTES_DIR): Promise<ResourceModule[]> {
  const folders = (await readdir(dir, { withFileTypes: true }))
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
  const modules: ResourceModule[] = [];
  for (const name of folders) {
    const file = path.join(dir, name, 'index.ts');
    const files = await readdir(path.join(dir, name));
    if (!files.includes('index.ts')) throw new Error(`routes/${name}/ has no index.ts: every folder of routes/ is a resource`);
    const module = (await import(pathToFileURL(file).href)) as { default?: unknown; routeDeps?: unknown };
    if (typeof module.default !== 'function') throw new Error(`routes/${name}/index.ts must default-export its routes plugin`);
    const deps = module.routeDeps ?? [];
    if (!Array.isArray(deps) || !deps.every((dep) => DEP_NAMES.includes(dep))) {
      throw new Error(`routes/${name}/index.ts: routeDeps must list only ${DEP_NAMES.join(', ')}; got ${JSON.stringify(deps)}`);
    }
    modules.push({ name, plugin: module.default as FastifyPluginAsync<never>, deps });
  }
  return modules;
}

/** Every resource, one folder each, found by resourceModules. Each route declares its routeScope in its own file. */
const routes: FastifyPluginAsync<RouteDeps> = async (app, deps) => {
  // Every product route names itself for the OpenAPI document (operationId, summary).
  app.addHook('onRoute', requireOperationNames);
  await app.register(health, { db: deps.db });
  for (const resource of await resourceModules()) {
    const options = Object.fromEntries(resource.deps.map((dep) => [dep, deps[dep]]));
    await app.register(resource.plugin as FastifyPluginAsync<Record<string, unknown>>, options);
  }
};

export default routes;
