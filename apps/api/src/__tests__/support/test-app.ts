import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Database, DEMO, openDatabase, seedDemo } from '@breezycorp/db';
import { createMigratedDatabase, type TestDatabase } from '@breezycorp/db/testing';
import type { FastifyInstance } from 'fastify';
import { type App, type AppDeps, buildApp } from '../../app.ts';
import { type Config, parseConfig } from '../../config.ts';

export interface TestApp {
  app: App;
  config: Config;
  /** The runtime connection (spade_app), as the server uses it. */
  db: Database;
  /** The admin firm-wide reads' own connection (spade_admin_login), as the server uses it. */
  adminDb: Database;
  /** The owner connection, for arranging data and running the runbook's SQL. */
  owner: Database;
  testDb: TestDatabase;
  dataDir: string;
  close(): Promise<void>;
}

/**
 * A real app over a fresh, migrated and seeded PostgreSQL database of its own, connected
 * as spade_app exactly like production. Each test file builds one and closes it.
 */
export async function createTestApp(
  options: {
    env?: Record<string, string>;
    extraRoutes?: (app: FastifyInstance) => Promise<void>;
    seed?: boolean;
    /** 'config': log as configured (LOG_LEVEL, SPADE_LOG_FILE) instead of silently. */
    logger?: 'config';
  } = {},
): Promise<TestApp> {
  const testDb = await createMigratedDatabase();
  const dataDir = await mkdtemp(path.join(tmpdir(), 'spade-test-'));
  // Many logins from one address: a test file about rate limits sets its own lower limits.
  const config = parseConfig({
    SPADE_DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    SPADE_LOGIN_PER_MINUTE: '100000',
    SPADE_EXCHANGE_PER_MINUTE: '100000',
    ...options.env,
  });
  if (options.seed !== false) await seedDemo(testDb.owner.prisma, { storageDir: config.storageDir });
  const db = await openDatabase({ kind: 'postgres', url: testDb.appUrl, poolMax: 8 });
  const adminDb = await openDatabase({ kind: 'postgres', url: testDb.adminUrl, poolMax: 4 });
  const deps: AppDeps = options.logger === 'config' ? { db, adminDb } : { db, adminDb, logger: false };
  if (options.extraRoutes) deps.extraRoutes = options.extraRoutes;
  const app = await buildApp(config, deps);
  return {
    app,
    config,
    db,
    adminDb,
    owner: testDb.owner,
    testDb,
    dataDir,
    async close() {
      await app.close();
      await db.close();
      await adminDb.close();
      await testDb.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export async function login(
  app: App,
  who: { email: string; password: string },
): Promise<{ token: string; headers: Record<string, string> }> {
  const response = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: who.email, password: who.password } });
  if (response.statusCode !== 200) throw new Error(`login failed: ${response.statusCode} ${response.body}`);
  const token = response.json<{ token: string }>().token;
  return { token, headers: { authorization: `Bearer ${token}` } };
}

export { DEMO };
