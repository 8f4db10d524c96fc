import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../src/secrets.ts';
import { DEMO, seedDemo } from '../src/seed.ts';
import { pgExecutor } from '../src/sql-executor.ts';
import { createMigratedDatabase, type TestDatabase } from '../src/testing.ts';
import { readTenantTables } from './tenant-tables.ts';

/*
 * Layer 4 of DESIGN.md §4, proven from the database's side: the runtime role cannot get
 * around row-level security, and RLS admits exactly the tenants of the transaction's context.
 */

/**
 * Every table holding a tenant's rows, and the column that names the tenant: read from the
 * migrated catalogue in beforeAll (tenant-tables.ts: every relation in public with a client_id
 * column, and clients by its id), so a new tenant table is under every check below without a line here.
 */
let TENANT_TABLES: Record<string, 'client_id' | 'id'>;
/**
 * The tenant tables that hold rows in this fixture — of Acme and of another client, which the
 * row-level tests below require of each: the ones they can prove something on. The others (a new
 * table the demo data does not fill) are held to the very policy these are proven with, by the
 * catalogue test.
 */
let WITH_ROWS: [string, 'client_id' | 'id'][];
/** The demo data and the rows added below fill this many tenant tables: they may not shrink unnoticed. */
const MIN_TABLES_WITH_ROWS = 11;

const INSUFFICIENT_PRIVILEGE = '42501';
const INVALID_TEXT_REPRESENTATION = '22P02';

let testDb: TestDatabase & { owner: { close(): Promise<void> } };
let storageDir: string;
let owner: pg.Client;
let app: pg.Client;

async function count(client: pg.Client, sql: string, params: unknown[] = []): Promise<number> {
  const result = await client.query<{ n: number }>(sql, params);
  return result.rows[0]!.n;
}

/** Runs `fn` on the app connection inside a transaction that is always rolled back. */
async function inAppTransaction<T>(fn: () => Promise<T>): Promise<T> {
  await app.query('BEGIN');
  try {
    return await fn();
  } finally {
    await app.query('ROLLBACK');
  }
}

async function errorOf(promise: Promise<unknown>): Promise<pg.DatabaseError> {
  try {
    await promise;
  } catch (error) {
    return error as pg.DatabaseError;
  }
  throw new Error('expected the statement to fail');
}

beforeAll(async () => {
  const db = await createMigratedDatabase('spade_test_roles');
  testDb = db;
  storageDir = await mkdtemp(path.join(os.tmpdir(), 'spade-roles-'));
  await seedDemo(db.owner.prisma, { storageDir });
  owner = new pg.Client({ connectionString: db.ownerUrl });
  await owner.connect();
  // The seed creates no contact sessions, no firm-wide audit event and assigns staff to Acme
  // only; add rows so every
  // tenant table holds rows of several clients (else "sees only Acme's rows" proves nothing).
  await owner.query(
    `INSERT INTO contact_sessions (client_id, contact_id, cycle_request_id, token_hash, expires_at)
     SELECT r.client_id, r.contact_id, r.id, md5(r.id::text), now() + interval '1 day' FROM cycle_requests r`,
  );
  await owner.query(`INSERT INTO audit_events (event_type, actor_type, client_id) VALUES ('auth.login_failed', 'anonymous', NULL)`);
  await owner.query('INSERT INTO staff_client_assignments (client_id, staff_user_id) VALUES ($1, $2)', [
    DEMO.clients.borneo,
    DEMO.staff.staff.id,
  ]);
  TENANT_TABLES = await readTenantTables(pgExecutor(owner));
  WITH_ROWS = [];
  for (const [table, column] of Object.entries(TENANT_TABLES)) {
    if ((await count(owner, `SELECT count(*)::int AS n FROM ${table}`)) > 0) WITH_ROWS.push([table, column]);
  }
  app = new pg.Client({ connectionString: db.appUrl });
  await app.connect();
});

afterAll(async () => {
  await app?.end();
  await owner?.end();
  await testDb?.drop();
  if (storageDir) await rm(storageDir, { recursive: true, force: true });
});

