import { Prisma } from '../generated/prisma/client.ts';
import { auditRowsBeingWritten, isApplyingContext, isUuid } from '../tenant-context.ts';

/**
 * Layer 3 of DESIGN.md §4: every operation on every tenant model, through a scoped client,
 * is confined to one client. The runbook's version caught only findMany/updateMany/
 * deleteMany/count and left single-row lookups to the route; this one leaves nothing out:
 * an operation it does not know is refused, not passed through.
 */

/** Firm-wide models hold no tenant's data; a scoped client may reach them unchanged. */
export const FIRM_WIDE_MODELS: ReadonlySet<string> = new Set([
  'StaffUser',
  'StaffSession',
  'RouteKillSwitch',
  'RequestTemplate',
  'FirmSetting',
  'BulkJob',
]);

/**
 * Operator-only models: the incident console's, the audit seal's and detection's own records.
 * Some name a tenant (in a column of their own: frozen_client_id, decoy_client_id,
 * subject_client_id), none is a tenant's data, and none is ever read or written through a
 * tenant-scoped client: every operation on them there is refused.
 */
export const OPERATOR_ONLY_MODELS: ReadonlySet<string> = new Set([
  'Incident',
  'IncidentTimelineEntry',
  'IncidentEvidence',
  'AuditDigest',
  'AuditDigestEntry',
  'TenantFreeze',
  'DecoyEntity',
  'DetectionAlert',
]);

/** The tenant directory: its own id is the tenant key. */
const TENANT_DIRECTORY = 'Client';

/**
 * The tenant models and the field that names a row's tenant, derived from the models Prisma
 * generated: `Client` by its `id`, every other model by its `clientId` — unless it is declared
 * firm-wide or operator-only. A model in none of these is an error, not a default: without a
 * `clientId` there is no column to confine it by, so the module (and with it the app's boot)
 * fails until the model gets one or is declared. A declaration naming no model, a model
 * declared twice, and a firm-wide model holding a `clientId` fail the same way.
 */
export function deriveTenantModels(
  models: readonly string[],
  scalarFields: (model: string) => readonly string[],
  declared: { firmWide: ReadonlySet<string>; operatorOnly: ReadonlySet<string> } = {
    firmWide: FIRM_WIDE_MODELS,
    operatorOnly: OPERATOR_ONLY_MODELS,
  },
): Record<string, 'clientId' | 'id'> {
  const where = 'packages/db/src/extensions/tenant-scope.ts';
  const known = new Set(models);
  for (const [list, names] of [
    ['FIRM_WIDE_MODELS', declared.firmWide],
    ['OPERATOR_ONLY_MODELS', declared.operatorOnly],
  ] as const) {
    for (const name of names) {
      if (!known.has(name)) throw new Error(`${list} names ${name}, which is not a Prisma model (${where})`);
    }
  }
  if (!known.has(TENANT_DIRECTORY)) throw new Error(`no Prisma model ${TENANT_DIRECTORY}: the tenant directory is missing`);
  const tenantModels: Record<string, 'clientId' | 'id'> = {};
  for (const model of models) {
    const firmWide = declared.firmWide.has(model);
    const operatorOnly = declared.operatorOnly.has(model);
    const hasClientId = scalarFields(model).includes('clientId');
    if (model === TENANT_DIRECTORY) {
      if (firmWide || operatorOnly) throw new Error(`${model} is the tenant directory; it cannot be declared firm-wide or operator-only`);
      if (!scalarFields(model).includes('id')) throw new Error(`${model} has no id field to scope by`);
      tenantModels[model] = 'id';
    } else if (firmWide && operatorOnly) {
      throw new Error(`${model} is declared both firm-wide and operator-only (${where})`);
    } else if (firmWide && hasClientId) {
      throw new Error(`${model} is declared firm-wide but has a clientId: a firm-wide model passes the tenant scope unchanged (${where})`);
    } else if (!firmWide && !operatorOnly) {
      if (!hasClientId) {
        throw new Error(
          `Prisma model ${model} has no clientId: give it clientId (mapped to client_id) to make it a tenant model, ` +
            `or declare it in FIRM_WIDE_MODELS (reachable unchanged through a tenant-scoped client) or ` +
            `OPERATOR_ONLY_MODELS (refused there) in ${where}`,
        );
      }
      tenantModels[model] = 'clientId';
    }
  }
  return tenantModels;
}

/** The generated client's scalar fields of a model (`Prisma.<Model>ScalarFieldEnum`). */
function generatedScalarFields(model: string): readonly string[] {
  const fields = (Prisma as unknown as Record<string, unknown>)[`${model}ScalarFieldEnum`];
  if (fields === null || typeof fields !== 'object') throw new Error(`the generated client has no ${model}ScalarFieldEnum`);
  return Object.values(fields as Record<string, string>);
}

/** The column that names a row's tenant, per model: derived at load from the generated client. */
export const TENANT_MODELS: Readonly<Record<string, 'clientId' | 'id'>> = Object.freeze(
  deriveTenantModels(Object.values(Prisma.ModelName), generatedScalarFields),
);

/** Fields whose value is a JSON document rather than a nested write. */
const JSON_FIELDS: Readonly<Record<string, ReadonlySet<string>>> = { AuditEvent: new Set(['eventDataJson']) };

const WHERE_OPERATIONS = new Set([
  'findUnique',
  'findUniqueOrThrow',
  'findFirst',
  'findFirstOrThrow',
  'findMany',
  'count',
  'aggregate',
  'groupBy',
  'update',
  'updateMany',
  'updateManyAndReturn',
  'delete',
  'deleteMany',
  'upsert',
]);
const CREATE_OPERATIONS = new Set(['create', 'createMany', 'createManyAndReturn']);

