import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { AuditRowValues } from '../src/audit-rows.ts';
import { type UnsafeDatabase as Database, openDatabase } from '../src/database.ts';
import { TenantScopeViolation } from '../src/extensions/tenant-scope.ts';
import { PrismaClient } from '../src/generated/prisma/client.ts';
import { DEMO, seedDemo } from '../src/seed.ts';
import { clientContext, contextStatement, NO_TENANT, TenantContextError } from '../src/tenant-context.ts';
import { createMigratedDatabase, type TestDatabase } from '../src/testing.ts';
import { AuditNotWritten, openUnit, ScopedClients } from '../src/unit-of-work.ts';

/**
 * On PostgreSQL a unit of work's role and tenant ride on its BEGIN (one round trip, see
 * folded-statements.ts). That leans on the adapter sending a plain BEGIN, so this proves
 * it still isolates: fresh and reused connections, after commit and after rollback, and
 * under concurrency — and that a BEGIN outside a unit carries nothing.
 */
const ACME = DEMO.clients.acme;
const BORNEO = DEMO.clients.borneo;

let testDb: TestDatabase & { owner: Database };
let app: Database;
beforeAll(async () => {
  testDb = await createMigratedDatabase();
  await seedDemo(testDb.owner.prisma, { storageDir: '/tmp/spade-unit-of-work-test' });
  app = await openDatabase({ kind: 'postgres', url: testDb.appUrl, poolMax: 1 });
});
afterAll(async () => {
  await app?.close();
  await testDb?.drop();
});

type Seen = { pid: number; role: string; ids: string | null };
const state = (tx: { $queryRaw: (s: TemplateStringsArray) => Promise<unknown> }) =>
  tx.$queryRaw`SELECT pg_backend_pid() AS pid, current_user AS role, current_setting('app.client_ids', true) AS ids` as Promise<Seen[]>;

