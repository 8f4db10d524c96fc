import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { foldContextIntoBegin } from './begin-with-context.ts';
import { PrismaClient } from './generated/prisma/client.ts';
import { pgExecutor, pgliteExecutor, type SqlExecutor } from './sql-executor.ts';

export type DatabaseTarget =
  | {
      kind: 'postgres';
      url: string;
      poolMax?: number;
      /** How long a request may wait for a pooled connection (or a new one) before it fails (ms). */
      acquireTimeoutMs?: number;
    }
  | { kind: 'pglite'; dataDir: string };

/** LISTEN reconnection backoff: first retry after this, doubling up to the cap (ms). */
export const LISTEN_RETRY_MS = { first: 50, max: 2_000 } as const;

/**
 * The base Prisma client. It is unscoped: only packages/db and the API's plugins that open
 * tenant units of work hold it; route handlers receive a scoped client instead.
 */
export type BasePrisma = PrismaClient;

/** Clients whose pool folds the tenant context into BEGIN (PostgreSQL); PGlite's do not. */
export const contextOnBegin = new WeakSet<BasePrisma>();

export interface Database {
  readonly kind: DatabaseTarget['kind'];
  readonly prisma: BasePrisma;
  /** Runs `fn` with one raw connection (migrations, boot checks). */
  withSql<T>(fn: (sql: SqlExecutor) => Promise<T>): Promise<T>;
  /**
   * LISTENs on a channel (a dedicated connection on PostgreSQL); resolves to an unlisten
   * function. A lost connection (restart, terminated backend) is re-established with
   * backoff, and `onReconnect` runs after each re-LISTEN so the caller can catch up on
   * what it missed while deaf.
   */
  listen(channel: string, onNotify: (payload: string) => void, onReconnect?: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

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

export async function openDatabase(target: DatabaseTarget): Promise<Database> {
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
      foldContextIntoBegin(client);
    });
    const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
    contextOnBegin.add(prisma);
    return {
      kind: 'postgres',
      prisma,
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
    };
  }
  if (!target.dataDir.startsWith('memory://')) await mkdir(target.dataDir, { recursive: true });
  const pglite = await PGlite.create(target.dataDir);
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite) });
  return {
    kind: 'pglite',
    prisma,
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
  };
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
