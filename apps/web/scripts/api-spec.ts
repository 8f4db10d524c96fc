import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildApp, parseConfig } from '@breezycorp/api';
import { migrate, openDatabase } from '@breezycorp/db/unsafe';
import openapiTS, { astToString } from 'openapi-typescript';

/** Where the generated client types live (committed; biome skips `src/generated`). */
export const SCHEMA_FILE = path.resolve(import.meta.dirname, '../src/generated/api-schema.ts');

/**
 * The API's `/openapi.json`, read from `buildApp` without listening: an embedded
 * database in a temporary directory, migrated, and one `inject`.
 */
export async function dumpOpenApi(): Promise<Record<string, unknown>> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'spade-openapi-'));
  const config = parseConfig({ SPADE_DATA_DIR: dataDir, LOG_LEVEL: 'silent' });
  if (config.database.kind !== 'pglite') throw new Error('expected the embedded database');
  const db = await openDatabase(config.database);
  try {
    await db.withSql((sql) => migrate(sql));
    const app = await buildApp(config, { db, logger: false });
    try {
      const response = await app.inject({ method: 'GET', url: '/openapi.json' });
      if (response.statusCode !== 200) throw new Error(`/openapi.json answered ${response.statusCode}`);
      return response.json();
    } finally {
      await app.close();
    }
  } finally {
    await db.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** The TypeScript types openapi-fetch uses, from the spec. */
export async function renderSchemaTypes(spec: Record<string, unknown>): Promise<string> {
  const ast = await openapiTS(spec as never);
  return `/** Generated from the API's /openapi.json by \`pnpm --filter @breezycorp/web gen:api\`. Do not edit. */\n${astToString(ast)}`;
}
