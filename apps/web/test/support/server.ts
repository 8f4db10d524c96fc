import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type App, buildApp, type Config, parseConfig } from '@breezycorp/api';
import { createMigratedDatabase } from '@breezycorp/db/testing';
import { migrate, openDatabase, type SeedReport, seedDemo, type UnsafeDatabase } from '@breezycorp/db/unsafe';

export interface RunningSpade {
  baseUrl: string;
  app: App;
  config: Config;
  /** The owner connection: arranging data and running the runbook's SQL as an operator would. */
  owner: UnsafeDatabase;
  seed: SeedReport;
  /** Mails the delivery worker wrote to the outbox folder, oldest first. */
  outbox(): Promise<{ to: string; subject: string; text: string }[]>;
  /** Waits (up to 15 s) for one more mail to `to` than there were `before`, and returns it. */
  nextMail(to: string, before: number): Promise<{ to: string; subject: string; text: string }>;
  close(): Promise<void>;
}

/**
 * The real API, listening on a free port and serving the built web app, over a fresh
 * migrated and seeded PostgreSQL database (or, with `embedded`, the PGlite default).
 */
export async function startSpade(options: { embedded?: boolean } = {}): Promise<RunningSpade> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'spade-web-'));
  const env = {
    SPADE_DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    SPADE_LOGIN_PER_MINUTE: '100000',
    SPADE_EXCHANGE_PER_MINUTE: '100000',
    // The in-process delivery worker writes mails to the outbox folder; poll it often in tests.
    SPADE_DELIVERY_POLL_MS: '100',
  };
  let owner: UnsafeDatabase;
  let db: UnsafeDatabase;
  let adminDb: UnsafeDatabase;
  let dropDatabase = async () => {};
  let config: Config;
  if (options.embedded) {
    config = parseConfig(env);
    if (config.database.kind !== 'pglite') throw new Error('expected the embedded database');
    db = await openDatabase(config.database);
    await db.withSql((sql) => migrate(sql));
    owner = db;
    // The embedded database has one (superuser) login: admin units switch role on it.
    adminDb = db;
  } else {
    const testDb = await createMigratedDatabase('spade_web');
    config = parseConfig(env);
    owner = testDb.owner;
    db = await openDatabase({ kind: 'postgres', url: testDb.appUrl, poolMax: 8 });
    adminDb = await openDatabase({ kind: 'postgres', url: testDb.adminUrl, poolMax: 4 });
    dropDatabase = () => testDb.drop();
  }
  const seed = await seedDemo(owner.prisma, { storageDir: config.storageDir });
  const app = await buildApp(config, { db, adminDb, logger: false });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  // The mails carry links to the configured public URL; the browser goes to this server.
  const baseUrl = address.replace('127.0.0.1', 'localhost');
  const readOutbox = async (): Promise<{ to: string; subject: string; text: string }[]> => {
    const names = (await readdir(config.outboxDir).catch(() => [] as string[])).sort();
    return Promise.all(names.map(async (name) => JSON.parse(await readFile(path.join(config.outboxDir, name), 'utf8'))));
  };
  return {
    baseUrl,
    app,
    config,
    owner,
    seed,
    outbox: readOutbox,
    async nextMail(to, before) {
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline) {
        const mails = (await readOutbox()).filter((mail) => mail.to === to);
        if (mails.length > before) return mails.at(-1)!;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`no new mail to ${to} within 15 s`);
    },
    async close() {
      await app.close();
      if (adminDb !== db) await adminDb.close();
      await db.close();
      await dropDatabase();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The portal link in a mail, pointed at the running server. */
export function linkIn(text: string, baseUrl: string): string {
  const match = /\/portal#token=([\w-]+)/.exec(text);
  if (!match) throw new Error(`no portal link in: ${text}`);
  return `${baseUrl}/portal#token=${match[1]}`;
}
