import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { dumpOpenApi, renderSchemaTypes, SCHEMA_FILE } from '../scripts/api-spec.ts';

describe('the generated API client', () => {
  it('matches the API routes as they are now (a route change that breaks the web fails here): run `pnpm --filter @breezycorp/web gen:api`', async () => {
    const committed = await readFile(SCHEMA_FILE, 'utf8');
    const fresh = await renderSchemaTypes(await dumpOpenApi());
    expect(fresh === committed, 'src/generated/api-schema.ts is stale: run `pnpm --filter @breezycorp/web gen:api`').toBe(true);
  });
});
