import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { foldIntoTransactions } from './folded-statements.ts';
import { PrismaClient } from './generated/prisma/client.ts';
import { pgExecutor, pgliteExecutor, type SqlExecutor } from './sql-executor.ts';
import { ADMIN_CONTEXT, clientContext, type TenantContext, TenantContextError } from './tenant-context.ts';
import {
  type BasePrisma,
  openUnit,
  runInUnit,
  ScopedClients,
  type ScopedTx,
  type TxClient,
  type UnitOfWork,
  type UnitOfWorkOptions,
} from './unit-of-work.ts';

export type DatabaseTarget =
  | {
      kind: 'postgres';
      url: string;
      poolMax?: number;
      /** How long a request may wait for a pooled connection (or a new one) before it fails (ms). */
      acquireTimeoutMs?: number;
      /** Tenant-scoped clients kept, most recently used first (default SCOPED_CLIENTS_KEPT; unit-of-work.ts). */
      scopedClientsKept?: number;
    }
  | { kind: 'pglite'; dataDir: string };

/** LISTEN reconnection backoff: first retry after this, doubling up to the cap (ms). */
export const LISTEN_RETRY_MS = { first: 50, max: 2_000 } as const;

/**
 * A database, as the product sees it: units of work, never the unscoped client. Every read
 * and write of the API's requests and background jobs runs in a unit that `unit` or
 * `clientUnit` opened, with its tenant context set by the one statement of
 * tenant-context.ts; how that statement travels (folded into BEGIN on PostgreSQL, the
 * transaction's first statement on PGlite) is this object's own business.
 */