describe('the spade_app role', () => {
  it('is not a superuser, has no BYPASSRLS and cannot create roles or databases', async () => {
    const result = await owner.query(
      `SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolcanlogin FROM pg_roles WHERE rolname = 'spade_app'`,
    );
    expect(result.rows).toEqual([{ rolsuper: false, rolbypassrls: false, rolcreaterole: false, rolcreatedb: false, rolcanlogin: true }]);
  });

  it('owns no table, view, sequence or function in public, and cannot become a role that does', async () => {
    expect(await count(owner, `SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace`)).toBeGreaterThan(0);
    // An owner may ALTER TABLE … DISABLE ROW LEVEL SECURITY; the app must own nothing.
    expect(
      await count(
        owner,
        `SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relowner = 'spade_app'::regrole`,
      ),
    ).toBe(0);
    expect(
      await count(
        owner,
        `SELECT count(*)::int AS n FROM pg_proc WHERE pronamespace = 'public'::regnamespace AND proowner = 'spade_app'::regrole`,
      ),
    ).toBe(0);
    const memberships = await owner.query(
      `SELECT pg_has_role('spade_app', 'spade_owner', 'MEMBER') AS owner, pg_has_role('spade_app', 'spade_definer', 'MEMBER') AS definer`,
    );
    expect(memberships.rows[0]).toEqual({ owner: false, definer: false });
    // Checked from its own session too: what the app's boot check would see.
    const self = await app.query(
      `SELECT r.rolsuper, r.rolbypassrls FROM pg_roles r WHERE r.rolname = current_user AND current_user = 'spade_app'`,
    );
    expect(self.rows).toEqual([{ rolsuper: false, rolbypassrls: false }]);
  });

  it('cannot UPDATE or DELETE audit events, even of its own tenant', async () => {
    const privileges = await owner.query(
      `SELECT has_table_privilege('spade_app', 'audit_events', 'UPDATE') AS update,
              has_table_privilege('spade_app', 'audit_events', 'DELETE') AS delete,
              has_table_privilege('spade_app', 'audit_events', 'TRUNCATE') AS truncate,
              has_table_privilege('spade_app', 'audit_events', 'INSERT') AS insert`,
    );
    expect(privileges.rows[0]).toEqual({ update: false, delete: false, truncate: false, insert: true });
    for (const statement of [`UPDATE audit_events SET event_type = 'tampered'`, 'DELETE FROM audit_events']) {
      const error = await inAppTransaction(async () => {
        await app.query(`SELECT set_config('app.client_ids', $1, true)`, [DEMO.clients.acme]);
        return errorOf(app.query(statement));
      });
      expect(error.code).toBe(INSUFFICIENT_PRIVILEGE);
      expect(error.message).toMatch(/permission denied for table audit_events/);
    }
    expect(await count(owner, `SELECT count(*)::int AS n FROM audit_events WHERE event_type = 'tampered'`)).toBe(0);
  });
});

