import { AsyncLocalStorage } from 'node:async_hooks';
import type pg from 'pg';

/**
 * Sets role and tenant in the same round trip as BEGIN (PostgreSQL only). A unit of work
 * starts its transaction inside `withContextOnBegin`; the pool's connections rewrite that
 * transaction's `BEGIN` (sent by @prisma/adapter-pg through the simple protocol) into
 * `BEGIN; SELECT set_config('role', …, true), set_config('app.client_ids', …, true)`.
 * DESIGN §7 measured the separate statement at 0.80× and a folded one at ~1.0×.
 *
 * It leans on the adapter's internals, so it fails closed: if an upgrade stopped sending a
 * plain BEGIN, no context would be set and RLS would admit nothing. `unit-of-work.test.ts`
 * and the boot self-check (`verifyContextOnBegin`) prove it still applies.
 */
const pendingContext = new AsyncLocalStorage<string>();

/** `statement` is tenant-context.ts's contextStatement, built (and validated) once by the caller. */
export function withContextOnBegin<T>(statement: string, fn: () => PromiseLike<T>): Promise<T> {
  // Awaited inside the context: Prisma's promises start work only when awaited.
  return pendingContext.run(statement, async () => await fn());
}

function isPlainBegin(config: unknown): boolean {
  if (config === 'BEGIN') return true;
  if (typeof config !== 'object' || config === null) return false;
  const query = config as { text?: unknown; values?: unknown[]; name?: unknown };
  return query.text === 'BEGIN' && !query.name && (query.values === undefined || query.values.length === 0);
}

/** Installed on every pooled connection (openDatabase does it for PostgreSQL). */
export function foldContextIntoBegin(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = (config: unknown, ...rest: unknown[]) => {
    const statement = pendingContext.getStore();
    if (statement === undefined || !isPlainBegin(config)) return query(config, ...rest);
    const text = `BEGIN; ${statement}`;
    return query(typeof config === 'string' ? text : { ...(config as object), text }, ...rest);
  };
}
