/**
 * The safe entry: what the product's code may hold. Units of work (through a `Database`),
 * tenant contexts, the tenant-scope extension's pure rules, secrets' hashing. The unscoped
 * client, raw connections and owner-level helpers live in `@breezycorp/db/unsafe`.
 */
export { type AuditRowValues, insertAuditRows } from './audit-rows.ts';
export { type Database, type DatabaseTarget, dataPaths, LISTEN_RETRY_MS, targetFromEnv } from './database.ts';
export {
  FIRM_WIDE_MODELS,
  scopeOperation,
  TENANT_MODELS,
  TenantScopeViolation,
  withTenantScope,
} from './extensions/tenant-scope.ts';
export { type AdminCreation, AdminCreationError, type NewAdmin } from './first-admin.ts';
export { Prisma } from './generated/prisma/client.ts';
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
export { DEMO, storagePath } from './seed.ts';
export {
  ADMIN_CONTEXT,
  clientContext,
  clientsContext,
  isUuid,
  NO_TENANT,
  type TenantContext,
  TenantContextError,
} from './tenant-context.ts';
export type { ScopedTx, TxClient, UnitOfWork, UnitOfWorkOptions } from './unit-of-work.ts';
export { SCOPED_CLIENTS_KEPT } from './unit-of-work.ts';
