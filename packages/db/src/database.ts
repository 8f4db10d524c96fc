import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { foldContextIntoBegin } from './begin-with-context.ts';
import { PrismaClient } from './generated/prisma/client.ts';
import { pgExecutor, pgliteExecutor, type SqlExecutor } from './sql-executor.ts';

export type DatabaseTarget = { kind: 'postgres'; url: string; poolMax?: number } | { kind: 'pglite'; dataDir: string };

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
  /** LISTENs on a channel (a dedicated connection on PostgreSQL); resolves to an unlisten function. */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
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
    const pool = new pg.Pool({ connectionString: target.url, max: target.poolMax ?? 10 });
    // An idle connection the server ends (a restart, a dropped database) must not crash the
    // process: the pool discards it and the next query opens a new one.
    pool.on('error', () => undefined);
    pool.on('connect', foldContextIntoBegin);
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
      async listen(channel, onNotify) {
        // Not from the pool: a LISTENing connection must stay checked out for as long as it listens.
        const client = new pg.Client({ connectionString: target.url });
        client.on('notification', (message) => onNotify(message.payload ?? ''));
        client.on('error', () => undefined);
        await client.connect();
        await client.query(`LISTEN ${client.escapeIdentifier(channel)}`);
        return async () => {
          await client.end().catch(() => undefined);
        };
      },
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
