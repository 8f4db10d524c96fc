import type { SqlExecutor } from '../src/sql-executor.ts';

/**
 * The tables holding a tenant's rows and the column that names the tenant, read from a migrated
 * database's catalogue: every table in public with a client_id column, and clients (the
 * tenant directory) by its id. roles.test.ts holds each of them to RLS and the one tenant policy,
 * so a new tenant table is under those checks without a line anywhere.
 */
export async function readTenantTables(sql: SqlExecutor): Promise<Record<string, 'client_id' | 'id'>> {
  // Tables only: a view holds no rows of its own (and cannot carry RLS).
  const withClientId = await sql.query<{ table_name: string }>(
    `SELECT c.table_name FROM information_schema.columns c
     JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
     WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' AND c.column_name = 'client_id'
     ORDER BY c.table_name`,
  );
  return Object.fromEntries([['clients', 'id'], ...withClientId.map((row) => [row.table_name, 'client_id'] as const)]);
}
