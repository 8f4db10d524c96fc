import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEMO } from '@breezycorp/db';
import { migrate, openDatabase, type SeedReport, seedDemo, type UnsafeDatabase } from '@breezycorp/db/unsafe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../app.ts';
import { type Config, parseConfig } from '../config.ts';
import { login } from './support/test-app.ts';

/**
 * The embedded default (no DATABASE_URL): PGlite in SPADE_DATA_DIR, migrated and seeded,
 * with the same isolation — RLS applies through the per-transaction role switch.
 */
let dataDir: string;
let db: UnsafeDatabase;
let app: App;
let seed: SeedReport;
let config: Config;
beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'spade-embedded-'));
  // The default delivery worker runs in this process and polls (no LISTEN on PGlite); quickly here.
  config = parseConfig({ SPADE_DATA_DIR: dataDir, LOG_LEVEL: 'silent', SPADE_LOGIN_PER_MINUTE: '1000', SPADE_DELIVERY_POLL_MS: '100' });
  expect(config.mail.worker).toBe('in-process');
  expect(config.database.kind).toBe('pglite');
  db = await openDatabase(config.database);
  await db.withSql((sql) => migrate(sql));
  seed = await seedDemo(db.prisma, { storageDir: config.storageDir });
  app = await buildApp(config, { db, logger: false });
});
afterAll(async () => {
  await app?.close();
  await db?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('the embedded PGlite default', () => {
  it('serves the demo data: the admin sees every client, the staff member only Acme', async () => {
    const admin = await login(app, DEMO.staff.admin);
    const all = await app.inject({ method: 'GET', url: '/api/clients', headers: admin.headers });
    expect(all.json<{ clients: unknown[] }>().clients).toHaveLength(3);
    const staff = await login(app, DEMO.staff.staff);
    const mine = await app.inject({ method: 'GET', url: '/api/clients', headers: staff.headers });
    expect(mine.json<{ clients: { id: string }[] }>().clients.map((c) => c.id)).toEqual([DEMO.clients.acme]);
  });

  it('the incident console works for admins on PGlite too (the admin role may read the incident tables, evidence without stored_path)', async () => {
    const incident = await db.prisma.incident.create({
      data: { title: 'Embedded drill', reporter: 'test', openedBy: 'test', channel: '#incident-tenant-leak-test' },
    });
    await db.prisma.incidentEvidence.create({
      data: { incidentId: incident.id, filename: 'a.txt', sha256: 'a'.repeat(64), size: 1n, storedPath: '/secret/a.txt', addedBy: 'test' },
    });
    const admin = await login(app, DEMO.staff.admin);
    const list = await app.inject({ method: 'GET', url: '/api/admin/incidents', headers: admin.headers });
    expect(list.statusCode, list.body).toBe(200);
    const detail = await app.inject({ method: 'GET', url: `/api/admin/incidents/${incident.id}`, headers: admin.headers });
    expect(detail.statusCode, detail.body).toBe(200);
    expect(detail.json<{ evidence: { filename: string }[] }>().evidence.map((e) => e.filename)).toEqual(['a.txt']);
    expect(detail.body).not.toContain('/secret/');
    expect((await app.inject({ method: 'GET', url: '/api/admin/detection', headers: admin.headers })).statusCode).toBe(200);
    const staff = await login(app, DEMO.staff.staff);
    expect((await app.inject({ method: 'GET', url: '/api/admin/incidents', headers: staff.headers })).statusCode).toBe(404);
  });

  it("staff of Acme cannot read Borneo's cycles on PGlite either", async () => {
    const staff = await login(app, DEMO.staff.staff);
    const response = await app.inject({ method: 'GET', url: `/api/clients/${DEMO.clients.borneo}/cycles`, headers: staff.headers });
    expect(response.statusCode).toBe(404);
    expect(response.body).not.toContain('Borneo');
  });

  it('a failed login is refused and audited without waiting on the single embedded connection', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: DEMO.staff.staff.email, password: 'wrong' },
    });
    expect(response.statusCode).toBe(401);
    const events = await db.prisma.auditEvent.count({
      where: { eventType: 'auth.login_failed', requestId: String(response.headers['x-request-id']) },
    });
    expect(events).toBe(1);
  });

  it('a seeded magic link opens the portal for its contact', async () => {
    const link = seed.magicLinks.find((l) => l.clientName.startsWith('Acme'));
    expect(link).toBeDefined();
    const exchanged = await app.inject({ method: 'POST', url: '/api/portal/exchange', payload: { token: link?.token } });
    expect(exchanged.statusCode, exchanged.body).toBe(200);
    const session = exchanged.json<{ sessionToken: string; clientId: string }>();
    const portal = await app.inject({
      method: 'GET',
      url: `/api/portal/clients/${session.clientId}/request`,
      headers: { authorization: `Bearer ${session.sessionToken}` },
    });
    expect(portal.statusCode, portal.body).toBe(200);
    expect(portal.body).toContain('Bank statements');
  });
});

