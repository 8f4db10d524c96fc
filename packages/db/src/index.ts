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
export { type BasePrisma, type Database, type DatabaseTarget, dataPaths, openDatabase, targetFromEnv } from './database.ts';
export {
  FIRM_WIDE_MODELS,
  scopeOperation,
  TENANT_MODELS,
  TenantScopeViolation,
  withTenantScope,
} from './extensions/tenant-scope.ts';
export { type AdminCreation, AdminCreationError, createAdmin, type NewAdmin } from './first-admin.ts';
export { Prisma, type PrismaClient } from './generated/prisma/client.ts';
export { loadMigrations, MIGRATIONS_DIR, type Migration, MigrationError, type MigrationReport, migrate } from './migrate.ts';
export {
  hashPassword,
  hashPasswordWithParams,
  hashToken,
  isTokenOf,
  newToken,
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
  passwordPolicyProblem,
  TOKEN_PREFIX,
  type TokenKind,
  verifyPassword,
} from './secrets.ts';
export { DEMO, type SeedReport, seedDemo, storagePath } from './seed.ts';
export { pgExecutor, pgliteExecutor, type SqlExecutor } from './sql-executor.ts';
export {
  ADMIN_CONTEXT,
  applyTenantContext,
  clientContext,
  clientsContext,
  isUuid,
  NO_TENANT,
  type TenantContext,
  TenantContextError,
} from './tenant-context.ts';
export {
  beginClientUnitOfWork,
  beginUnitOfWork,
  inClientUnitOfWork,
  inUnitOfWork,
  type ScopedPrisma,
  type ScopedTx,
  scopedPrisma,
  type TxClient,
  type UnitOfWork,
  type UnitOfWorkOptions,
  verifyAdminContext,
  verifyTenantContext,
} from './unit-of-work.ts';
