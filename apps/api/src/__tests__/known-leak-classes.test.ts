import { clientContext, DEMO, hashPassword, NO_TENANT, TenantContextError } from '@breezycorp/db';
import { openDatabase, type UnsafeDatabase } from '@breezycorp/db/unsafe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, login, type TestApp } from './support/test-app.ts';

/** DESIGN §4's known leak classes, each a test against the real database. */
const ACME = DEMO.clients.acme;
const BORNEO = DEMO.clients.borneo;
const CINNAMON = DEMO.clients.cinnamon;

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

describe('a pooled connection keeps no tenant or role', () => {
  async function connectionState(db: UnsafeDatabase) {
    const rows = await db.prisma.$queryRaw<{ pid: number; role: string; ids: string | null }[]>`
      SELECT pg_backend_pid() AS pid, current_user AS role, current_setting('app.client_ids', true) AS ids`;
    return rows[0] as { pid: number; role: string; ids: string | null };
  }

  it('after a committed and after a failed unit of work (pool size 1, same backend)', async () => {
    // The owner logs in as a superuser: only the per-transaction switch makes it spade_app.
    const db = await openDatabase({ kind: 'postgres', url: t.testDb.ownerUrl, poolMax: 1 });
    try {
      const before = await connectionState(db);
      const seen = await db.inUnit(clientContext(ACME), async (tx) => {
        const inside = await tx.$queryRaw<
          { role: string; ids: string }[]
        >`SELECT current_user AS role, current_setting('app.client_ids') AS ids`;
        expect(inside[0]).toEqual({ role: 'spade_app', ids: ACME });
        return tx.cycle.count();
      });
      expect(seen).toBeGreaterThan(0);
      const afterCommit = await connectionState(db);
      expect(afterCommit.pid).toBe(before.pid);
      expect(afterCommit.role).toBe(before.role);
      expect(afterCommit.ids ?? '').toBe('');

      await expect(
        db.inUnit(clientContext(BORNEO), async (tx) => {
          await tx.cycle.count();
          throw new Error('handler failed');
        }),
      ).rejects.toThrow('handler failed');
      const afterRollback = await connectionState(db);
      expect(afterRollback.pid).toBe(before.pid);
      expect(afterRollback.role).toBe(before.role);
      expect(afterRollback.ids ?? '').toBe('');

      // And the next unit on that connection with no tenant sees nothing.
      expect(await db.inUnit(NO_TENANT, (tx) => tx.cycle.count())).toBe(0);
    } finally {
      await db.close();
    }
  });

  it('after a statement error inside the unit (the failed query rolls the tenant back too)', async () => {
    const db = await openDatabase({ kind: 'postgres', url: t.testDb.appUrl, poolMax: 1 });
    try {
      await expect(
        db.inUnit(clientContext(ACME), async (tx) => {
          await tx.cycle.create({ data: { clientId: BORNEO, kind: 'other', period: 'x', title: 'rls says no' } });
        }),
      ).rejects.toThrow();
      expect((await connectionState(db)).ids ?? '').toBe('');
      expect(await db.inUnit(NO_TENANT, (tx) => tx.cycle.count())).toBe(0);
    } finally {
      await db.close();
    }
  });
});

describe('a missing tenant never means all tenants', () => {
  it.each(['undefined', 'null', '0', '', ' ', 'not-a-uuid', `${ACME},${BORNEO}`, '%2A'])(
    'client id %j in the URL is a 404 with no data',
    async (value) => {
      const { headers } = await login(t.app, DEMO.staff.admin);
      const response = await t.app.inject({ method: 'GET', url: `/api/clients/${value}/cycles`, headers });
      expect([400, 404]).toContain(response.statusCode);
      expect(response.body).not.toContain(ACME);
      expect(response.body).not.toContain('bookkeeping');
    },
  );

  it.each([undefined, null, '', '0', 0, 'undefined'])('a tenant context of %j is refused, not widened', (value) => {
    expect(() => clientContext(value)).toThrow(TenantContextError);
    expect(() => t.db.clientUnit(value as string)).toThrow();
  });

  it('no tenant context reads zero rows and cannot write', async () => {
    expect(await t.db.inUnit(NO_TENANT, (tx) => tx.cycle.count())).toBe(0);
    await expect(
      t.db.inUnit(NO_TENANT, (tx) => tx.cycle.create({ data: { clientId: ACME, kind: 'other', period: 'x', title: 'none' } })),
    ).rejects.toThrow();
  });
});

