import { type Database, openDatabase, targetFromEnv } from '@breezycorp/db';
import { CliError, EXIT, type Io } from './io.ts';

/** The owner's database, configured as the API's: DATABASE_URL, else the embedded one. */
export async function withDatabase<T>(io: Io, fn: (db: Database) => Promise<T>): Promise<T> {
  let db: Database;
  try {
    db = await openDatabase(targetFromEnv(io.env));
    await db.withSql((sql) => sql.query('SELECT 1'));
  } catch (error) {
    throw new CliError(`Cannot reach the database: ${(error as Error).message}`, EXIT.databaseDown);
  }
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}