export interface Database {
  readonly kind: DatabaseTarget['kind'];
  /** True when a unit's context rides on its BEGIN and its audit rows on its COMMIT (PostgreSQL's pooled connections, folded-statements.ts). */
  readonly foldsIntoTransactions: boolean;
  /** A unit for staff-only or public work: RLS admits exactly `context`'s clients. */
  unit(context: TenantContext, options?: UnitOfWorkOptions): Promise<UnitOfWork<TxClient>>;
  /** A unit for one client: RLS and the tenant-scope extension both confine it. */
  clientUnit(clientId: string, options?: UnitOfWorkOptions): Promise<UnitOfWork<ScopedTx>>;
  /** Runs `fn` in one unit of work: commit on success, roll back on any error. */
  inUnit<T>(context: TenantContext, fn: (tx: TxClient) => Promise<T>, options?: UnitOfWorkOptions): Promise<T>;
  /**
   * Runs `fn` in one client's unit of work (RLS + the tenant-scope extension). Background
   * work (the delivery worker, schedulers, bulk sends) uses it, one client per unit, never two.
   */
  inClientUnit<T>(clientId: string, fn: (tx: ScopedTx) => Promise<T>, options?: UnitOfWorkOptions): Promise<T>;
  /**
   * Boot self-check: a unit of work really runs as spade_app with exactly its tenant set —
   * whichever way the context travels. An upgrade that broke the fold fails here, at boot.
   */
  verifyTenantContext(): Promise<void>;
  /** Boot self-check of the admin pool: an admin unit runs as spade_firm_admin (on the app's pool it fails, as it must). */
  verifyAdminContext(): Promise<void>;
  /** Readiness: one trivial round trip on a pooled connection (no tenant, no transaction). */
  ping(): Promise<void>;
  /**
   * LISTENs on a channel (a dedicated connection on PostgreSQL); resolves to an unlisten
   * function. A lost connection (restart, terminated backend) is re-established with
   * backoff, and `onReconnect` runs after each re-LISTEN so the caller can catch up on
   * what it missed while deaf.
   */
  listen(channel: string, onNotify: (payload: string) => void, onReconnect?: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/**
 * The same database with its unscoped parts: the base Prisma client (RLS still applies to
 * the login's role, the tenant-scope extension does not) and raw connections. Only
 * `@breezycorp/db/unsafe` exports this type and `openDatabase`; `pnpm lint` lists every
 * importer of that entry.
 */
export interface UnsafeDatabase extends Database {
  readonly prisma: BasePrisma;
  /** Runs `fn` with one raw connection (migrations, boot checks, the operator's CLI). */
  withSql<T>(fn: (sql: SqlExecutor) => Promise<T>): Promise<T>;
}

function databaseOver(
  kind: DatabaseTarget['kind'],
  prisma: BasePrisma,
  foldsIntoTransactions: boolean,
  rest: Pick<UnsafeDatabase, 'withSql' | 'listen' | 'close'>,
  scopedClientsKept?: number,
): UnsafeDatabase {
  const scoped = new ScopedClients(prisma, scopedClientsKept);
  const starter = { foldsIntoTransactions };
  const unit = (context: TenantContext, options: UnitOfWorkOptions = {}) => openUnit<TxClient>(starter, prisma, context, options, null);
  const clientUnit = (clientId: string, options: UnitOfWorkOptions = {}) => {
    const context = clientContext(clientId); // validated before any client is built for it
    return openUnit<ScopedTx>(starter, scoped.for(clientId), context, options, clientId);
  };
  return {
    kind,
    prisma,
    foldsIntoTransactions,
    unit,
    clientUnit,
    async inUnit(context, fn, options) {
      return runInUnit(await unit(context, options), fn);
    },
    async inClientUnit(clientId, fn, options) {
      return runInUnit(await clientUnit(clientId, options), fn);
    },
    async verifyTenantContext() {
      const probe = '00000000-0000-4000-8000-0000000c0de0';
      const seen = await runInUnit(
        await unit(clientContext(probe)),
        (tx) => tx.$queryRaw<{ role: string; ids: string }[]>`SELECT current_user AS role, current_setting('app.client_ids', true) AS ids`,
      );
      if (seen[0]?.role !== 'spade_app' || seen[0]?.ids !== probe) {
        throw new TenantContextError(`units of work do not carry their tenant context (saw ${JSON.stringify(seen[0] ?? null)})`);
      }
    },
    async verifyAdminContext() {
      const seen = await runInUnit(await unit(ADMIN_CONTEXT), (tx) => tx.$queryRaw<{ role: string }[]>`SELECT current_user AS role`);
      if (seen[0]?.role !== 'spade_firm_admin') {
        throw new TenantContextError(`admin units of work run as ${JSON.stringify(seen[0]?.role ?? null)}, not spade_firm_admin`);
      }
    },
    async ping() {
      await rest.withSql((sql) => sql.query('SELECT 1'));
    },
    ...rest,
  };
}

/**
 * Prisma's error format, the same in every environment. Any other format (Prisma's default
 * outside NODE_ENV=production) captures a stack trace (`new Error()`) on every model call to
 * point its messages at the caller's line: ≈ 2–7 % of the request path's CPU (issue 13's
 * profiles), for messages the API never shows (errors are mapped by code, database-errors.ts).
 */
const ERROR_FORMAT = 'minimal';

type DataEnv = { DATABASE_URL?: string | undefined; SPADE_DATA_DIR?: string | undefined };

/** Where the embedded database, stored files and the outbox live (SPADE_DATA_DIR, default ./.spade). */
export function dataPaths(env: DataEnv) {
  const dataDir = path.resolve(env.SPADE_DATA_DIR || './.spade');
  return {
    dataDir,
    pgliteDir: path.join(dataDir, 'pglite'),
    storageDir: path.join(dataDir, 'files'),
    outboxDir: path.join(dataDir, 'outbox'),
  };
}

/** The owner's database: DATABASE_URL, else the embedded PGlite under SPADE_DATA_DIR. */
export function targetFromEnv(env: DataEnv): DatabaseTarget {
  if (env.DATABASE_URL) return { kind: 'postgres', url: env.DATABASE_URL };
  return { kind: 'pglite', dataDir: dataPaths(env).pgliteDir };
}

export async function openDatabase(target: DatabaseTarget): Promise<UnsafeDatabase> {
  if (target.kind === 'postgres') {
    const pool = new pg.Pool({
      connectionString: target.url,
      max: target.poolMax ?? 10,
      // Bounded: a request waits this long for a connection, then fails (503), never forever.
      connectionTimeoutMillis: target.acquireTimeoutMs ?? 3_000,
    });
    // An idle connection the server ends (a restart, a dropped database) must not crash the
    // process: the pool discards it and the next query opens a new one.
    pool.on('error', () => undefined);
    pool.on('connect', (client) => {
      // A *checked-out* connection whose backend dies (pg_terminate_backend, a restart) emits
      // `error` too; pg-pool only listens while the client is idle or inside its own
      // query(), so without a listener of our own that error is uncaught and ends the
      // process. The query in flight fails on its own (→ 503) and the pool drops the client.
      client.on('error', () => undefined);
      foldIntoTransactions(client);
    });
    const prisma = new PrismaClient({ adapter: new PrismaPg(pool), errorFormat: ERROR_FORMAT });
    return databaseOver(
      'postgres',
      prisma,
      true,
      {
        async withSql(fn) {
          const client = await pool.connect();
          try {
            return await fn(pgExecutor(client));
          } finally {
            client.release();
          }
        },
        listen: (channel, onNotify, onReconnect) => listenWithReconnect(target.url, channel, onNotify, onReconnect),
        async close() {
          await prisma.$disconnect();
          await pool.end();
        },
      },
      target.scopedClientsKept,
    );
  }
  if (!target.dataDir.startsWith('memory://')) await mkdir(target.dataDir, { recursive: true });
  const pglite = await PGlite.create(target.dataDir);
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite), errorFormat: ERROR_FORMAT });
  return databaseOver('pglite', prisma, false, {
    async withSql(fn) {
      return fn(pgliteExecutor(pglite));
    },
    async listen(channel, onNotify) {
      return pglite.listen(channel, onNotify);
    },
    async close() {
      await prisma.$disconnect();
      await pglite.close();
    },
  });
}