describe('INSERT … RETURNING under RLS', () => {
  it('a create through the scoped unit returns its row', async () => {
    const unit = await t.db.clientUnit(ACME);
    try {
      const created = await unit.tx.cycle.create({ data: { clientId: ACME, kind: 'tax', period: 'YA2027', title: 'returning works' } });
      expect(created.clientId).toBe(ACME);
      expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
    } finally {
      await unit.rollback();
    }
  });
});

describe('unique checks reveal nothing across tenants', () => {
  it("the same contact email as another client's contact is no conflict at all (nothing to learn)", async () => {
    const { headers } = await login(t.app, DEMO.staff.staff);
    const borneoContact = await t.owner.prisma.contact.findFirstOrThrow({ where: { clientId: BORNEO } });
    const response = await t.app.inject({
      method: 'POST',
      url: `/api/clients/${ACME}/contacts`,
      headers,
      payload: { name: 'Same Email', email: borneoContact.email },
    });
    expect(response.statusCode).toBe(201);
  });

  it('a conflict within the tenant says 409 without echoing the value', async () => {
    const { headers } = await login(t.app, DEMO.staff.admin);
    const acme = await t.owner.prisma.client.findUniqueOrThrow({ where: { id: ACME } });
    const response = await t.app.inject({ method: 'POST', url: '/api/clients', headers, payload: { name: 'Copycat', uen: acme.uen } });
    expect(response.statusCode).toBe(409);
    expect(response.json()).toMatchObject({ error: { code: 'conflict' } });
    expect(response.body).not.toContain(acme.uen as string);
    expect(response.body).not.toContain('Acme');
  });
});

describe('concurrent requests keep their own tenant', () => {
  it('≥ 5,000 mixed GET and POST-with-body requests, 64 in flight, 3 tenants: zero foreign rows', async () => {
    const tenants = [ACME, BORNEO, CINNAMON];
    const tokens = new Map<string, Record<string, string>>();
    for (const clientId of tenants) {
      const email = `staff-${clientId.slice(-4)}@spade.test`;
      const user = await t.owner.prisma.staffUser.create({
        data: { email, name: `Staff ${clientId.slice(-4)}`, role: 'staff', passwordHash: await hashPassword('concurrency-pass') },
      });
      await t.owner.prisma.staffClientAssignment.create({ data: { clientId, staffUserId: user.id } });
      tokens.set(clientId, (await login(t.app, { email, password: 'concurrency-pass' })).headers);
    }
    const total = Number(process.env.SPADE_CONCURRENCY_TOTAL ?? 5_100);
    const inFlightLimit = 64;
    let next = 0;
    let maxInFlight = 0;
    let inFlight = 0;
    const foreign: string[] = [];
    const failures: string[] = [];
    async function worker() {
      while (next < total) {
        const n = next++;
        const clientId = tenants[n % 3] as string;
        const headers = tokens.get(clientId) as Record<string, string>;
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        const response =
          n % 2 === 0
            ? await t.app.inject({ method: 'GET', url: `/api/clients/${clientId}/cycles?status=in_progress`, headers })
            : await t.app.inject({
                method: 'POST',
                url: `/api/clients/${clientId}/cycles`,
                headers,
                payload: { kind: 'other', period: `p${n}`, title: `concurrency ${clientId} ${n}` },
              });
        inFlight -= 1;
        if (response.statusCode >= 300) {
          failures.push(`${response.statusCode} ${response.body.slice(0, 120)}`);
          continue;
        }
        const body = response.json<{ clientId?: string; cycles?: { clientId: string }[] }>();
        const seen = body.cycles ? body.cycles.map((c) => c.clientId) : [body.clientId];
        for (const id of seen) if (id !== clientId) foreign.push(`${n}: ${id} in ${clientId}`);
      }
    }
    await Promise.all(Array.from({ length: inFlightLimit }, worker));
    expect(failures.slice(0, 3)).toEqual([]);
    expect(foreign).toEqual([]);
    expect(maxInFlight).toBeGreaterThanOrEqual(64);
    // And in the database: every row each tenant wrote landed in that tenant.
    for (const clientId of tenants) {
      const misplaced = await t.owner.prisma.cycle.count({
        where: { title: { startsWith: `concurrency ${clientId}` }, NOT: { clientId } },
      });
      expect(misplaced).toBe(0);
    }
    expect(await t.owner.prisma.cycle.count({ where: { title: { startsWith: 'concurrency ' } } })).toBe(total / 2);
  }, 300_000);
});
