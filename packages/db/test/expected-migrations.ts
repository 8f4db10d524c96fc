import { readdir } from 'node:fs/promises';
import { MIGRATIONS_DIR } from '../src/migrate.ts';

/**
 * The migrations a fresh database gets, in order: every `.sql` file of packages/db/migrations,
 * sorted by name — read here once for every test that checks what was applied (migrate.test.ts
 * on PostgreSQL, pglite.test.ts on the embedded default). Not filtered by the migrator's own
 * name pattern, so a file the migrator would skip (a misnamed `15_x.sql`, `0015-x.sql`) fails
 * both tests instead of silently never running; `expectedMigrationNames` names the rule.
 */
export async function expectedMigrations(dir = MIGRATIONS_DIR): Promise<string[]> {
  const files = (await readdir(dir)).filter((name) => name.endsWith('.sql')).sort();
  return files.map((name) => name.slice(0, -'.sql'.length));
}

/**
 * What is wrong with the migration file names, one line each; empty when every one is
 * `NNNN_lower_snake` with a number no other file uses (two files sharing a number would run
 * in an order their authors did not choose).
 */
export function migrationNameProblems(versions: readonly string[]): string[] {
  const problems: string[] = [];
  const seen = new Map<string, string>();
  for (const version of versions) {
    if (!/^\d{4}_[a-z0-9_]+$/.test(version)) problems.push(`${version}.sql: not NNNN_name.sql (lower-case, digits, _)`);
    const number = version.slice(0, 4);
    const other = seen.get(number);
    if (other !== undefined) problems.push(`${version}.sql: number ${number} is also ${other}.sql`);
    seen.set(number, version);
  }
  return problems;
}
