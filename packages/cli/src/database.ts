import { targetFromEnv } from '@breezycorp/db';
import { openDatabase, type UnsafeDatabase } from '@breezycorp/db/unsafe';
import { CliError, EXIT, type Io } from './io.ts';

export interface UnsafeOwnerOptions {
  /**
   * Refuse to run unless the login sees every row (superuser or BYPASSRLS). Investigation
   * and containment must: under row-level security an audit query silently returns fewer
   * rows, and "no affected clients" would be a false all-clear.
   */
  requireAllRows?: boolean;
}

/**
 * UNSAFE: the owner's database, configured as the API's (DATABASE_URL, else the embedded
 * one). It connects as the owner, which bypasses row-level security by design: operations
 * work must see every tenant. Nothing tenant-facing may use it. Every use is listed in
 * test/unsafe-uses.test.ts, so a new one shows up in review.
 */
export async function withUnsafeOwnerDatabase<T>(
  io: Io,
  fn: (db: UnsafeDatabase) => Promise<T>,
  options: UnsafeOwnerOptions = {},
): Promise<T> {
  let db: UnsafeDatabase;
  try {
    db = await openDatabase(targetFromEnv(io.env));
  } catch (error) {
    throw new CliError(`Cannot reach the database: ${(error as Error).message}`, EXIT.databaseDown);
  }
  try {
    let bypass: boolean;
    try {
      const rows = await db.withSql((sql) =>
        sql.query<{ bypass: boolean }>('SELECT (rolsuper OR rolbypassrls) AS bypass FROM pg_roles WHERE rolname = current_user'),
      );
      bypass = rows[0]?.bypass === true;
    } catch (error) {
      throw new CliError(`Cannot reach the database: ${(error as Error).message}`, EXIT.databaseDown);
    }
    if (options.requireAllRows && !bypass) {
      throw new CliError(
        'The database login is subject to row-level security (it is neither superuser nor BYPASSRLS): ' +
          'investigation queries would silently miss rows. Use the owner connection (DATABASE_URL) that migrations use.',
      );
    }
    return await fn(db);
  } catch (error) {
    throw explainDatabaseError(error);
  } finally {
    await db.close().catch(() => undefined);
  }
}

/** Prisma's "table does not exist" means the migrations have not been applied yet. */
function explainDatabaseError(error: unknown): unknown {
  if (error instanceof CliError) return error;
  const code = (error as { code?: unknown }).code;
  const message = (error as Error).message ?? '';
  if (code === 'P2021' || /relation "[^"]+" does not exist|table `[^`]+` does not exist/i.test(message)) {
    return new CliError(`The database is not migrated (${message.split('\n').at(-1)?.trim()}); run \`pnpm spade db migrate\` first.`);
  }
  return error;
}
