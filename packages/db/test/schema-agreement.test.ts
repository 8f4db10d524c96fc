import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma } from '../src/generated/prisma/client.ts';
import { createMigratedDatabase, type TestDatabase } from '../src/testing.ts';
import { type PrismaField, type PrismaModel, readPrismaSchema } from './prisma-schema.ts';

/*
 * The SQL migrations are the source of truth; prisma/schema.prisma is written by hand to
 * match them, and Prisma's CLI cannot check it here (no schema engine). This test is that
 * check: it parses the schema and compares it with the migrated database's catalog, so a
 * column renamed, retyped or made nullable on one side only fails CI instead of production.
 */

/** The column type (information_schema's data_type) and precision a scalar field needs. */
function expectedColumnType(field: PrismaField): { dataType: string; precision?: number } | string {
  const [native, args] = field.nativeType ?? [undefined, undefined];
  const precision = args === undefined || args === '' ? undefined : Number(args);
  switch (field.type) {
    case 'String':
      if (native === undefined || native === 'Text') return { dataType: 'text' };
      if (native === 'Uuid') return { dataType: 'uuid' };
      if (native === 'VarChar') return { dataType: 'character varying' };
      break;
    case 'Int':
      if (native === undefined || native === 'Integer') return { dataType: 'integer' };
      break;
    case 'BigInt':
      if (native === undefined || native === 'BigInt') return { dataType: 'bigint' };
      break;
    case 'Boolean':
      if (native === undefined) return { dataType: 'boolean' };
      break;
    case 'Json':
      if (native === undefined || native === 'JsonB') return { dataType: 'jsonb' };
      if (native === 'Json') return { dataType: 'json' };
      break;
    case 'DateTime':
      // Without a native type Prisma means timestamp(3) without time zone.
      if (native === undefined) return { dataType: 'timestamp without time zone', precision: 3 };
      if (native === 'Timestamptz') return { dataType: 'timestamp with time zone', precision: precision ?? 6 };
      if (native === 'Timestamp') return { dataType: 'timestamp without time zone', precision: precision ?? 6 };
      if (native === 'Date') return { dataType: 'date' };
      break;
    case 'Float':
      if (native === undefined) return { dataType: 'double precision' };
      break;
    case 'Bytes':
      if (native === undefined) return { dataType: 'bytea' };
      break;
  }
  return `unsupported type ${field.type}${native ? ` @db.${native}` : ''}`;
}

interface Catalog {
  columns: Map<string, Map<string, { dataType: string; nullable: boolean; precision: number | null }>>;
  primaryKeys: Map<string, string[]>;
  uniqueIndexes: Map<string, { table: string; columns: string[]; partial: boolean }>;
}

async function readCatalog(client: pg.Client): Promise<Catalog> {
  const columns: Catalog['columns'] = new Map();
  const columnRows = await client.query<{
    table_name: string;
    column_name: string;
    data_type: string;
    is_nullable: string;
    datetime_precision: number | null;
  }>(
    `SELECT c.table_name, c.column_name, c.data_type, c.is_nullable, c.datetime_precision
     FROM information_schema.columns c
     JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
     WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'`,
  );
  for (const row of columnRows.rows) {
    if (!columns.has(row.table_name)) columns.set(row.table_name, new Map());
    columns.get(row.table_name)!.set(row.column_name, {
      dataType: row.data_type,
      nullable: row.is_nullable === 'YES',
      precision: row.datetime_precision,
    });
  }
  const indexRows = await client.query<{ name: string; table: string; columns: string[]; primary: boolean; partial: boolean }>(
    `SELECT i.relname AS name, t.relname AS table, x.indisprimary AS primary, x.indpred IS NOT NULL AS partial,
            array(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY k(attnum, n)
                  JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum ORDER BY k.n)::text[] AS columns
     FROM pg_index x
     JOIN pg_class i ON i.oid = x.indexrelid
     JOIN pg_class t ON t.oid = x.indrelid
     WHERE t.relnamespace = 'public'::regnamespace AND x.indisunique
       AND x.indexprs IS NULL`,
  );
  const primaryKeys: Catalog['primaryKeys'] = new Map();
  const uniqueIndexes: Catalog['uniqueIndexes'] = new Map();
  for (const row of indexRows.rows) {
    if (row.primary) primaryKeys.set(row.table, row.columns);
    uniqueIndexes.set(row.name, { table: row.table, columns: row.columns, partial: row.partial });
  }
  return { columns, primaryKeys, uniqueIndexes };
}

