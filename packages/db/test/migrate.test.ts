import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AMENDED_MIGRATIONS, loadMigrations, type Migration, MigrationError, migrate } from '../src/migrate.ts';
import { pgExecutor } from '../src/sql-executor.ts';
import { createTestDatabase, type TestDatabase } from '../src/testing.ts';
import { expectedMigrations, migrationNameProblems } from './expected-migrations.ts';
import { readPrismaSchema } from './prisma-schema.ts';

/**
 * The tables of DESIGN.md §2: their names are part of the contract, so each must still exist.
 * The tables a fresh database has are derived (every table schema.prisma maps, below); this
 * list only holds the design's own names in place.
 */
const DESIGN_TABLES = [
  'audit_digest_entries',
  'audit_digests',
  'audit_events',
  'bulk_jobs',
  'clients',
  'contact_sessions',
  'contacts',
  'cycle_requests',
  'cycles',
  'decoy_entities',
  'detection_alerts',
  'files',
  'firm_settings',
  'incident_evidence',
  'incident_timeline_entries',
  'incidents',
  'outbox_messages',
  'recurring_schedules',
  'request_items',
  'request_templates',
  'route_kill_switches',
  'staff_client_assignments',
  'staff_sessions',
  'staff_users',
  'tenant_freezes',
];

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

// Every test here gets its own empty database: the migrator's behaviour depends on what is
// already recorded, so sharing one would make the tests depend on each other's order.
const databases: TestDatabase[] = [];
const clients: pg.Client[] = [];

async function freshDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase('spade_test_migrate');
  databases.push(db);
  return db;
}

async function connect(db: TestDatabase): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: db.ownerUrl });
  await client.connect();
  clients.push(client);
  return client;
}

async function recordedVersions(client: pg.Client): Promise<{ version: string; sha256: string }[]> {
  const result = await client.query<{ version: string; sha256: string }>('SELECT version, sha256 FROM spade_migrations ORDER BY version');
  return result.rows;
}

let files: Migration[];
let allVersions: string[];

beforeAll(async () => {
  files = await loadMigrations();
  allVersions = files.map((file) => file.version);
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.end().catch(() => undefined)));
  await Promise.all(databases.map((db) => db.drop()));
});