/**
 * A LISTEN on its own connection (not from the pool: it stays checked out for as long as
 * it listens) that comes back by itself: when the connection ends for any reason but
 * unlisten, it reconnects with exponential backoff and calls `onReconnect` once it is
 * listening again. The first connection must succeed (the caller falls back otherwise).
 */
async function listenWithReconnect(
  url: string,
  channel: string,
  onNotify: (payload: string) => void,
  onReconnect?: () => void,
): Promise<() => Promise<void>> {
  let stopped = false;
  let current: pg.Client | null = null;
  let retryTimer: NodeJS.Timeout | null = null;
  let delay: number = LISTEN_RETRY_MS.first;

  const connect = async (): Promise<void> => {
    const client = new pg.Client({ connectionString: url });
    client.on('notification', (message) => onNotify(message.payload ?? ''));
    // 'error' then 'end' on a lost connection; only 'end' schedules the reconnect.
    client.on('error', () => undefined);
    client.on('end', () => {
      if (current === client) current = null;
      scheduleReconnect();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${client.escapeIdentifier(channel)}`);
    } catch (error) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      throw error;
    }
    if (stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    current = client;
    delay = LISTEN_RETRY_MS.first;
  };

  function scheduleReconnect() {
    if (stopped || retryTimer) return;
    retryTimer = setTimeout(async () => {
      retryTimer = null;
      try {
        await connect();
        if (!stopped) onReconnect?.();
      } catch {
        delay = Math.min(delay * 2, LISTEN_RETRY_MS.max);
        scheduleReconnect();
      }
    }, delay);
    retryTimer.unref();
  }

  await connect();
  return async () => {
    stopped = true;
    if (retryTimer) clearTimeout(retryTimer);
    const client = current;
    current = null;
    await client?.end().catch(() => undefined);
  };
}
