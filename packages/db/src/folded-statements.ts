import { AsyncLocalStorage } from 'node:async_hooks';
import type pg from 'pg';
import { auditInsertThenCommit } from './audit-rows.ts';

/**
 * What a unit of work sends with its transaction's first and last round trips (PostgreSQL
 * only). A unit starts its transaction inside `withFoldedUnit`; the pool's connections then
 * rewrite that transaction's
 * - `BEGIN` into `BEGIN; SELECT set_config('role', …), set_config('app.client_ids', …)`:
 *   role and tenant in the same round trip (DESIGN §7 measured the separate statement at
 *   0.80× and a folded one at ~1.0×);
 * - `COMMIT` into `INSERT INTO audit_events … ; COMMIT` when the unit queued audit rows
 *   (`unit.audit`): the rows are written in the same transaction, as the unit's role, so
 *   RLS's WITH CHECK applies, and they commit with the work or not at all — without a round
 *   trip of their own (issue 13: ≈ 0.1 ms of CPU per request).
 * Both are sent by @prisma/adapter-pg through the simple protocol. The COMMIT's INSERT
 * carries its values as literals (audit-rows.ts's `auditValuesLiteral`), because the simple
 * protocol takes no parameters.
 *
 * It leans on the adapter's internals, so it fails closed: if an upgrade stopped sending a
 * plain BEGIN, no context would be set and RLS would admit nothing (the boot self-check
 * `verifyTenantContext` refuses to start); if a COMMIT did not carry the queued rows, the
 * unit's commit throws (`AuditNotWritten`) and the request fails before its response
 * leaves. `unit-of-work.test.ts` proves both folds apply.
 */
export interface FoldedUnit {
  /** tenant-context.ts's contextStatement, built (and validated) once by the unit; null when it keeps the connection's role. */
  readonly statement: string | null;
  /** Audit rows the unit queued, each as its VALUES tuple (`auditValuesLiteral`); taken by its COMMIT. */
  readonly audit: string[];
}

const opening = new AsyncLocalStorage<FoldedUnit>();

/** Starts a unit's transaction (`fn`) so that its connection folds `unit`'s statements in. */
export function withFoldedUnit<T>(unit: FoldedUnit, fn: () => PromiseLike<T>): Promise<T> {
  // Awaited inside the context: Prisma's promises start work only when awaited.
  return opening.run(unit, async () => await fn());
}

function isPlain(config: unknown, command: 'BEGIN' | 'COMMIT' | 'ROLLBACK'): boolean {
  if (config === command) return true;
  if (typeof config !== 'object' || config === null) return false;
  const query = config as { text?: unknown; values?: unknown[]; name?: unknown };
  return query.text === command && !query.name && (query.values === undefined || query.values.length === 0);
}

function withText(config: unknown, text: string): unknown {
  return typeof config === 'string' ? text : { ...(config as object), text };
}

type Query = (...args: unknown[]) => unknown;

/** Installed on every pooled connection (openDatabase does it for PostgreSQL). */
export function foldIntoTransactions(client: pg.PoolClient): void {
  const query = client.query.bind(client) as Query;
  /** The unit whose transaction this connection is in, from its BEGIN to its COMMIT or ROLLBACK. */
  let current: FoldedUnit | null = null;
  (client as unknown as { query: Query }).query = (config: unknown, ...rest: unknown[]) => {
    if (isPlain(config, 'BEGIN')) {
      current = opening.getStore() ?? null;
      return current?.statement ? query(withText(config, `BEGIN; ${current.statement}`), ...rest) : query(config, ...rest);
    }
    if (isPlain(config, 'ROLLBACK')) current = null;
    if (current !== null && isPlain(config, 'COMMIT')) {
      const unit = current;
      current = null;
      // Only the promise form (the adapter's); anything else commits unfolded and leaves the rows queued (AuditNotWritten).
      if (unit.audit.length === 0 || rest.length > 0) return query(config, ...rest);
      return (query(withText(config, auditInsertThenCommit(unit.audit.splice(0)))) as Promise<unknown>).catch(async (error: unknown) => {
        // The INSERT failed: COMMIT never ran and the transaction is aborted; end it before the connection goes back.
        await (query('ROLLBACK') as Promise<unknown>).catch(() => undefined);
        throw error;
      });
    }
    return query(config, ...rest);
  };
}
