import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type App, buildApp } from '@breezycorp/api/app';
import { type Config, parseConfig } from '@breezycorp/api/config';
import { type Database, migrate, openDatabase, type SeedReport, seedDemo } from '@breezycorp/db';
import { createMigratedDatabase } from '@breezycorp/db/testing';

export interface RunningSpade {
  baseUrl: string;
  app: App;
  config: Config;
  /** The owner connection: arranging data and running the runbook's SQL as an operator would. */
  owner: Database;
  seed: SeedReport;
  /** Magic-link mails written to the outbox, oldest first. */
  outbox(): Promise<{ to: string; subject: string; text: string }[]>;
  close(): Promise<void>;
}

/**
 * The real API, listening on a free port and serving the built web app, over a fresh
 * migrated and seeded PostgreSQL database (or, with `embedded`, the PGlite default).
 */
export async function startSpade(options: { embedded?: boolean } = {}): Promise<RunningSpade> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'spade-web-'));
  const env = { SPADE_DATA_DIR: dataDir, LOG_LEVEL: 'silent', SPADE_LOGIN_PER_MINUTE: '100000', SPADE_EXCHANGE_PER_MINUTE: '100000' };
  let owner: Database;
  let db: Database;
  let dropDatabase = async () => {};
  let config: Config;
  if (options.embedded) {
    config = parseConfig(env);
    if (config.database.kind !== 'pglite') throw new Error('expected the embedded database');
    db = await openDatabase(config.database);
    await db.withSql((sql) => migrate(sql));
    owner = db;
  } else {
    const testDb = await createMigratedDatabase('spade_web');
    config = parseConfig(env);
    owner = testDb.owner;
    db = await openDatabase({ kind: 'postgres', url: testDb.appUrl, poolMax: 8 });
    dropDatabase = () => testDb.drop();
  }
  const seed = await seedDemo(owner.prisma, { storageDir: config.storageDir });
  const app = await buildApp(config, { db, logger: false });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  // The mails carry links to the configured public URL; the browser goes to this server.
  const baseUrl = address.replace('127.0.0.1', 'localhost');
  return {
    baseUrl,
    app,
    config,
    owner,
    seed,
    async outbox() {
      const names = (await readdir(config.outboxDir).catch(() => [] as string[])).sort();
      return Promise.all(names.map(async (name) => JSON.parse(await readFile(path.join(config.outboxDir, name), 'utf8'))));
    },
    async close() {
      await app.close();
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
