import { AsyncLocalStorage } from 'node:async_hooks';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The one uuid check of the codebase (case-insensitive; the API's input boundary canonicalises case). */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/**
 * Whose rows a unit of work may touch. `clientIds` is exactly the set RLS admits; an empty
 * list admits nothing. `role` is the database role the transaction runs as: `spade_app`
 * for everything, `spade_firm_admin` only for admin staff-only routes (its policies admit all rows).
 * spade_app cannot become spade_firm_admin: an admin context runs on the admin login's own pool
 * (spade_admin_login, a member of spade_firm_admin); on the app's pool it fails closed.
 */
export interface TenantContext {
  role: 'spade_app' | 'spade_firm_admin';
  clientIds: readonly string[];
}

export class TenantContextError extends Error {
  override name = 'TenantContextError';
}

const ROLES: ReadonlySet<string> = new Set(['spade_app', 'spade_firm_admin']);

/** A context for one client. Anything but a well-formed uuid is refused, never widened. */
export function clientContext(clientId: unknown): TenantContext {
  if (!isUuid(clientId)) throw new TenantContextError('A tenant context needs one well-formed client id');
  return { role: 'spade_app', clientIds: [clientId] };
}

export function clientsContext(clientIds: readonly unknown[]): TenantContext {
  for (const id of clientIds) {
    if (!isUuid(id)) throw new TenantContextError('A tenant context takes only well-formed client ids');
  }
  return { role: 'spade_app', clientIds: clientIds as string[] };
}

export const NO_TENANT: TenantContext = Object.freeze({ role: 'spade_app', clientIds: Object.freeze([]) as readonly string[] });

export const ADMIN_CONTEXT: TenantContext = Object.freeze({ role: 'spade_firm_admin', clientIds: Object.freeze([]) as readonly string[] });

/**
 * The one statement that sets role and tenant, for the rest of the transaction only
 * (`set_config(…, true)`), so a pooled connection never carries one request's tenant into
 * the next. Its values are inlined — safe only because both are validated here, the one
 * place that validates a context. It either rides on BEGIN (PostgreSQL) or is the
 * transaction's first statement (PGlite); unit-of-work.ts decides which.
 */
export function contextStatement(context: TenantContext): string {
  if (!ROLES.has(context.role)) throw new TenantContextError(`unknown role ${context.role}`);
  if (context.clientIds.some((id) => !isUuid(id))) throw new TenantContextError('malformed client id in context');
  return `SELECT set_config('role', '${context.role}', true), set_config('app.client_ids', '${context.clientIds.join(',')}', true)`;
}

/**
 * The one raw statement a tenant-scoped client lets through is the context statement
 * above; the extension recognises it by this async context, which only `applyingContext`
 * (called by unit-of-work.ts around that one statement) enters.
 */
const applying = new AsyncLocalStorage<true>();
export function applyingContext<T>(fn: () => Promise<T>): Promise<T> {
  return applying.run(true, fn);
}
export function isApplyingContext(): boolean {
  return applying.getStore() === true;
}

/**
 * The second raw statement a tenant-scoped client lets through: audit-rows.ts's INSERT into
 * audit_events, and only when every row it writes names the scoped client (the extension
 * compares; a row for any other client is refused there, as a model write would be).
 */
const writingAudit = new AsyncLocalStorage<readonly (string | null)[]>();
export function writingAuditRows<T>(clientIds: readonly (string | null)[], fn: () => Promise<T>): Promise<T> {
  return writingAudit.run(clientIds, fn);
}
export function auditRowsBeingWritten(): readonly (string | null)[] | undefined {
  return writingAudit.getStore();
}