describe('migrate', () => {
  it('applies every migration to an empty database and creates every table of the data model', async () => {
    const client = await connect(await freshDatabase());

    const report = await migrate(pgExecutor(client));

    // Every .sql file of migrations/, in name order: none skipped, none invented.
    expect(allVersions).toEqual(await expectedMigrations());
    expect(report.applied).toEqual(allVersions);
    expect(report.alreadyApplied).toEqual([]);
    const tables = await client.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables
       WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`,
    );
    // Exactly the tables of the data model (schema.prisma's, which schema-agreement.test.ts proves
    // column by column) and the migrator's own; the design's named tables among them.
    const modelTables = (await readPrismaSchema()).map((model) => model.table);
    expect(tables.rows.map((row) => row.table_name)).toEqual([...new Set([...modelTables, 'spade_migrations'])].sort());
    expect(tables.rows.map((row) => row.table_name)).toEqual(expect.arrayContaining(DESIGN_TABLES));
    // The bookkeeping records exactly the content that ran, so a later edit is detectable.
    expect(await recordedVersions(client)).toEqual(files.map((file) => ({ version: file.version, sha256: file.sha256 })));
  });

  it('takes every .sql file of migrations/: each named NNNN_name.sql with a number of its own', async () => {
    const versions = await expectedMigrations();
    expect(versions.length).toBeGreaterThan(0);
    expect(migrationNameProblems(versions)).toEqual([]);
    // The rule fails where it should: a file the migrator would skip, and a shared number.
    expect(migrationNameProblems(['0001_roles', '15_notes', '0016-notes', '0002_a', '0002_b'])).toEqual([
      '15_notes.sql: not NNNN_name.sql (lower-case, digits, _)',
      '0016-notes.sql: not NNNN_name.sql (lower-case, digits, _)',
      '0002_b.sql: number 0002 is also 0002_a.sql',
    ]);
    // And a misnamed file in the directory is expected (so the applied list misses it), not ignored.
    const dir = await mkdtemp(path.join(os.tmpdir(), 'spade-migrations-'));
    try {
      await writeFile(path.join(dir, '0001_ok.sql'), 'SELECT 1;');
      await writeFile(path.join(dir, '0002-misnamed.sql'), 'SELECT 1;');
      await writeFile(path.join(dir, 'README.txt'), 'not a migration');
      expect(await expectedMigrations(dir)).toEqual(['0001_ok', '0002-misnamed']);
      expect((await loadMigrations(dir)).map((file) => file.version)).toEqual(['0001_ok']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('is a no-op when re-applied to a migrated database', async () => {
    const client = await connect(await freshDatabase());
    await migrate(pgExecutor(client));
    const before = await client.query('SELECT version, sha256, applied_at FROM spade_migrations ORDER BY version');

    const report = await migrate(pgExecutor(client));

    expect(report.applied).toEqual([]);
    expect(report.alreadyApplied).toEqual(allVersions);
    const after = await client.query('SELECT version, sha256, applied_at FROM spade_migrations ORDER BY version');
    expect(after.rows).toEqual(before.rows);
  });

  it('refuses a migration whose text was edited after it was applied, naming the file, and runs nothing', async () => {
    const client = await connect(await freshDatabase());
    await migrate(pgExecutor(client));
    const recorded = await recordedVersions(client);

    // Only the sql text changes (the Migration's sha256 field is left stale): the migrator
    // must judge the SQL it would run, not a checksum handed to it alongside.
    const edited = (await loadMigrations()).map((file) =>
      file.version === '0002_schema' ? { ...file, sql: `${file.sql}\nCREATE TABLE sneaky_edit (id int);\n` } : file,
    );
    const withNewFile = [...edited, { version: '0004_after_edit', sql: 'CREATE TABLE after_edit (id int);', sha256: sha256('x') }];

    const attempt = migrate(pgExecutor(client), withNewFile);
    await expect(attempt).rejects.toBeInstanceOf(MigrationError);
    await expect(attempt).rejects.toThrow(/0002_schema was edited after it was applied/);
    await expect(attempt).rejects.toThrow(/forward-only/);

    // The refusal comes before anything runs: not even a later, new file is applied.
    const leftovers = await client.query(`SELECT to_regclass('public.sneaky_edit') AS edited, to_regclass('public.after_edit') AS added`);
    expect(leftovers.rows[0]).toEqual({ edited: null, added: null });
    expect(await recordedVersions(client)).toEqual(recorded);
  });

  it('accepts a database migrated with the earlier text of an amended migration (0001), and only that text', async () => {
    const client = await connect(await freshDatabase());
    await migrate(pgExecutor(client));
    const earlier = AMENDED_MIGRATIONS['0001_roles']?.earlierSha256[0];
    expect(earlier).toMatch(/^[0-9a-f]{64}$/);
    await client.query(`UPDATE spade_migrations SET sha256 = $1 WHERE version = '0001_roles'`, [earlier]);
    await expect(migrate(pgExecutor(client))).resolves.toMatchObject({ applied: [] });
    // Any other text recorded for it is still an edit.
    await client.query(`UPDATE spade_migrations SET sha256 = $1 WHERE version = '0001_roles'`, [sha256('something else')]);
    await expect(migrate(pgExecutor(client))).rejects.toThrow(/0001_roles was edited after it was applied/);
  });

  it('leaves nothing half-applied when a migration fails, and releases its lock', async () => {
    const db = await freshDatabase();
    const client = await connect(db);
    await migrate(pgExecutor(client));
    const brokenSql = 'CREATE TABLE half_done (id int); SELECT 1/0;';
    const broken: Migration = { version: '9999_broken', sql: brokenSql, sha256: sha256(brokenSql) };

    const attempt = migrate(pgExecutor(client), [...files, broken]);
    await expect(attempt).rejects.toBeInstanceOf(MigrationError);
    await expect(attempt).rejects.toThrow(/9999_broken failed and was rolled back: division by zero/);

    const halfDone = await client.query(`SELECT to_regclass('public.half_done') AS table`);
    expect(halfDone.rows[0]).toEqual({ table: null });
    const brokenRows = await client.query(`SELECT 1 FROM spade_migrations WHERE version = '9999_broken'`);
    expect(brokenRows.rowCount).toBe(0);
    expect((await recordedVersions(client)).map((row) => row.version)).toEqual(allVersions);

    // The advisory lock was released: a migrator on another connection is not blocked.
    const other = await connect(db);
    const report = await migrate(pgExecutor(other));
    expect(report.applied).toEqual([]);
  });

  it('lets two concurrent migrators on one fresh database both succeed, applying each file exactly once', async () => {
    // Several rounds: the race between the two is timing-dependent, one round may not hit it.
    for (let round = 0; round < 4; round++) {
      const db = await freshDatabase();
      const [a, b] = await Promise.all([connect(db), connect(db)]);

      const [reportA, reportB] = await Promise.all([migrate(pgExecutor(a)), migrate(pgExecutor(b))]);

      const applied = [...reportA.applied, ...reportB.applied].sort();
      expect(applied).toEqual(allVersions);
      // The loser of the lock waits, then finds everything recorded.
      expect([...reportA.alreadyApplied, ...reportB.alreadyApplied].sort()).toEqual(allVersions);
      expect((await recordedVersions(a)).map((row) => row.version)).toEqual(allVersions);
    }
  });
});