describe('delivery on the embedded default', () => {
  it('the in-process worker polls the outbox and writes the mail to the outbox folder; its link opens the portal once', async () => {
    const staff = await login(app, DEMO.staff.staff);
    const cycle = await db.prisma.cycle.findFirstOrThrow({ where: { clientId: DEMO.clients.acme } });
    const created = await app.inject({
      method: 'POST',
      url: `/api/clients/${DEMO.clients.acme}/cycles/${cycle.id}/requests`,
      headers: staff.headers,
      payload: { contactId: '00000000-0000-4000-8000-00000000a002', items: [{ label: 'PGlite receipts' }] },
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.body).not.toContain('mlk_');
    // Nobody calls the worker: it finds the row by itself.
    const deadline = Date.now() + 15_000;
    let mail: { text: string; messageId: string } | undefined;
    while (!mail && Date.now() < deadline) {
      const files = await readdir(config.outboxDir).catch(() => [] as string[]);
      for (const file of files) {
        const parsed = JSON.parse(await readFile(path.join(config.outboxDir, file), 'utf8')) as { text: string; messageId: string };
        if (parsed.text.includes('PGlite receipts')) mail = parsed;
      }
      if (!mail) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(mail).toBeDefined();
    const token = /#token=(mlk_[A-Za-z0-9_-]{43})/.exec(mail?.text ?? '')?.[1];
    expect(token).toBeDefined();
    const first = await app.inject({ method: 'POST', url: '/api/portal/exchange', payload: { token } });
    expect(first.statusCode, first.body).toBe(200);
    const second = await app.inject({ method: 'POST', url: '/api/portal/exchange', payload: { token } });
    expect(second.statusCode).toBe(401);
    const row = await db.prisma.outboxMessage.findFirstOrThrow({ where: { cycleRequestId: created.json<{ id: string }>().id } });
    expect(row).toMatchObject({ status: 'sent', attempts: 1 });
    expect(mail?.messageId).toBe(`<${row.id}@${config.mail.messageIdDomain}>`);
  });
});

describe('pnpm start (server.ts) on a fresh data dir', () => {
  let child: ChildProcess | undefined;
  let serverDir: string;
  afterAll(async () => {
    child?.kill('SIGKILL');
    if (serverDir) await rm(serverDir, { recursive: true, force: true });
  });

  it('migrates, seeds, prints the demo logins, serves /healthz, and shuts down on SIGTERM', async () => {
    serverDir = await mkdtemp(path.join(tmpdir(), 'spade-start-'));
    const apiRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
    const env: NodeJS.ProcessEnv = { ...process.env, SPADE_DATA_DIR: serverDir, PORT: '0', LOG_LEVEL: 'warn' };
    delete env.DATABASE_URL;
    child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], { cwd: apiRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr?.on('data', (chunk) => {
      output += chunk;
    });
    // A fresh PGlite initialises, migrates and seeds before listening: over a minute on a loaded 2-core machine.
    const deadline = Date.now() + 150_000;
    while (!/listening on (http:\/\/\S+)/.test(output) && Date.now() < deadline && child.exitCode === null) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const url = output.match(/listening on (http:\/\/\S+)/)?.[1];
    expect(url, output).toBeDefined();
    expect(output).toContain('admin@spade.test');
    expect(output).toContain('staff@spade.test');
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    const exited = new Promise<number | null>((resolve) => child?.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 180_000);
});
