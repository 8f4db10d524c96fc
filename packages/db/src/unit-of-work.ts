import { type AuditRowValues, auditValuesLiteral, insertAuditRows } from './audit-rows.ts';
import { assertAuditRowsOf, withTenantScope } from './extensions/tenant-scope.ts';
import { type FoldedUnit, withFoldedUnit } from './folded-statements.ts';
import type { PrismaClient } from './generated/prisma/client.ts';
import { applyingContext, contextStatement, type TenantContext } from './tenant-context.ts';

/**
 * One interactive transaction that stays open across a request's hooks: the handler's
 * reads and writes and the audit rows that record them commit together, or not at all.
 * Its first round trip sets role and tenant (transaction-local), so RLS (layer 4) applies
 * to every statement in it. Opened only through a `Database` (`db.unit`, `db.clientUnit`),
 * which knows how its connections carry the context.
 */
export interface UnitOfWork<Tx> {
  readonly tx: Tx;
  readonly context: TenantContext;
  /**
   * Records audit rows in this unit: they commit with its work or not at all. On PostgreSQL
   * they ride on the COMMIT's round trip (folded-statements.ts); elsewhere they are written
   * at once. In a client's unit every row must name that client (layer 3).
   */
  audit(rows: readonly AuditRowValues[]): Promise<void>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
}

export interface UnitOfWorkOptions {
  /** How long the transaction may stay open (ms). */
  timeoutMs?: number;
  /** How long to wait for a pooled connection (ms). */
  maxWaitMs?: number;
  /**
   * Tests and the benchmark's baseline only: set neither role nor tenant, keeping the
   * connection's own role. On an owner (superuser) connection this switches row-level
   * security off, to prove the other layers without it.
   */
  unsafeKeepConnectionRole?: boolean;
}

/** The unscoped base client (only packages/db holds it; `@breezycorp/db/unsafe` names it). */
export type BasePrisma = PrismaClient;
/** A base client whose every model operation is confined to one client (layer 3). */
export type ScopedPrisma = ReturnType<typeof createScopedPrisma>;
/** The transaction client of a scoped client: what client-scoped handlers receive. */
export type ScopedTx = TxOf<ScopedPrisma>;
/** The transaction client of the base client: RLS applies, the extension does not. */
export type TxClient = TxOf<BasePrisma>;

type TxOf<C> = C extends { $transaction(fn: (tx: infer T) => Promise<unknown>, options?: infer _O): Promise<unknown> } ? T : never;

function createScopedPrisma(prisma: BasePrisma, clientId: string) {
  return prisma.$extends(withTenantScope(clientId));
}

/**
 * Extended clients are views over the same engine, but building one costs ≈ 75 µs of CPU and
 * each keeps ≈ 12 KB of Prisma's caches once used (issue 13, measured); a Database keeps one
 * per tenant (the key is the tenant), the most recently used ones, bounded. Past the bound a
 * request for a client not kept pays the build: traffic spread evenly over more clients than
 * that (the bench's 10,000-client rotation) pays it on most requests.
 */
