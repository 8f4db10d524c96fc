import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type UnsafeDatabase as Database, openDatabase } from '../src/database.ts';
import { migrate } from '../src/migrate.ts';
import { DEMO, seedDemo, storagePath } from '../src/seed.ts';
import { clientContext, NO_TENANT } from '../src/tenant-context.ts';
import { expectedMigrations } from './expected-migrations.ts';

/*
 * The embedded path (no DATABASE_URL): the same migrations, seed and RLS on PGlite. One data
 * dir for the whole file, because initialising a fresh one costs seconds; beforeAll migrates
 * and seeds it, and no test leaves a change behind, so each one also runs on its own.
 */
let workDir: string;
let dataDir: string;
let storageDir: string;
let db: Database;

beforeAll(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'spade-pglite-'));
  dataDir = path.join(workDir, 'data');
  storageDir = path.join(workDir, 'storage');
  db = await openDatabase({ kind: 'pglite', dataDir });
  // Migrated and seeded here, not in a test, so that every test below can run on its own.
  const report = await db.withSql((sql) => migrate(sql));
  const seed = await seedDemo(db.prisma, { storageDir });
  expect(report.applied).toEqual(await expectedMigrations());
  expect(seed.seeded).toBe(true);
});

afterAll(async () => {
  await db?.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('the embedded PGlite database', () => {
  it('holds the seeded demo data: three clients, two staff users, their cycles and stored files', async () => {
    const clients = await db.prisma.client.findMany({ orderBy: { name: 'asc' } });
    expect(clients.map((client) => client.id)).toEqual([DEMO.clients.acme, DEMO.clients.borneo, DEMO.clients.cinnamon]);
    const staff = await db.prisma.staffUser.findMany({ orderBy: { email: 'asc' } });
    expect(staff.map((user) => [user.email, user.role])).toEqual([
      ['admin@spade.test', 'admin'],
      ['staff@spade.test', 'staff'],
    ]);
    expect(await db.prisma.cycle.count()).toBe(3);
    const file = await db.prisma.file.findFirstOrThrow({ where: { clientId: DEMO.clients.acme } });
    // BigInt and the file body on disk survive the embedded driver.
    const body = await readFile(storagePath(storageDir, file.storageKey));
    expect(file.size).toBe(BigInt(body.length));
  });

  it('treats a second migrate and seed as no-ops', async () => {
    const counts = async () => ({
      clients: await db.prisma.client.count(),
      staff: await db.prisma.staffUser.count(),
      cycles: await db.prisma.cycle.count(),
      audit: await db.prisma.auditEvent.count(),
    });
    const before = await counts();

    const report = await db.withSql((sql) => migrate(sql));
    const seed = await seedDemo(db.prisma, { storageDir });

    expect(report.applied).toEqual([]);
    expect(report.alreadyApplied).toEqual(await expectedMigrations());
    expect(seed.seeded).toBe(false);
    expect(seed.magicLinks).toEqual([]);
    expect(await counts()).toEqual(before);
  });

  it('applies row-level security after the role switch: a unit of work for Acme sees only Acme', async () => {
    // Outside a unit of work the connection is PGlite's superuser and sees everything…
    expect(await db.prisma.cycle.count()).toBe(3);
    // …inside one, the transaction runs as spade_app and RLS admits only the context's client.
    const acme = await db.inUnit(clientContext(DEMO.clients.acme), async (tx) => ({
      cycles: await tx.cycle.findMany(),
      clients: await tx.client.findMany(),
      borneoCycle: await tx.cycle.findFirst({ where: { clientId: DEMO.clients.borneo } }),
      role: await tx.$queryRaw<{ role: string }[]>`SELECT current_user AS role`,
    }));
    expect(acme.cycles.map((cycle) => cycle.clientId)).toEqual([DEMO.clients.acme]);
    expect(acme.clients.map((client) => client.id)).toEqual([DEMO.clients.acme]);
    expect(acme.borneoCycle).toBeNull();
    expect(acme.role).toEqual([{ role: 'spade_app' }]);

    const none = await db.inUnit(NO_TENANT, (tx) => tx.cycle.count());
    expect(none).toBe(0);
    // The role and tenant were transaction-local: the shared connection is back to normal.
    expect(await db.prisma.cycle.count()).toBe(3);
  });

  it('refuses a write outside the tenant of the unit of work', async () => {
    const attempt = db.inUnit(clientContext(DEMO.clients.acme), (tx) =>
      tx.cycle.create({ data: { clientId: DEMO.clients.borneo, kind: 'tax', period: '2026', title: 'cross-tenant' } }),
    );
    await expect(attempt).rejects.toThrow(/row-level security/);
    expect(await db.prisma.cycle.count({ where: { title: 'cross-tenant' } })).toBe(0);
  });

  it('keeps its data after closing and reopening the same data dir', async () => {
    await db.close();
    db = await openDatabase({ kind: 'pglite', dataDir });

    expect(await db.prisma.client.count()).toBe(3);
    expect(await db.prisma.staffUser.count()).toBe(2);
    const recorded = await db.withSql((sql) => sql.query<{ version: string }>('SELECT version FROM spade_migrations ORDER BY version'));
    expect(recorded.map((row) => row.version)).toEqual(await expectedMigrations());
    expect((await db.withSql((sql) => migrate(sql))).applied).toEqual([]);
    // RLS policies and roles are part of what persisted.
    const acmeCycles = await db.inUnit(clientContext(DEMO.clients.acme), (tx) => tx.cycle.count());
    expect(acmeCycles).toBe(1);
  });
});
