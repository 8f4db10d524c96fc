import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type UnsafeDatabase as Database, openDatabase } from '../src/database.ts';
import { DEMO, seedDemo } from '../src/seed.ts';
import { clientContext, contextStatement, NO_TENANT, TenantContextError } from '../src/tenant-context.ts';
import { createMigratedDatabase, type TestDatabase } from '../src/testing.ts';

/**
 * On PostgreSQL a unit of work's role and tenant ride on its BEGIN (one round trip, see
 * begin-with-context.ts). That leans on the adapter sending a plain BEGIN, so this proves
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