/** Every way schema.prisma and the database disagree, one line each; empty when they agree. */
function compareSchema(models: PrismaModel[], catalog: Catalog): string[] {
  const problems: string[] = [];
  const modelNames = new Set(models.map((model) => model.name));
  for (const model of models) {
    const table = catalog.columns.get(model.table);
    if (!table) {
      problems.push(`model ${model.name}: table ${model.table} does not exist`);
      continue;
    }
    const columnOf = new Map<string, string>();
    for (const field of model.fields) {
      // Relation fields (another model, or a list of them) have no column of their own.
      if (modelNames.has(field.type)) continue;
      const where = `${model.name}.${field.name} → ${model.table}.${field.column}`;
      columnOf.set(field.name, field.column);
      if (field.list) {
        problems.push(`${where}: scalar lists are not used by this schema`);
        continue;
      }
      const column = table.get(field.column);
      if (!column) {
        problems.push(`${where}: column does not exist`);
        continue;
      }
      const expected = expectedColumnType(field);
      if (typeof expected === 'string') {
        problems.push(`${where}: ${expected}`);
      } else {
        if (column.dataType !== expected.dataType)
          problems.push(`${where}: column is ${column.dataType}, schema says ${expected.dataType}`);
        if (expected.precision !== undefined && column.precision !== expected.precision) {
          problems.push(`${where}: precision ${column.precision}, schema says ${expected.precision}`);
        }
      }
      if (column.nullable !== field.optional) {
        problems.push(
          `${where}: column is ${column.nullable ? 'nullable' : 'NOT NULL'}, field is ${field.optional ? 'optional' : 'required'}`,
        );
      }
    }
    const idFields = model.fields.filter((field) => field.id).map((field) => field.column);
    const primaryKey = catalog.primaryKeys.get(model.table) ?? [];
    // Tenant tables key on (client_id, id) so they can be distributed by client_id (0010,
    // docs/scaling.md); Prisma keeps `id` as its identity: ids are random uuids made by the
    // app, and every tenant read carries client_id, which (client_id, id) makes unique.
    const tenantKey = idFields.join(',') === 'id' && primaryKey.join(',') === 'client_id,id';
    if (!tenantKey && idFields.join(',') !== primaryKey.join(',')) {
      problems.push(`model ${model.name}: @id is (${idFields.join(', ')}), primary key is (${primaryKey.join(', ')})`);
    }
    // Prisma trusts @unique/@@unique for findUnique: each must be a real, total unique index.
    const uniques = [
      ...model.fields
        .filter((field) => field.unique)
        .map((field) => ({ columns: [field.column], map: field.uniqueMap ?? `${model.table}_${field.column}_key` })),
      ...model.uniques.map((unique) => {
        const cols = unique.fields.map((name) => columnOf.get(name) ?? name);
        return { columns: cols, map: unique.map ?? `${model.table}_${cols.join('_')}_key` };
      }),
    ];
    for (const unique of uniques) {
      const index = catalog.uniqueIndexes.get(unique.map);
      const where = `model ${model.name}: unique (${unique.columns.join(', ')}) as ${unique.map}`;
      if (!index || index.table !== model.table) problems.push(`${where}: no such unique index on ${model.table}`);
      else if (index.partial) problems.push(`${where}: the index is partial`);
      else if (index.columns.join(',') !== unique.columns.join(','))
        problems.push(`${where}: the index is on (${index.columns.join(', ')})`);
    }
  }
  const mapped = new Set(models.map((model) => model.table));
  for (const table of catalog.columns.keys()) {
    if (table !== 'spade_migrations' && !mapped.has(table)) problems.push(`table ${table} has no model`);
  }
  return problems.sort();
}

