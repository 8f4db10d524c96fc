import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEMO, hashToken } from '@breezycorp/db';
import { createMigratedDatabase, type TestDatabase } from '@breezycorp/db/testing';
import { openDatabase, seedDemo, type UnsafeDatabase } from '@breezycorp/db/unsafe';
import type { FastifyInstance } from 'fastify';
import { type App, type AppDeps, buildApp } from '../../app.ts';
import { type Config, parseConfig } from '../../config.ts';
import { type MailTransport, memoryTransport, type OutgoingMail } from '../../services/mail-transport.ts';

export interface TestApp {
  app: App;
  config: Config;
  /** The runtime connection (spade_app), as the server uses it. */
  db: UnsafeDatabase;
  /** The admin firm-wide reads' own connection (spade_admin_login), as the server uses it. */
  adminDb: UnsafeDatabase;
  /** The owner connection, for arranging data and running the runbook's SQL. */
  owner: UnsafeDatabase;
  testDb: TestDatabase;
  dataDir: string;
  /** Every mail the delivery worker sent (unless the test handed in its own transport). */
  mails: OutgoingMail[];
  /** Runs the delivery worker until nothing is due (the in-process poller is off in tests). */
  deliver(): Promise<void>;
  /** Delivers, then returns the token of the newest link mailed to `email`. */
  linkFor(email: string): Promise<string>;
  /** Delivers, then returns the token of the newest link mailed for this request. */
  linkForRequest(requestId: string): Promise<string>;
  close(): Promise<void>;
}

/** The magic-link token in a mail's text (the only place it exists). */
export function tokenInMail(mail: OutgoingMail): string {
  const match = /#token=(mlk_[A-Za-z0-9_-]{43})/.exec(mail.text);
  if (!match) throw new Error(`no link in the mail "${mail.subject}"`);
  return match[1] as string;
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
    /** Where mail goes; default: kept in memory (`mails`). */
    mailTransport?: MailTransport;
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
    // Tests drive the worker themselves (deliver()), so nothing is sent behind their back.
    SPADE_DELIVERY_WORKER: 'off',
    ...options.env,
  });
  if (options.seed !== false) await seedDemo(testDb.owner.prisma, { storageDir: config.storageDir });
  const db = await openDatabase({ kind: 'postgres', url: testDb.appUrl, poolMax: 8 });
  const adminDb = await openDatabase({ kind: 'postgres', url: testDb.adminUrl, poolMax: 4 });
  const memory = memoryTransport();
  const deps: AppDeps = options.logger === 'config' ? { db, adminDb } : { db, adminDb, logger: false };
  // With SMTP_URL set and no transport handed in, the app sends through SMTP as configured.
  if (options.mailTransport) deps.mailTransport = options.mailTransport;
  else if (!config.mail.smtpUrl) deps.mailTransport = memory;
  if (options.extraRoutes) deps.extraRoutes = options.extraRoutes;
  const app = await buildApp(config, deps);
  const deliver = async () => {
    // What routes left to run after their answer ("email me a new link") queues mail too.
    await app.background.settled();
    await app.delivery.drain();
  };
  return {
    app,
    config,
    db,
    adminDb,
    owner: testDb.owner,
    testDb,
    dataDir,
    mails: memory.sent,
    deliver,
    async linkFor(email) {
      await deliver();
      const mail = memory.sent.findLast((m) => m.to.toLowerCase() === email.toLowerCase() && /#token=/.test(m.text));
      if (!mail) throw new Error(`no link was mailed to ${email}`);
      return tokenInMail(mail);
    },
    async linkForRequest(requestId) {
      await deliver();
      const rows = await testDb.owner.prisma.outboxMessage.findMany({
        where: { cycleRequestId: requestId, kind: { in: ['magic_link', 'reminder'] }, status: 'sent' },
        orderBy: { sentAt: 'desc' },
        select: { id: true },
      });
      // Each mail minted a link that replaced the one before; messages sent together finish in
      // any order, so the live link is the one whose hash the request holds now.
      const current = await testDb.owner.prisma.cycleRequest.findUnique({ where: { id: requestId }, select: { tokenHash: true } });
      const tokens = rows.flatMap((row) => {
        const mail = memory.sent.findLast((m) => m.messageId.startsWith(`<${row.id}@`));
        return mail ? [tokenInMail(mail)] : [];
      });
      const live = tokens.find((token) => hashToken(token) === current?.tokenHash);
      if (live) return live;
      if (tokens[0]) return tokens[0];
      throw new Error(`no link was mailed for request ${requestId}`);
    },
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
