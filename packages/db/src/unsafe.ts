/**
 * The unsafe entry: the unscoped client and owner-level helpers. What is here either
 * bypasses the tenant-scope extension (the base Prisma client), runs outside any unit of
 * work (raw connections), or needs the owner's login (migrations, seeding, the audit
 * trail's seal and verify, the first admin). Composition roots (the API's server and app,
 * the CLI, tests, the bench) open databases here; the API's token lookups call SECURITY
 * DEFINER functions through it. `pnpm lint` (the bypass scanner) lists every importer.
 */
import type { Database, UnsafeDatabase } from './database.ts';

/** The audit INSERT folded into COMMIT (folded-statements.ts), for the bench's fair baseline to send the very same statement. */
export { auditInsertThenCommit, auditValuesLiteral } from './audit-rows.ts';
export {
  type Digest,
  digestsCovering,
  digestsFromJsonLines,
  digestsToJsonLines,
  GENESIS_HASH,
  listDigests,
  type Problem,
  type SealResult,
  sealAudit,
  type VerifyOptions,
  type VerifyReport,
  verifyAuditTrail,
} from './audit-trail.ts';
export { openDatabase, type UnsafeDatabase } from './database.ts';
export { createAdmin } from './first-admin.ts';
export type { PrismaClient } from './generated/prisma/client.ts';
export { loadMigrations, MIGRATIONS_DIR, type Migration, MigrationError, type MigrationReport, migrate } from './migrate.ts';
export { type SeedReport, seedDemo } from './seed.ts';
export { pgExecutor, pgliteExecutor, type SqlExecutor } from './sql-executor.ts';
export type { BasePrisma } from './unit-of-work.ts';

/**
 * The unscoped parts of a database the product holds as a safe `Database`: its base
 * client and raw connections. Every call is a deliberate bypass of the unit of work (a
 * SECURITY DEFINER lookup before any tenant is known, a cross-tenant claim of due work, a
 * boot check); it lives in a module that `pnpm lint` lists as an importer of this entry.
 */
export function unscoped(db: Database): UnsafeDatabase {
  if (!('prisma' in db) || !('withSql' in db)) throw new TypeError('this database has no unscoped client');
  return db as UnsafeDatabase;
}