export class TenantScopeViolation extends Error {
  override name = 'TenantScopeViolation';
}

type Args = Record<string, unknown> | undefined;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** `{ set: … }`, `{ increment: … }` and friends update a column; anything else is a relation write. */
const SCALAR_UPDATE_KEYS = new Set(['set', 'increment', 'decrement', 'multiply', 'divide', 'unset']);
function isScalarUpdate(value: Record<string, unknown>): boolean {
  const keys = Object.keys(value);
  return keys.length === 1 && SCALAR_UPDATE_KEYS.has(keys[0] as string);
}

function scopedWhere(where: unknown, key: 'clientId' | 'id', clientId: string): Record<string, unknown> {
  const base = isPlainObject(where) ? where : {};
  const and = base.AND === undefined ? [] : Array.isArray(base.AND) ? base.AND : [base.AND];
  return { ...base, AND: [...and, { [key]: clientId }] };
}

function checkedData(model: string, data: unknown, key: 'clientId' | 'id', clientId: string, inject: boolean): Record<string, unknown> {
  if (!isPlainObject(data)) throw new TenantScopeViolation(`${model}: write data must be an object`);
  const jsonFields = JSON_FIELDS[model];
  for (const [field, value] of Object.entries(data)) {
    if (isPlainObject(value) && !jsonFields?.has(field) && !isScalarUpdate(value)) {
      throw new TenantScopeViolation(`${model}.${field}: nested writes are refused through a tenant-scoped client`);
    }
  }
  if (key === 'id') {
    if (inject) throw new TenantScopeViolation(`${model}: a tenant-scoped client cannot create clients`);
    if (data.id !== undefined && data.id !== clientId) throw new TenantScopeViolation(`${model}: cannot change a client's id`);
    return data;
  }
  const given = data[key];
  if (given !== undefined && given !== clientId) {
    throw new TenantScopeViolation(`${model}: ${key} ${inject ? 'of a new row' : 'change'} is outside the scoped client`);
  }
  return inject ? { ...data, [key]: clientId } : data;
}

/**
 * The decision: the arguments an operation runs with inside `clientId`'s scope, or a
 * TenantScopeViolation. Pure, so every branch is unit-tested without a database.
 */
export function scopeOperation(model: string | undefined, operation: string, args: Args, clientId: string): Args {
  if (!isUuid(clientId)) throw new TenantScopeViolation('tenant scope needs a well-formed client id');
  if (model === undefined) throw new TenantScopeViolation(`${operation}: raw queries are refused through a tenant-scoped client`);
  if (FIRM_WIDE_MODELS.has(model)) return args;
  if (OPERATOR_ONLY_MODELS.has(model)) throw new TenantScopeViolation(`${model}: operator-only; refused through a tenant-scoped client`);
  const key = Object.hasOwn(TENANT_MODELS, model) ? TENANT_MODELS[model] : undefined;
  if (key === undefined) throw new TenantScopeViolation(`${model}: not a known model; refusing to run it unscoped`);

  const next: Record<string, unknown> = { ...(args ?? {}) };
  if (WHERE_OPERATIONS.has(operation)) {
    next.where = scopedWhere(next.where, key, clientId);
    if (operation === 'upsert') {
      next.create = checkedData(model, next.create, key, clientId, true);
      next.update = checkedData(model, next.update, key, clientId, false);
    } else if (next.data !== undefined) {
      next.data = checkedData(model, next.data, key, clientId, false);
    }
    return next;
  }
  if (CREATE_OPERATIONS.has(operation)) {
    next.data = Array.isArray(next.data)
      ? next.data.map((row) => checkedData(model, row, key, clientId, true))
      : checkedData(model, next.data, key, clientId, true);
    return next;
  }
  throw new TenantScopeViolation(`${model}.${operation}: not a known operation; refusing to run it unscoped`);
}

/** Audit rows written through (or queued by) a client's scope must all name that client. */
export function assertAuditRowsOf(rowClientIds: readonly (string | null)[], clientId: string): void {
  if (rowClientIds.length > 0 && rowClientIds.every((id) => id === clientId)) return;
  throw new TenantScopeViolation(`audit_events: a row for another client through the client ${clientId}'s scope`);
}

function refuseRaw(operation: string): never {
  throw new TenantScopeViolation(`${operation}: raw queries are refused through a tenant-scoped client`);
}

/** The Prisma extension that applies scopeOperation to every model operation. */
export function withTenantScope(clientId: string) {
  if (!isUuid(clientId)) throw new TenantScopeViolation('tenant scope needs a well-formed client id');
  return Prisma.defineExtension({
    name: 'tenant-scope',
    query: {
      $allModels: {
        async $allOperations({ model, operation, args, query }) {
          return query(scopeOperation(model, operation, args as Args, clientId) as typeof args);
        },
      },
      $queryRaw: () => refuseRaw('$queryRaw'),
      $executeRaw: () => refuseRaw('$executeRaw'),
      $queryRawUnsafe: () => refuseRaw('$queryRawUnsafe'),
      $executeRawUnsafe: ({ args, query }) => {
        // The two exceptions (tenant-context.ts): the unit of work's own context statement,
        // and audit-rows.ts's INSERT when every row it writes is this client's.
        if (isApplyingContext()) return query(args);
        const auditRows = auditRowsBeingWritten();
        if (auditRows !== undefined) {
          assertAuditRowsOf(auditRows, clientId);
          return query(args);
        }
        return refuseRaw('$executeRawUnsafe');
      },
    },
  });
}