let testDb: TestDatabase & { owner: { close(): Promise<void> } };
let client: pg.Client;
let models: PrismaModel[];

beforeAll(async () => {
  testDb = await createMigratedDatabase('spade_test_schema');
  client = new pg.Client({ connectionString: testDb.ownerUrl });
  await client.connect();
  models = await readPrismaSchema();
});

afterAll(async () => {
  await client?.end();
  await testDb?.drop();
});

/** Compares against the schema as changed by `ddl`, in a transaction rolled back afterwards (DDL is transactional). */
async function withAlteredDatabase(ddl: string): Promise<string[]> {
  await client.query('BEGIN');
  try {
    await client.query(ddl);
    return compareSchema(models, await readCatalog(client));
  } finally {
    await client.query('ROLLBACK');
  }
}

describe('schema.prisma and the migrated database', () => {
  it('parses every model of schema.prisma: the same models Prisma generated the client from', () => {
    // Prisma's own parser is the reference: a model this parser missed (and so never compared
    // with the database) fails here, as does a client not regenerated after the schema changed.
    const generated = Object.values(Prisma.ModelName).sort();
    expect(generated.length).toBeGreaterThan(20);
    expect(models.map((model) => model.name).sort()).toEqual(generated);
    const request = models.find((model) => model.name === 'CycleRequest')!;
    expect(request.table).toBe('cycle_requests');
    expect(request.fields.find((field) => field.name === 'expiresAt')).toMatchObject({
      column: 'expires_at',
      type: 'DateTime',
      optional: false,
      nativeType: ['Timestamptz', '6'],
    });
  });

  it('agree: every model maps to a table, every scalar field to a column of a compatible type and the same nullability, every table to a model', async () => {
    expect(compareSchema(models, await readCatalog(client))).toEqual([]);
  });

  it('disagree, and say where, when a column is renamed in SQL', async () => {
    expect(await withAlteredDatabase('ALTER TABLE cycle_requests RENAME COLUMN expires_at TO expiry')).toEqual([
      'CycleRequest.expiresAt → cycle_requests.expires_at: column does not exist',
    ]);
  });

  it('disagree when a column changes type or nullability in SQL', async () => {
    expect(await withAlteredDatabase('ALTER TABLE files ALTER COLUMN size TYPE integer')).toEqual([
      'File.size → files.size: column is integer, schema says bigint',
    ]);
    expect(await withAlteredDatabase('ALTER TABLE cycles ALTER COLUMN due_date TYPE timestamptz')).toEqual([
      'Cycle.dueDate → cycles.due_date: column is timestamp with time zone, schema says date',
    ]);
    expect(await withAlteredDatabase('ALTER TABLE staff_sessions ALTER COLUMN revoked_reason SET NOT NULL')).toEqual([
      'StaffSession.revokedReason → staff_sessions.revoked_reason: column is NOT NULL, field is optional',
    ]);
    expect(await withAlteredDatabase('ALTER TABLE audit_events ALTER COLUMN actor_id TYPE text')).toEqual([
      'AuditEvent.actorId → audit_events.actor_id: column is text, schema says uuid',
    ]);
  });

  it('disagree when a table is added or renamed in SQL', async () => {
    expect(await withAlteredDatabase('CREATE TABLE invoices (id uuid PRIMARY KEY)')).toEqual(['table invoices has no model']);
    expect(await withAlteredDatabase('ALTER TABLE route_kill_switches RENAME TO kill_switches')).toEqual([
      'model RouteKillSwitch: table route_kill_switches does not exist',
      'table kill_switches has no model',
    ]);
  });

  it('disagree when a unique key Prisma relies on is dropped', async () => {
    expect(await withAlteredDatabase('DROP INDEX staff_sessions_token_hash_key')).toEqual([
      'model StaffSession: unique (token_hash) as staff_sessions_token_hash_key: no such unique index on staff_sessions',
    ]);
  });
});