export const SCOPED_CLIENTS_KEPT = 1_000;
export class ScopedClients {
  readonly #byClient = new Map<string, ScopedPrisma>();
  constructor(
    readonly prisma: BasePrisma,
    readonly kept: number = SCOPED_CLIENTS_KEPT,
  ) {
    if (!Number.isInteger(kept) || kept < 1) throw new RangeError(`scoped clients kept must be a positive integer, got ${kept}`);
  }
  for(clientId: string): ScopedPrisma {
    let scoped = this.#byClient.get(clientId);
    if (scoped) {
      // Most recently used last: the least recently used is the first to go.
      this.#byClient.delete(clientId);
    } else {
      scoped = createScopedPrisma(this.prisma, clientId);
      if (this.#byClient.size >= this.kept) this.#byClient.delete(this.#byClient.keys().next().value as string);
    }
    this.#byClient.set(clientId, scoped);
    return scoped;
  }
}

class Rollback extends Error {
  override name = 'Rollback';
}

/** A unit committed without the audit rows it queued: the request must fail (fail closed). */
export class AuditNotWritten extends Error {
  override name = 'AuditNotWritten';
}

/** How a database's units begin and end: whether its connections fold the context into BEGIN and the audit rows into COMMIT. */
export interface UnitStarter {
  readonly foldsIntoTransactions: boolean;
}

/** Both clients' `$transaction`, typed by what they hand the callback. */
type Transactional<Tx> = { $transaction<R>(fn: (tx: Tx) => Promise<R>, options?: { timeout?: number; maxWait?: number }): Promise<R> };

/**
 * Opens a unit of work on `client` (the base client or one tenant's scoped client) with
 * `context`. On PostgreSQL the context rides on BEGIN (one round trip); elsewhere it is the
 * transaction's first statement — the same statement either way (tenant-context.ts).
 */
export async function openUnit<Tx extends TxClient | ScopedTx>(
  starter: UnitStarter,
  client: Transactional<Tx>,
  context: TenantContext,
  options: UnitOfWorkOptions,
  /** The client whose scope `client` is (its audit rows must name it); null for the base client. */
  scopeClientId: string | null,
): Promise<UnitOfWork<Tx>> {
  const statement = contextStatement(context);
  let finish!: (commit: boolean) => void;
  const finished = new Promise<boolean>((resolve) => {
    finish = resolve;
  });
  let ready!: (tx: Tx) => void;
  let failed!: (error: unknown) => void;
  const txReady = new Promise<Tx>((resolve, reject) => {
    ready = resolve;
    failed = reject;
  });
  const keepRole = options.unsafeKeepConnectionRole === true;
  // PostgreSQL's connections fold: the context into BEGIN (unless the role is kept), the audit rows into COMMIT.
  const folded = starter.foldsIntoTransactions;
  const start = () =>
    client.$transaction(
      async (tx) => {
        if (!folded && !keepRole) await applyingContext(async () => await tx.$executeRawUnsafe(statement));
        ready(tx);
        if (!(await finished)) throw new Rollback('unit of work rolled back');
      },
      { timeout: options.timeoutMs ?? 30_000, maxWait: options.maxWaitMs ?? 10_000 },
    );
  const foldedUnit: FoldedUnit = { statement: keepRole ? null : statement, audit: [] };
  const settled = folded ? withFoldedUnit(foldedUnit, start) : start();
  settled.catch(failed);
  const tx = await txReady;
  let done = false;
  return {
    tx,
    context,
    async audit(rows) {
      if (done) throw new AuditNotWritten('audit rows for a unit of work that has ended');
      if (rows.length === 0) return;
      if (!folded) return insertAuditRows(tx, rows);
      // Layer 3 for the rows that bypass the scoped client: each must name the unit's client.
      if (scopeClientId !== null)
        assertAuditRowsOf(
          rows.map((r) => r.clientId),
          scopeClientId,
        );
      foldedUnit.audit.push(...rows.map(auditValuesLiteral));
    },
    async commit() {
      if (done) return;
      done = true;
      finish(true);
      await settled;
      // Its COMMIT takes the queued rows; any left were not written with it.
      if (foldedUnit.audit.length > 0) throw new AuditNotWritten(`the unit committed without ${foldedUnit.audit.length} of its audit rows`);
    },
    async rollback() {
      if (done) return;
      done = true;
      finish(false);
      await settled.catch((error: unknown) => {
        if (!(error instanceof Rollback)) throw error;
      });
    },
  };
}

/** Runs `fn` in an opened unit: commit on success, roll back on any error. */
export async function runInUnit<Tx, T>(unit: UnitOfWork<Tx>, fn: (tx: Tx) => Promise<T>): Promise<T> {
  try {
    const result = await fn(unit.tx);
    await unit.commit();
    return result;
  } catch (error) {
    await unit.rollback();
    throw error;
  }
}
