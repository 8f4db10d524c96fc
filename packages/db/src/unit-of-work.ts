import { withContextOnBegin } from './begin-with-context.ts';
import { type BasePrisma, contextOnBegin } from './database.ts';
import { withTenantScope } from './extensions/tenant-scope.ts';
import { ADMIN_CONTEXT, applyTenantContext, clientContext, type TenantContext, TenantContextError } from './tenant-context.ts';

/**
 * One interactive transaction that stays open across a request's hooks: the handler's
 * reads and writes and the audit rows that record them commit together, or not at all.
 * Its first round trip sets role and tenant (transaction-local), so RLS (layer 4) applies
 * to every statement in it.
 */
export interface UnitOfWork<Tx> {
  readonly tx: Tx;
  readonly context: TenantContext;
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

/** A base client whose every model operation is confined to one client (layer 3). */
export type ScopedPrisma = ReturnType<typeof createScopedPrisma>;
/** The transaction client of a scoped client: what client-scoped handlers receive. */
export type ScopedTx = TxOf<ScopedPrisma>;
/** The transaction client of the base client: RLS applies, the extension does not. */
export type TxClient = TxOf<BasePrisma>;

type TxOf<C> = C extends { $transaction(fn: (tx: infer T) => Promise<unknown>, options?: infer _O): Promise<unknown> } ? T : never;
type Transactional<Tx> = {
  $transaction<R>(fn: (tx: Tx) => Promise<R>, options?: { timeout?: number; maxWait?: number }): Promise<R>;
};

function createScopedPrisma(prisma: BasePrisma, clientId: string) {
  return prisma.$extends(withTenantScope(clientId));
}

/**
 * Extended clients are cheap views over the same engine, but building one per request
 * shows in throughput; they are kept per base client and tenant (the key is the tenant).
 */
const scopedClients = new WeakMap<BasePrisma, Map<string, ScopedPrisma>>();
const SCOPED_CLIENTS_KEPT = 1_000;

export function scopedPrisma(prisma: BasePrisma, clientId: string): ScopedPrisma {
  let byClient = scopedClients.get(prisma);
  if (!byClient) {
    byClient = new Map();
    scopedClients.set(prisma, byClient);
  }
  let scoped = byClient.get(clientId);
  if (!scoped) {
    scoped = createScopedPrisma(prisma, clientId);
    if (byClient.size >= SCOPED_CLIENTS_KEPT) byClient.delete(byClient.keys().next().value as string);
    byClient.set(clientId, scoped);
  }
  return scoped;
}

class Rollback extends Error {
  override name = 'Rollback';
}

async function begin<Tx>(
  prisma: BasePrisma,
  client: Transactional<Tx>,
  context: TenantContext,
  options: UnitOfWorkOptions,
): Promise<UnitOfWork<Tx>> {
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
  // On PostgreSQL the context rides on BEGIN (one round trip); elsewhere it is the
  // transaction's first statement.
  const folded = !keepRole && contextOnBegin.has(prisma);
  const start = () =>
    client.$transaction(
      async (tx) => {
        if (!folded) await applyTenantContext(tx as never, context, keepRole);
        ready(tx);
        if (!(await finished)) throw new Rollback('unit of work rolled back');
      },
      { timeout: options.timeoutMs ?? 30_000, maxWait: options.maxWaitMs ?? 10_000 },
    );
  const settled = folded ? withContextOnBegin(context, start) : start();
  settled.catch(failed);
  const tx = await txReady;
  let done = false;
  return {
    tx,
    context,
    async commit() {
      if (done) return;
      done = true;
      finish(true);
      await settled;
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

/** A unit of work for staff-only or public routes: RLS admits exactly `context`'s clients. */
export function beginUnitOfWork(prisma: BasePrisma, context: TenantContext, options: UnitOfWorkOptions = {}) {
  return begin<TxClient>(prisma, prisma as unknown as Transactional<TxClient>, context, options);
}

/** A unit of work for one client: RLS and the tenant-scope extension both confine it. */
export function beginClientUnitOfWork(prisma: BasePrisma, clientId: string, options: UnitOfWorkOptions = {}) {
  const context = clientContext(clientId);
  return begin<ScopedTx>(prisma, scopedPrisma(prisma, clientId) as unknown as Transactional<ScopedTx>, context, options);
}

/** Runs `fn` in an opened unit: commit on success, roll back on any error. */
async function runInUnit<Tx, T>(unit: UnitOfWork<Tx>, fn: (tx: Tx) => Promise<T>): Promise<T> {
  try {
    const result = await fn(unit.tx);
    await unit.commit();
    return result;
  } catch (error) {
    await unit.rollback();
    throw error;
  }
}

/** Runs `fn` in one unit of work: commit on success, roll back on any error. */
export async function inUnitOfWork<T>(
  prisma: BasePrisma,
  context: TenantContext,
  fn: (tx: TxClient) => Promise<T>,
  options: UnitOfWorkOptions = {},
): Promise<T> {
  return runInUnit(await beginUnitOfWork(prisma, context, options), fn);
}

/**
 * Boot self-check: a unit of work really runs as spade_app with exactly its tenant set —
 * whichever way the context travels (folded into BEGIN on PostgreSQL, a first statement on
 * PGlite). An upgrade that broke the fold would fail here, at boot, not silently later.
 */
export async function verifyTenantContext(prisma: BasePrisma): Promise<void> {
  const probe = '00000000-0000-4000-8000-0000000c0de0';
  const seen = await inUnitOfWork(
    prisma,
    clientContext(probe),
    (tx) => tx.$queryRaw<{ role: string; ids: string }[]>`SELECT current_user AS role, current_setting('app.client_ids', true) AS ids`,
  );
  if (seen[0]?.role !== 'spade_app' || seen[0]?.ids !== probe) {
    throw new TenantContextError(`units of work do not carry their tenant context (saw ${JSON.stringify(seen[0] ?? null)})`);
  }
}

/**
 * Boot self-check of the admin pool: an admin unit of work runs as spade_firm_admin. On the
 * app's own pool this fails (spade_app is a member of no all-seeing role), as it must.
 */
export async function verifyAdminContext(prisma: BasePrisma): Promise<void> {
  const seen = await inUnitOfWork(prisma, ADMIN_CONTEXT, (tx) => tx.$queryRaw<{ role: string }[]>`SELECT current_user AS role`);
  if (seen[0]?.role !== 'spade_firm_admin') {
    throw new TenantContextError(`admin units of work run as ${JSON.stringify(seen[0]?.role ?? null)}, not spade_firm_admin`);
  }
}

/**
 * Runs `fn` in one client's unit of work — RLS and the tenant-scope extension both confine
 * it — committing on success, rolling back on any error. Background work (the delivery
 * worker, schedulers, bulk sends) uses it, one client per unit, never two.
 */
export async function inClientUnitOfWork<T>(
  prisma: BasePrisma,
  clientId: string,
  fn: (tx: ScopedTx) => Promise<T>,
  options: UnitOfWorkOptions = {},
): Promise<T> {
  return runInUnit(await beginClientUnitOfWork(prisma, clientId, options), fn);
}