describe('row-level security as spade_app', () => {
  it('finds the tenant tables in the catalogue, and rows of several clients in the ones it proves row by row', () => {
    expect(TENANT_TABLES.clients).toBe('id');
    expect(Object.keys(TENANT_TABLES)).toEqual(
      expect.arrayContaining(['contacts', 'cycles', 'cycle_requests', 'request_items', 'files', 'audit_events', 'contact_sessions']),
    );
    expect(WITH_ROWS.length).toBeGreaterThanOrEqual(MIN_TABLES_WITH_ROWS);
  });

  it('shows zero rows of every tenant table when no tenant context is set', async () => {
    for (const [table] of WITH_ROWS) {
      // The control: the rows are there, only RLS hides them.
      expect(await count(owner, `SELECT count(*)::int AS n FROM ${table}`), table).toBeGreaterThan(0);
    }
    for (const table of Object.keys(TENANT_TABLES)) {
      expect(await count(app, `SELECT count(*)::int AS n FROM ${table}`), table).toBe(0);
    }
  });

  it('shows zero rows when the context is the empty string a pooled connection reads after a transaction-local set', async () => {
    await inAppTransaction(async () => {
      await app.query(`SELECT set_config('app.client_ids', '', true)`);
      for (const table of Object.keys(TENANT_TABLES)) {
        expect(await count(app, `SELECT count(*)::int AS n FROM ${table}`), table).toBe(0);
      }
    });
  });

  it('refuses an insert into cycles when no tenant context is set', async () => {
    const error = await errorOf(
      app.query(`INSERT INTO cycles (client_id, kind, period, title) VALUES ($1, 'tax', '2026', 'no context')`, [DEMO.clients.acme]),
    );
    expect(error.code).toBe(INSUFFICIENT_PRIVILEGE);
    expect(error.message).toMatch(/row-level security policy for table "cycles"/);
    expect(await count(owner, `SELECT count(*)::int AS n FROM cycles WHERE title = 'no context'`)).toBe(0);
  });

  it("shows only Acme's rows, all of them, with app.client_ids set to Acme inside a transaction", async () => {
    await inAppTransaction(async () => {
      await app.query(`SELECT set_config('app.client_ids', $1, true)`, [DEMO.clients.acme]);
      for (const [table, column] of WITH_ROWS) {
        const acmeRows = await count(owner, `SELECT count(*)::int AS n FROM ${table} WHERE ${column} = $1`, [DEMO.clients.acme]);
        const othersRows = await count(owner, `SELECT count(*)::int AS n FROM ${table} WHERE ${column} IS DISTINCT FROM $1`, [
          DEMO.clients.acme,
        ]);
        expect(acmeRows, table).toBeGreaterThan(0);
        expect(othersRows, table).toBeGreaterThan(0);
        expect(await count(app, `SELECT count(*)::int AS n FROM ${table}`), table).toBe(acmeRows);
        expect(
          await count(app, `SELECT count(*)::int AS n FROM ${table} WHERE ${column} IS DISTINCT FROM $1`, [DEMO.clients.acme]),
          table,
        ).toBe(0);
      }
    });
  });

  it('forgets the tenant when the transaction ends, so a reused connection starts with none', async () => {
    await app.query('BEGIN');
    await app.query(`SELECT set_config('app.client_ids', $1, true)`, [DEMO.clients.acme]);
    expect(await count(app, 'SELECT count(*)::int AS n FROM cycles')).toBe(1);
    await app.query('COMMIT');
    expect(await count(app, 'SELECT count(*)::int AS n FROM cycles')).toBe(0);
  });

  it("refuses writing a row of another client than the context's", async () => {
    const error = await inAppTransaction(async () => {
      await app.query(`SELECT set_config('app.client_ids', $1, true)`, [DEMO.clients.acme]);
      return errorOf(
        app.query(`INSERT INTO cycles (client_id, kind, period, title) VALUES ($1, 'tax', '2026', 'cross-tenant')`, [DEMO.clients.borneo]),
      );
    });
    expect(error.code).toBe(INSUFFICIENT_PRIVILEGE);
  });

  for (const malformed of ['0', 'undefined', 'null', `${DEMO.clients.acme},`]) {
    it(`errors instead of widening when app.client_ids is '${malformed}'`, async () => {
      for (const table of ['cycles', 'clients', 'audit_events']) {
        const error = await inAppTransaction(async () => {
          await app.query(`SELECT set_config('app.client_ids', $1, true)`, [malformed]);
          return errorOf(app.query(`SELECT * FROM ${table}`));
        });
        expect(error.code, table).toBe(INVALID_TEXT_REPRESENTATION);
      }
    });
  }

  it('lets the narrow SECURITY DEFINER resolvers find a token before the tenant is known, returning only ids', async () => {
    // Without context the app sees no cycle request, yet a magic link must still resolve.
    const { rows } = await owner.query<{ token_hash: string; id: string; client_id: string }>(
      'SELECT token_hash, id, client_id FROM cycle_requests WHERE client_id = $1',
      [DEMO.clients.borneo],
    );
    const resolved = await app.query('SELECT * FROM spade_resolve_magic_link($1)', [rows[0]!.token_hash]);
    expect(resolved.rows).toEqual([
      { cycle_request_id: rows[0]!.id, client_id: DEMO.clients.borneo, contact_id: expect.any(String), exchanged: false },
    ]);
    expect((await app.query('SELECT * FROM spade_resolve_magic_link($1)', [hashToken('not a token')])).rowCount).toBe(0);
  });
});

