import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMigratedDatabase, type TestDatabase } from '../src/testing.ts';

/*
 * Ready for more than one database machine (docs/scaling.md): with Citus, every tenant
 * table is `create_distributed_table(table, 'client_id')` and every firm-wide table a
 * reference table. Citus accepts that only if
 *   - the distribution column is never NULL (an INSERT with NULL in it is refused);
 *   - every primary key and unique constraint/index of a distributed table includes it;
 *   - a foreign key between two distributed tables includes it on both sides, in the
 *     same position (co-located joins), while one from a distributed table to a
 *     reference table is fine;
 *   - a reference table has no foreign key to a distributed table;
 *   - all distribution columns have one type (co-location).
 * This reads the migrated catalogue, so a new table or key that breaks a rule fails here.
 */

/** Tenant tables that cannot be distributed yet, and why (each is a known gap in docs/scaling.md). */
const NOT_YET_DISTRIBUTABLE: Readonly<Record<string, string>> = {
  audit_events:
    'firm-wide events have client_id NULL (and so a primary key on id alone); under Citus they go to a single-shard table or their own',
};

/**
 * `clients` is the tenant directory: small, read by every shard, with a firm-wide unique
 * UEN, so it is a reference table; the tenant tables reference it through client_id.
 */
const REFERENCE_TENANT_DIRECTORY = 'clients';

interface Catalogue {
  tables: string[];
  clientIdColumns: Map<string, { nullable: boolean; type: string }>;
  /** Unique indexes (primary keys included) and their key columns; an expression column is null. */
  uniques: { table: string; name: string; primary: boolean; columns: (string | null)[] }[];
  foreignKeys: { table: string; name: string; columns: string[]; refTable: string; refColumns: string[] }[];
}

let testDb: TestDatabase;
let catalogue: Catalogue;

async function readCatalogue(url: string): Promise<Catalogue> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const tables = (
      await client.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname <> 'spade_migrations' ORDER BY 1`,
      )
    ).rows.map((r) => r.name);
    const clientIdColumns = new Map(
      (
        await client.query<{ table: string; nullable: boolean; type: string }>(
          `SELECT c.relname AS table, NOT a.attnotnull AS nullable, format_type(a.atttypid, a.atttypmod) AS type
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND a.attname = 'client_id' AND NOT a.attisdropped`,
        )
      ).rows.map((r) => [r.table, { nullable: r.nullable, type: r.type }]),
    );
    const uniques = (
      await client.query<{ table: string; name: string; primary: boolean; columns: (string | null)[] }>(
        `SELECT t.relname AS table, i.relname AS name, x.indisprimary AS primary,
                ARRAY(SELECT a.attname::text FROM unnest(x.indkey[0:x.indnkeyatts - 1]) WITH ORDINALITY k(attnum, n)
                        LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum AND k.attnum <> 0
                      ORDER BY k.n) AS columns
           FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
           JOIN pg_namespace n ON n.oid = t.relnamespace
          WHERE n.nspname = 'public' AND x.indisunique`,
      )
    ).rows;
    const foreignKeys = (
      await client.query<{ table: string; name: string; columns: string[]; refTable: string; refColumns: string[] }>(
        `SELECT t.relname AS table, c.conname AS name, r.relname AS "refTable",
                ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(attnum, n)
                        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.n) AS columns,
                ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(attnum, n)
                        JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum ORDER BY k.n) AS "refColumns"
           FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_class r ON r.oid = c.confrelid
           JOIN pg_namespace n ON n.oid = t.relnamespace
          WHERE n.nspname = 'public' AND c.contype = 'f'`,
      )
    ).rows;
    return { tables, clientIdColumns, uniques, foreignKeys };
  } finally {
    await client.end();
  }
}

/** Tables with a client_id column: distributed by it. Everything else (and the tenant directory): reference tables. */
const isDistributed = (table: string) => catalogue.clientIdColumns.has(table);
const distributedTables = () => catalogue.tables.filter(isDistributed);
const checked = () => distributedTables().filter((table) => !(table in NOT_YET_DISTRIBUTABLE));

beforeAll(async () => {
  testDb = await createMigratedDatabase('spade_distribution');
  catalogue = await readCatalogue(testDb.ownerUrl);
});

afterAll(async () => {
  await testDb?.drop();
});

describe('every tenant table could be distributed by client_id (Citus)', () => {
  it('finds the tenant tables the design names, and the tenant directory as a reference table', () => {
    for (const table of ['contacts', 'staff_client_assignments', 'cycles', 'cycle_requests', 'request_items', 'files']) {
      expect(distributedTables()).toContain(table);
    }
    expect(isDistributed(REFERENCE_TENANT_DIRECTORY)).toBe(false);
    for (const table of Object.keys(NOT_YET_DISTRIBUTABLE)) expect(distributedTables()).toContain(table);
  });

  it('never lets client_id be NULL, and gives it one type everywhere (co-location)', () => {
    const nullable = checked().filter((table) => catalogue.clientIdColumns.get(table)!.nullable);
    expect(nullable).toEqual([]);
    const types = new Set(distributedTables().map((table) => catalogue.clientIdColumns.get(table)!.type));
    expect([...types]).toEqual(['uuid']);
  });

  it('includes client_id in every primary key and unique index of a tenant table', () => {
    const offenders = catalogue.uniques
      .filter((u) => checked().includes(u.table) && !u.columns.includes('client_id'))
      .map((u) => `${u.table}.${u.name} (${u.columns.map((c) => c ?? '<expression>').join(', ')})`);
    expect(offenders).toEqual([]);
    for (const table of checked()) {
      const primary = catalogue.uniques.find((u) => u.table === table && u.primary);
      expect(primary?.columns, `${table} has a primary key with client_id`).toContain('client_id');
    }
  });

  it('joins tenant tables only by foreign keys that carry client_id to client_id', () => {
    const offenders = catalogue.foreignKeys
      .filter((fk) => isDistributed(fk.table) && isDistributed(fk.refTable))
      .filter((fk) => {
        const at = fk.columns.indexOf('client_id');
        return at === -1 || fk.refColumns[at] !== 'client_id';
      })
      .map((fk) => `${fk.table}.${fk.name} (${fk.columns.join(', ')}) → ${fk.refTable} (${fk.refColumns.join(', ')})`);
    expect(offenders).toEqual([]);
  });

  it('points every foreign key of a tenant table at the tenant directory through client_id itself', () => {
    const offenders = catalogue.foreignKeys
      .filter((fk) => isDistributed(fk.table) && fk.refTable === REFERENCE_TENANT_DIRECTORY)
      .filter((fk) => fk.columns.join(',') !== 'client_id' || fk.refColumns.join(',') !== 'id')
      .map((fk) => `${fk.table}.${fk.name}`);
    expect(offenders).toEqual([]);
  });

  it('gives reference tables no foreign key into a tenant table', () => {
    const offenders = catalogue.foreignKeys
      .filter((fk) => !isDistributed(fk.table) && isDistributed(fk.refTable))
      .map((fk) => `${fk.table}.${fk.name} → ${fk.refTable}`);
    expect(offenders).toEqual([]);
  });
});
