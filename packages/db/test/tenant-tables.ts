import type pg from 'pg';
import { pgExecutor, type SqlExecutor } from '../src/sql-executor.ts';

/**
 * The tables holding a tenant's rows and the column that names the tenant, read from a migrated
 * database's catalogue: every relation in public with a client_id column, and clients (the
 * tenant directory) by its id. roles.test.ts holds each of them to RLS and the one tenant policy,
 * so a new tenant table is under those checks without a line anywhere.
 */
export async function readTenantTables(owner: pg.Client | SqlExecutor): Promise<Record<string, 'client_id' | 'id'>> {
  const sql = 'exec' in owner ? owner : pgExecutor(owner);
  const withClientId = await sql.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.columns
     WHERE table_schema = 'public' AND column_name = 'client_id' ORDER BY table_name`,
  );
  return Object.fromEntries([['clients', 'id'], ...withClientId.map((row) => [row.table_name, 'client_id'] as const)]);
}