describe('the row-level security catalog', () => {
  it('enables and forces RLS with one tenant policy (USING and WITH CHECK) on every table that has a client_id', async () => {
    const tables = Object.keys(TENANT_TABLES).sort();
    expect(tables.length).toBeGreaterThanOrEqual(MIN_TABLES_WITH_ROWS);

    // Every tenant table's policy is one expression (clients' on id): the one the row tests prove on WITH_ROWS.
    const expressions = new Set<string>();
    for (const table of tables) {
      const rls = await owner.query(`SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = $1::regclass`, [
        `public.${table}`,
      ]);
      expect(rls.rows[0], table).toEqual({ relrowsecurity: true, relforcerowsecurity: true });

      const policies = await owner.query<{ polcmd: string; polpermissive: boolean; roles: string[]; qual: string; check: string }>(
        `SELECT polcmd, polpermissive, polroles::regrole[]::text[] AS roles,
                pg_get_expr(polqual, polrelid) AS qual, pg_get_expr(polwithcheck, polrelid) AS check
         FROM pg_policy WHERE polrelid = $1::regclass AND polname = 'tenant_isolation'`,
        [`public.${table}`],
      );
      expect(policies.rows, table).toHaveLength(1);
      const policy = policies.rows[0]!;
      expect(policy.polcmd, table).toBe('*');
      expect(policy.roles, table).toEqual(['-']); // PUBLIC: it binds every role, spade_app included
      for (const expression of [policy.qual, policy.check]) {
        expect(expression, table).toContain(TENANT_TABLES[table]);
        expect(expression, table).toContain(`current_setting('app.client_ids'::text, true)`);
        expect(expression.startsWith(`(${TENANT_TABLES[table]} = `), table).toBe(true);
        expressions.add(expression.replace(/^\((client_id|id) = /, '(<tenant key> = '));
      }

      // No other policy opens the table to spade_app: the rest are the firm admin's own, or the one named exception.
      const others = await owner.query<{ polname: string; roles: string[] }>(
        `SELECT polname, polroles::regrole[]::text[] AS roles FROM pg_policy
         WHERE polrelid = $1::regclass AND polname <> 'tenant_isolation' ORDER BY polname`,
        [`public.${table}`],
      );
      for (const other of others.rows) {
        if (table === 'audit_events' && other.polname === 'firm_wide_insert') continue; // INSERT of client_id NULL rows (0003)
        expect(other.roles, `${table}.${other.polname}`).toEqual(['spade_firm_admin']);
      }
    }
    expect([...expressions], 'one tenant policy expression for every tenant table').toHaveLength(1);
  });

  it('admits every row only to spade_firm_admin: no policy open to everyone reads or writes without a tenant', async () => {
    const open = await owner.query<{ table: string; polname: string; roles: string[] }>(
      `SELECT polrelid::regclass::text AS table, polname, polroles::regrole[]::text[] AS roles
       FROM pg_policy
       WHERE pg_get_expr(polqual, polrelid) = 'true' OR pg_get_expr(polwithcheck, polrelid) = 'true'
       ORDER BY 1`,
    );
    expect(open.rows.length).toBeGreaterThan(0);
    for (const row of open.rows) expect(row.roles, `${row.table}.${row.polname}`).toEqual(['spade_firm_admin']);
  });

  it('keeps every SECURITY DEFINER function narrow: owned by spade_definer, fixed search_path, executable by spade_app but not PUBLIC', async () => {
    // They see rows before the tenant is known; a hijackable search_path or a PUBLIC grant would widen that.
    const definers = await owner.query<{
      name: string;
      owner: string;
      config: string[] | null;
      public_execute: boolean;
      app_execute: boolean;
    }>(
      `SELECT p.oid::regprocedure::text AS name, p.proowner::regrole::text AS owner, p.proconfig AS config,
              EXISTS (SELECT 1 FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) acl
                      WHERE acl.grantee = 0 AND acl.privilege_type = 'EXECUTE') AS public_execute,
              has_function_privilege('spade_app', p.oid, 'EXECUTE') AS app_execute
       FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace AND p.prosecdef ORDER BY 1`,
    );
    expect(definers.rows.map((row) => row.name)).toEqual(
      expect.arrayContaining(['spade_resolve_contact_session(text,integer)', 'spade_resolve_magic_link(text)']),
    );
    // Admin-only: removing a user's second factor runs in an admin unit of work, never as spade_app.
    const adminOnly = new Set(['spade_staff_second_factor_reset(uuid)']);
    for (const row of definers.rows) {
      expect(row, row.name).toMatchObject({ owner: 'spade_definer', public_execute: false, app_execute: !adminOnly.has(row.name) });
      expect(row.config ?? [], row.name).toContainEqual(expect.stringMatching(/^search_path=/));
    }
  });
});
