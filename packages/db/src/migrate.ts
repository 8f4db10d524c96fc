import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SqlExecutor } from './sql-executor.ts';

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../migrations');

/** One cluster-wide key: two migrators on the same database wait for each other. */
const MIGRATION_LOCK_KEY = 0x5ade_0001;

export interface Migration {
  version: string;
  sql: string;
  sha256: string;
}

export interface MigrationReport {
  applied: string[];
  alreadyApplied: string[];
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const names = (await readdir(dir)).filter((name) => /^\d{4}_[a-z0-9_]+\.sql$/.test(name)).sort();
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(path.join(dir, name), 'utf8');
      return { version: name.replace(/\.sql$/, ''), sql, sha256: sha256(sql) };
    }),
  );
}

/**
 * Migrations amended after release, with the checksums their earlier text had. An
 * amendment only removes something a later migration also undoes, so a database that ran
 * the earlier text ends in the same state; it exists because the earlier text opened a
 * window that concurrent migrators in one cluster could observe.
 */
export const AMENDED_MIGRATIONS: Readonly<Record<string, { earlierSha256: readonly string[]; why: string }>> = {
  '0001_roles': {
    earlierSha256: ['79583eb05ed7139559547cb1cb1836b0b0fc2ebe544861714e7b80eb1fa2609c'],
    why:
      'no longer grants spade_admin to spade_app (0007 revokes it where it was granted): roles are cluster-wide, and a ' +
      'fresh database migrating beside another re-granted the membership until its own 0007 ran',
  },
};

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Applies the forward-only SQL migrations in order: each file and its bookkeeping row in
 * one transaction, under an advisory lock. A file whose content changed after it was
 * applied stops the migrator before anything runs. Re-running is a no-op.
 * The same code serves PostgreSQL (pg) and the embedded PGlite.
 */
export async function migrate(sql: SqlExecutor, migrations?: Migration[]): Promise<MigrationReport> {
  // The hash is taken of the SQL that would run, never trusted from the caller's list.
  const files = (migrations ?? (await loadMigrations())).map((file) => ({ ...file, sha256: sha256(file.sql) }));
  // Lock first: two concurrent `CREATE TABLE IF NOT EXISTS` on a fresh database race on
  // the catalog (duplicate key in pg_type_typname_nsp_index) and one migrator fails.
  await sql.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
  try {
    await sql.exec(`
      CREATE TABLE IF NOT EXISTS spade_migrations (
        version    text PRIMARY KEY,
        sha256     text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    const rows = await sql.query<{ version: string; sha256: string }>('SELECT version, sha256 FROM spade_migrations');
    const recorded = new Map(rows.map((row) => [row.version, row.sha256]));
    for (const file of files) {
      const hash = recorded.get(file.version);
      const amended = AMENDED_MIGRATIONS[file.version]?.earlierSha256.includes(hash ?? '') === true;
      if (hash !== undefined && hash !== file.sha256 && !amended) {
        throw new MigrationError(
          `Migration ${file.version} was edited after it was applied (recorded sha256 ${hash.slice(0, 12)}…, ` +
            `file now ${file.sha256.slice(0, 12)}…). Migrations are forward-only: restore the file and add a new one.`,
        );
      }
    }
    const report: MigrationReport = { applied: [], alreadyApplied: [] };
    for (const file of files) {
      if (recorded.has(file.version)) {
        report.alreadyApplied.push(file.version);
        continue;
      }
      await sql.exec('BEGIN');
      try {
        await sql.exec(file.sql);
        // A file may `SET LOCAL ROLE spade_owner`; the bookkeeping row is the migrator's own.
        await sql.exec('RESET ROLE');
        await sql.query('INSERT INTO spade_migrations (version, sha256) VALUES ($1, $2)', [file.version, file.sha256]);
        await sql.exec('COMMIT');
      } catch (error) {
        await sql.exec('ROLLBACK');
        throw new MigrationError(`Migration ${file.version} failed and was rolled back: ${(error as Error).message}`);
      }
      report.applied.push(file.version);
    }
    return report;
  } finally {
    await sql.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
  }
}