describe('the tenant context on BEGIN', () => {
  it('a fresh connection, then the same one reused after commit and after rollback, each sees exactly its tenant', async () => {
    const first = await app.inUnit(clientContext(ACME), async (tx) => (await state(tx))[0] as Seen);
    expect(first).toMatchObject({ role: 'spade_app', ids: ACME });
    const second = await app.inUnit(clientContext(BORNEO), async (tx) => (await state(tx))[0] as Seen);
    expect(second).toMatchObject({ pid: first.pid, role: 'spade_app', ids: BORNEO });
    await expect(
      app.inUnit(clientContext(ACME), async () => {
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    const third = await app.inUnit(NO_TENANT, async (tx) => (await state(tx))[0] as Seen);
    expect(third).toMatchObject({ pid: first.pid, ids: '' });
    expect(await app.inUnit(NO_TENANT, (tx) => tx.cycle.count())).toBe(0);
  });

  it('a transaction outside a unit of work carries no tenant', async () => {
    const rows = await app.prisma.$transaction(async (tx) => state(tx));
    expect(rows[0]?.ids ?? '').toBe('');
    expect(await app.prisma.$transaction((tx) => tx.cycle.count())).toBe(0);
  });

  it('concurrent units on a shared pool never see each other’s tenant', async () => {
    const pooled = await openDatabase({ kind: 'postgres', url: testDb.appUrl, poolMax: 4 });
    try {
      const tenants = [ACME, BORNEO, DEMO.clients.cinnamon];
      const results = await Promise.all(
        Array.from({ length: 120 }, async (_, i) => {
          const clientId = tenants[i % 3] as string;
          const unit = await pooled.clientUnit(clientId);
          try {
            const cycles = await unit.tx.cycle.findMany();
            return { clientId, seen: cycles.map((c) => c.clientId) };
          } finally {
            await unit.commit();
          }
        }),
      );
      for (const { clientId, seen } of results) {
        expect(seen.length).toBeGreaterThan(0);
        expect(new Set(seen)).toEqual(new Set([clientId]));
      }
    } finally {
      await pooled.close();
    }
  });

  it('the boot self-check passes on a working pool and refuses one whose BEGIN carries nothing', async () => {
    await expect(app.verifyTenantContext()).resolves.toBeUndefined();
    // A plain pg pool without the fold, logged in as spade_app: what a broken upgrade would look like.
    const raw = new pg.Client({ connectionString: testDb.appUrl });
    await raw.connect();
    try {
      await raw.query('BEGIN');
      const rows = await raw.query("SELECT current_setting('app.client_ids', true) AS ids");
      expect(rows.rows[0].ids ?? '').toBe('');
      await raw.query('ROLLBACK');
    } finally {
      await raw.end();
    }
  });

  it('the inlined statement takes only a known role and well-formed ids', () => {
    expect(contextStatement(clientContext(ACME))).toBe(
      `SELECT set_config('role', 'spade_app', true), set_config('app.client_ids', '${ACME}', true)`,
    );
    expect(() => contextStatement({ role: "spade_app', true); DROP TABLE files; --" as 'spade_app', clientIds: [] })).toThrow(
      TenantContextError,
    );
    expect(() => contextStatement({ role: 'spade_app', clientIds: ["x'); DROP TABLE files; --"] })).toThrow(TenantContextError);
  });
});

describe('audit rows on COMMIT', () => {
  const row = (clientId: string, overrides: Partial<AuditRowValues> = {}): AuditRowValues => ({
    eventType: 'cycle.read',
    actorType: 'staff',
    actorId: DEMO.staff.admin.id,
    clientId,
    entityType: 'cycle',
    entityId: 'unit-of-work-test',
    requestId: `req-${Math.random().toString(36).slice(2)}`,
    eventDataJson: {},
    ...overrides,
  });
  const ownerRows = (requestId: string) =>
    testDb.owner.withSql((sql) =>
      sql.query<{ event_type: string; client_id: string; entity_type: string; entity_id: string; event_data_json: unknown }>(
        'SELECT event_type, client_id, entity_type, entity_id, event_data_json FROM audit_events WHERE request_id = $1',
        [requestId],
      ),
    );

  it("queues a unit's rows and writes them with its COMMIT: unseen inside the unit, committed with its work", async () => {
    const event = row(ACME);
    const unit = await app.clientUnit(ACME);
    await unit.audit([event]);
    // Not yet written: it rides on the COMMIT's round trip, not one of its own.
    expect(await unit.tx.auditEvent.count({ where: { requestId: event.requestId } })).toBe(0);
    await unit.commit();
    expect(await ownerRows(event.requestId as string)).toEqual([
      { event_type: 'cycle.read', client_id: ACME, entity_type: 'cycle', entity_id: 'unit-of-work-test', event_data_json: {} },
    ]);
  });

  it('a row a literal cannot carry (NUL) is refused when queued, not at COMMIT', async () => {
    const unit = await app.clientUnit(ACME);
    try {
      await expect(unit.audit([row(ACME, { entityId: 'a\u0000b' })])).rejects.toThrow(/NUL/);
    } finally {
      await unit.rollback();
    }
  });

  it('a rolled-back unit writes none of the rows it queued', async () => {
    const event = row(ACME);
    const unit = await app.clientUnit(ACME);
    await unit.audit([event]);
    await unit.rollback();
    expect(await ownerRows(event.requestId as string)).toEqual([]);
  });

  it('values a literal must escape arrive exactly as given (quotes, backslashes, SQL, unicode, nested JSON)', async () => {
    const nasty = "O'Brien \\ \\' ); DROP TABLE files; -- $1 $$ 日本 🙂 \n line";
    const event = row(ACME, {
      entityType: nasty,
      entityId: `${nasty}'`,
      eventDataJson: { name: nasty, nested: { list: [nasty, 1, null, true] } },
    });
    await app.inClientUnit(ACME, async () => undefined);
    const unit = await app.clientUnit(ACME);
    await unit.audit([event, row(ACME, { requestId: event.requestId, entityId: 'second' })]);
    await unit.commit();
    const rows = await ownerRows(event.requestId as string);
    expect(rows).toHaveLength(2);
    expect(rows.find((r) => r.entity_id !== 'second')).toMatchObject({
      entity_type: nasty,
      entity_id: `${nasty}'`,
      event_data_json: { name: nasty, nested: { list: [nasty, 1, null, true] } },
    });
    expect(await testDb.owner.withSql((sql) => sql.query("SELECT to_regclass('files') AS t"))).toEqual([{ t: 'files' }]);
  });

  it("a client's unit refuses to queue a row for another client (layer 3), before anything is sent", async () => {
    const unit = await app.clientUnit(ACME);
    try {
      await expect(unit.audit([row(ACME), row(BORNEO)])).rejects.toThrow(TenantScopeViolation);
    } finally {
      await unit.rollback();
    }
  });

  it('a row RLS refuses fails the COMMIT, the work does not commit, and the connection is clean for the next unit', async () => {
    // The base client in Acme's context (no layer 3): only RLS's WITH CHECK stands in the way.
    const event = row(BORNEO);
    const unit = await app.unit(clientContext(ACME));
    const before = await unit.tx.client.findUniqueOrThrow({ where: { id: ACME }, select: { name: true } });
    await unit.tx.client.update({ where: { id: ACME }, data: { name: 'renamed inside a failing unit' } });
    await unit.audit([event]);
    await expect(unit.commit()).rejects.toThrow(/row-level security|violates/i);
    expect(await ownerRows(event.requestId as string)).toEqual([]);
    // poolMax is 1: the next unit gets the very connection the failed COMMIT used.
    const after = await app.inUnit(clientContext(ACME), async (tx) => {
      const seen = (await state(tx))[0] as Seen;
      return { seen, name: (await tx.client.findUniqueOrThrow({ where: { id: ACME }, select: { name: true } })).name };
    });
    expect(after.name).toBe(before.name);
    expect(after.seen).toMatchObject({ role: 'spade_app', ids: ACME });
  });

  it('a COMMIT that did not carry the queued rows fails the unit (AuditNotWritten), never a silent loss', async () => {
    // What a broken adapter upgrade would look like: a pool whose connections fold nothing.
    const pool = new pg.Pool({ connectionString: testDb.appUrl, max: 1 });
    const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
    try {
      const unit = await openUnit({ foldsIntoTransactions: true }, prisma, NO_TENANT, {}, null);
      await unit.audit([row(ACME)]);
      await expect(unit.commit()).rejects.toThrow(AuditNotWritten);
    } finally {
      await prisma.$disconnect();
      await pool.end();
    }
  });
});

describe("a Database's scoped clients", () => {
  it('keeps the most recently used clients: a client used again outlives one used once before it', () => {
    const kept = new ScopedClients(app.prisma, 2);
    const first = { acme: kept.for(ACME), borneo: kept.for(BORNEO) };
    expect(kept.for(ACME)).toBe(first.acme); // used again: now the most recent
    kept.for('00000000-0000-4000-8000-0000000000c3'); // a third client: the least recently used (Borneo) goes
    expect(kept.for(ACME)).toBe(first.acme);
    expect(kept.for(BORNEO)).not.toBe(first.borneo);
  });
});
