import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPasswordWithParams, hashToken, newToken } from '../src/secrets.ts';
import { DEMO, seedDemo } from '../src/seed.ts';
import { pgExecutor } from '../src/sql-executor.ts';
import { createMigratedDatabase } from '../src/testing.ts';
import { readTenantTables } from './tenant-tables.ts';

/*
 * Issue 9, from the database's side: whoever runs SQL on the app's connection (an injection,
 * a careless raw query, a bug in the context statement) cannot become a role that sees every
 * tenant, cannot read a password or token hash, and cannot mint a staff session or a staff user.
 */

/** Every tenant table (tenant-tables.ts: read from the migrated catalogue in beforeAll). */
let TENANT_TABLES: Record<string, 'client_id' | 'id'>;
const ACME = DEMO.clients.acme;
const INSUFFICIENT_PRIVILEGE = '42501';

let testDb: Awaited<ReturnType<typeof createMigratedDatabase>>;
let storageDir: string;
let owner: pg.Client;
let app: pg.Client;
let admin: pg.Client;

async function errorCode(client: pg.Client, sql: string, params: unknown[] = []): Promise<string | null> {
  try {
    await client.query(sql, params);
    return null;
  } catch (error) {
    return (error as pg.DatabaseError).code ?? 'unknown';
  }
}

/** Runs `fn` in a transaction on `client` that is always rolled back. */
async function inTransaction<T>(client: pg.Client, fn: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    return await fn();
  } finally {
    await client.query('ROLLBACK');
  }
}

/** A statement that may fail, without aborting the surrounding transaction. */
async function attempt(client: pg.Client, sql: string): Promise<string | null> {
  await client.query('SAVEPOINT attempt');
  const code = await errorCode(client, sql);
  await client.query(code ? 'ROLLBACK TO SAVEPOINT attempt' : 'RELEASE SAVEPOINT attempt');
  return code;
}

async function foreignRows(client: pg.Client): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  for (const [table, column] of Object.entries(TENANT_TABLES)) {
    const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE ${column} IS DISTINCT FROM $1`, [
      ACME,
    ]);
    seen[table] = rows[0]!.n;
  }
  return seen;
}

beforeAll(async () => {
  testDb = await createMigratedDatabase('spade_test_privilege');
  storageDir = await mkdtemp(path.join(os.tmpdir(), 'spade-privilege-'));
  await seedDemo(testDb.owner.prisma, { storageDir });
  owner = new pg.Client({ connectionString: testDb.ownerUrl });
  await owner.connect();
  // Rows of several clients in every tenant table, so "zero foreign rows" means something.
  await owner.query(
    `INSERT INTO contact_sessions (client_id, contact_id, cycle_request_id, token_hash, expires_at)
     SELECT r.client_id, r.contact_id, r.id, md5(r.id::text), now() + interval '1 day' FROM cycle_requests r`,
  );
  await owner.query(`INSERT INTO audit_events (event_type, actor_type, client_id) VALUES ('auth.login_failed', 'anonymous', NULL)`);
  await owner.query('INSERT INTO staff_client_assignments (client_id, staff_user_id) VALUES ($1, $2)', [
    DEMO.clients.borneo,
    DEMO.staff.staff.id,
  ]);
  await owner.query(`INSERT INTO staff_sessions (staff_user_id, token_hash, expires_at) VALUES ($1, $2, now() + interval '1 day')`, [
    DEMO.staff.admin.id,
    hashToken(newToken('staff')),
  ]);
  TENANT_TABLES = await readTenantTables(pgExecutor(owner));
  expect(Object.keys(TENANT_TABLES).length).toBeGreaterThan(10);
  app = new pg.Client({ connectionString: testDb.appUrl });
  await app.connect();
  admin = new pg.Client({ connectionString: testDb.adminUrl });
  await admin.connect();
});

afterAll(async () => {
  await app?.end();
  await admin?.end();
  await owner?.end();
  await testDb?.drop();
  if (storageDir) await rm(storageDir, { recursive: true, force: true });
});

describe('no path from the app login to a role that sees every tenant', () => {
  it('spade_app is a member of no all-seeing role (pg_auth_members) and cannot reach spade_firm_admin (pg_has_role)', async () => {
    // All-seeing: a superuser, BYPASSRLS, an owner of a relation, or a role a policy names.
    const { rows } = await owner.query(
      `SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
        WHERE m.member = 'spade_app'::regrole
          AND (r.rolsuper OR r.rolbypassrls
               OR EXISTS (SELECT 1 FROM pg_class c WHERE c.relowner = r.oid)
               OR EXISTS (SELECT 1 FROM pg_policy p WHERE r.oid = ANY (p.polroles)))`,
    );
    expect(rows).toEqual([]);
    const reach = await owner.query(
      `SELECT pg_has_role('spade_app', 'spade_firm_admin', 'MEMBER') AS admin, pg_has_role('spade_app', 'spade_definer', 'MEMBER') AS definer`,
    );
    expect(reach.rows[0]).toEqual({ admin: false, definer: false });
    // spade_admin (which 0001 grants to spade_app, cluster-wide, for every new database)
    // holds no table grant and no policy any more.
    const inert = await owner.query(
      `SELECT (SELECT count(*) FROM pg_policy p WHERE 'spade_admin'::regrole = ANY (p.polroles))::int AS policies,
              (SELECT count(*) FROM information_schema.role_table_grants g WHERE g.grantee = 'spade_admin')::int AS grants`,
    );
    expect(inert.rows[0]).toEqual({ policies: 0, grants: 0 });
  });

  it('with a one-client context, SET ROLE / set_config(role) to every other role, SET SESSION AUTHORIZATION and RESET ROLE are refused or change nothing: zero foreign rows in every tenant table', async () => {
    const none = Object.fromEntries(Object.keys(TENANT_TABLES).map((t) => [t, 0]));
    await inTransaction(app, async () => {
      await app.query(`SELECT set_config('app.client_ids', $1, true)`, [ACME]);
      for (const role of ['spade_firm_admin', 'spade_definer', 'spade_owner', 'spade_admin_login', 'postgres']) {
        expect(await attempt(app, `SET ROLE ${role}`), role).toBe(INSUFFICIENT_PRIVILEGE);
        expect(await attempt(app, `SET LOCAL ROLE ${role}`), role).toBe(INSUFFICIENT_PRIVILEGE);
        expect(await attempt(app, `SELECT set_config('role', '${role}', true)`), role).toBe(INSUFFICIENT_PRIVILEGE);
        expect(await attempt(app, `SELECT set_config('role', '${role}', false)`), role).toBe(INSUFFICIENT_PRIVILEGE);
      }
      expect(await attempt(app, 'SET SESSION AUTHORIZATION postgres')).toBe(INSUFFICIENT_PRIVILEGE);
      // spade_admin: refused, or (while another database's 0001 has just granted it again,
      // roles being cluster-wide) admitted but seeing nothing of anyone.
      for (const statement of ['SET LOCAL ROLE spade_admin', `SELECT set_config('role', 'spade_admin', true)`]) {
        await app.query('SAVEPOINT escalate');
        const refused = await errorCode(app, statement);
        if (refused) expect(refused).toBe(INSUFFICIENT_PRIVILEGE);
        else {
          for (const table of Object.keys(TENANT_TABLES)) {
            expect(await attempt(app, `SELECT 1 FROM ${table} LIMIT 1`), `${table} as spade_admin`).toBe(INSUFFICIENT_PRIVILEGE);
          }
        }
        await app.query('ROLLBACK TO SAVEPOINT escalate');
      }
      expect(await attempt(app, 'RESET ROLE')).toBeNull();
      const { rows } = await app.query<{ user: string; ids: string }>(
        `SELECT current_user AS user, current_setting('app.client_ids', true) AS ids`,
      );
      expect(rows[0]).toEqual({ user: 'spade_app', ids: ACME });
      const acme = await app.query<{ n: number }>('SELECT count(*)::int AS n FROM cycles');
      expect(acme.rows[0]!.n).toBeGreaterThan(0);
      expect(await foreignRows(app)).toEqual(none);
    });
  });

  it('spade_admin_login (NOINHERIT) reads nothing until its unit of work switches to spade_firm_admin, which sees every client', async () => {
    const attrs = await owner.query(
      `SELECT rolcanlogin, rolinherit, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'spade_admin_login'`,
    );
    expect(attrs.rows[0]).toEqual({ rolcanlogin: true, rolinherit: false, rolsuper: false, rolbypassrls: false });
    expect(await errorCode(admin, 'SELECT count(*) FROM clients')).toBe(INSUFFICIENT_PRIVILEGE);
    await inTransaction(admin, async () => {
      await admin.query(`SELECT set_config('role', 'spade_firm_admin', true)`);
      const { rows } = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM clients');
      expect(rows[0]!.n).toBe(3);
    });
  });
});

describe('secrets the runtime roles cannot read', () => {
  let secretColumns: { table: string; column: string }[];

  beforeAll(async () => {
    const { rows } = await owner.query<{ table: string; column: string }>(
      `SELECT table_name AS table, column_name AS column FROM information_schema.columns
        WHERE table_schema = 'public' AND (column_name LIKE '%\\_hash' OR column_name LIKE 'password%'
                                          OR column_name LIKE '%secret%' OR column_name LIKE 'recovery%')
        ORDER BY 1, 2`,
    );
    secretColumns = rows;
  });

  it('finds every hash column in the catalogue (the four known ones at least)', () => {
    expect(secretColumns).toEqual(
      expect.arrayContaining([
        { table: 'staff_users', column: 'password_hash' },
        { table: 'staff_sessions', column: 'token_hash' },
        { table: 'cycle_requests', column: 'token_hash' },
        { table: 'contact_sessions', column: 'token_hash' },
      ]),
    );
  });

  it('grants SELECT on none of them to spade_app, spade_admin, spade_firm_admin or spade_admin_login (information_schema.column_privileges, has_column_privilege)', async () => {
    const granted = await owner.query(
      `SELECT grantee, table_name, column_name FROM information_schema.column_privileges
        WHERE table_schema = 'public' AND privilege_type = 'SELECT'
          AND grantee IN ('spade_app', 'spade_admin', 'spade_firm_admin', 'spade_admin_login')
          AND (column_name LIKE '%\\_hash' OR column_name LIKE 'password%' OR column_name LIKE '%secret%' OR column_name LIKE 'recovery%')`,
    );
    expect(granted.rows).toEqual([]);
    for (const role of ['spade_app', 'spade_admin', 'spade_firm_admin', 'spade_admin_login']) {
      for (const { table, column } of secretColumns) {
        const { rows } = await owner.query<{ ok: boolean }>(`SELECT has_column_privilege($1, $2, $3, 'SELECT') AS ok`, [
          role,
          table,
          column,
        ]);
        expect(rows[0]!.ok, `${role} can read ${table}.${column}`).toBe(false);
      }
    }
  });

  it('refuses spade_app reading any of them, even inside its own tenant, and refuses SELECT * on their tables', async () => {
    await inTransaction(app, async () => {
      await app.query(`SELECT set_config('app.client_ids', $1, true)`, [ACME]);
      for (const { table, column } of secretColumns) {
        expect(await attempt(app, `SELECT ${column} FROM ${table} LIMIT 1`), `${table}.${column}`).toBe(INSUFFICIENT_PRIVILEGE);
        expect(await attempt(app, `SELECT 1 FROM ${table} WHERE ${column} IS NOT NULL LIMIT 1`), `${table}.${column} in WHERE`).toBe(
          INSUFFICIENT_PRIVILEGE,
        );
        expect(await attempt(app, `SELECT * FROM ${table} LIMIT 1`), `${table}.*`).toBe(INSUFFICIENT_PRIVILEGE);
      }
    });
  });

  it('refuses spade_firm_admin reading any of them too (admin routes run in the same process)', async () => {
    await inTransaction(admin, async () => {
      await admin.query(`SELECT set_config('role', 'spade_firm_admin', true)`);
      for (const { table, column } of secretColumns) {
        expect(await attempt(admin, `SELECT ${column} FROM ${table} LIMIT 1`), `${table}.${column}`).toBe(INSUFFICIENT_PRIVILEGE);
      }
    });
  });

  it('refuses spade_app minting a staff session or a staff user, or setting a password hash or a role (account take-over)', async () => {
    const token = hashToken(newToken('staff'));
    expect(
      await errorCode(app, `INSERT INTO staff_sessions (staff_user_id, token_hash, expires_at) VALUES ($1, $2, now() + interval '1 day')`, [
        DEMO.staff.admin.id,
        token,
      ]),
    ).toBe(INSUFFICIENT_PRIVILEGE);
    expect(
      await errorCode(
        app,
        `INSERT INTO staff_users (email, name, role, password_hash) VALUES ('evil@x.test', 'Evil', 'admin', 'scrypt$x')`,
      ),
    ).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await errorCode(app, `UPDATE staff_users SET password_hash = 'scrypt$x' WHERE id = $1`, [DEMO.staff.admin.id])).toBe(
      INSUFFICIENT_PRIVILEGE,
    );
    expect(await errorCode(app, `UPDATE staff_users SET role = 'admin' WHERE id = $1`, [DEMO.staff.staff.id])).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await errorCode(app, `UPDATE staff_sessions SET token_hash = $1`, [token])).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await errorCode(app, `UPDATE staff_sessions SET expires_at = now() + interval '1 year'`)).toBe(INSUFFICIENT_PRIVILEGE);
  });
});

describe('sign-in through narrow SECURITY DEFINER functions', () => {
  async function params(email: string): Promise<string> {
    const { rows } = await app.query<{ p: string }>('SELECT spade_staff_password_params($1) AS p', [email]);
    return rows[0]!.p;
  }
  async function login(email: string, password: string) {
    const hash = await hashPasswordWithParams(password, await params(email));
    const sessionHash = hashToken(newToken('staff'));
    const { rows } = await app.query(`SELECT * FROM spade_staff_login($1, $2, $3, now() + interval '1 hour')`, [email, hash, sessionHash]);
    return { row: rows[0] as Record<string, unknown>, sessionHash };
  }

  it('returns the salt and scrypt parameters of a password, never its hash; a stable made-up salt for an unknown email', async () => {
    const known = await params(DEMO.staff.admin.email);
    expect(known).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]+$/);
    const { rows } = await owner.query<{ h: string }>('SELECT password_hash AS h FROM staff_users WHERE id = $1', [DEMO.staff.admin.id]);
    expect(rows[0]!.h.startsWith(`${known}$`)).toBe(true);
    expect(known).not.toContain(rows[0]!.h.split('$')[5]);
    const unknown = await params('nobody@spade.test');
    expect(unknown).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]{22}$/);
    expect(await params('NOBODY@spade.test')).toBe(unknown);
    expect(await params('other@spade.test')).not.toBe(unknown);
  });

  it('signs in with the right password and creates the session with the caller’s token hash, returning ids and no hash', async () => {
    const { row, sessionHash } = await login(DEMO.staff.staff.email, DEMO.staff.staff.password);
    expect(row).toEqual({
      verdict: 'ok',
      staff_user_id: DEMO.staff.staff.id,
      session_id: expect.any(String),
      email: DEMO.staff.staff.email,
      name: DEMO.staff.staff.name,
      role: 'staff',
    });
    const { rows } = await owner.query('SELECT staff_user_id FROM staff_sessions WHERE token_hash = $1', [sessionHash]);
    expect(rows).toEqual([{ staff_user_id: DEMO.staff.staff.id }]);
    const resolved = await app.query('SELECT session_id, staff_user_id FROM spade_resolve_staff_session($1)', [sessionHash]);
    expect(resolved.rows).toEqual([{ session_id: row.session_id, staff_user_id: DEMO.staff.staff.id }]);
  });

  it('says unknown_email or wrong_password and creates no session', async () => {
    const before = await owner.query<{ n: number }>('SELECT count(*)::int AS n FROM staff_sessions');
    expect((await login('nobody@spade.test', 'whatever-password')).row).toMatchObject({ verdict: 'unknown_email', session_id: null });
    expect((await login(DEMO.staff.admin.email, 'wrong-password!')).row).toMatchObject({ verdict: 'wrong_password', session_id: null });
    const after = await owner.query<{ n: number }>('SELECT count(*)::int AS n FROM staff_sessions');
    expect(after.rows[0]!.n).toBe(before.rows[0]!.n);
    await owner.query('UPDATE staff_users SET failed_login_count = 0, locked_until = NULL');
  });

  it('locks an account after five failures in a row: then even the right password is refused, with no session', async () => {
    const email = DEMO.staff.admin.email;
    for (let i = 0; i < 5; i += 1) expect((await login(email, `wrong-${i}-password`)).row.verdict).toBe('wrong_password');
    const locked = await login(email, DEMO.staff.admin.password);
    expect(locked.row).toMatchObject({ verdict: 'locked', session_id: null });
    const { rows } = await owner.query<{ minutes: number }>(
      `SELECT round(extract(epoch FROM locked_until - now()) / 60)::int AS minutes FROM staff_users WHERE id = $1`,
      [DEMO.staff.admin.id],
    );
    expect(rows[0]!.minutes).toBe(1);
    // The lock ends on its own; the next success resets the count.
    await owner.query(`UPDATE staff_users SET locked_until = now() - interval '1 second' WHERE id = $1`, [DEMO.staff.admin.id]);
    expect((await login(email, DEMO.staff.admin.password)).row.verdict).toBe('ok');
    const reset = await owner.query('SELECT failed_login_count, locked_until FROM staff_users WHERE id = $1', [DEMO.staff.admin.id]);
    expect(reset.rows[0]).toEqual({ failed_login_count: 0, locked_until: null });
  });

  it('backs off: each further failure while locked-out-then-expired doubles the lock, capped at an hour', async () => {
    await owner.query(`UPDATE staff_users SET failed_login_count = 7, locked_until = NULL WHERE id = $1`, [DEMO.staff.staff.id]);
    expect((await login(DEMO.staff.staff.email, 'wrong-again-password')).row.verdict).toBe('wrong_password');
    const { rows } = await owner.query<{ minutes: number }>(
      `SELECT round(extract(epoch FROM locked_until - now()) / 60)::int AS minutes FROM staff_users WHERE id = $1`,
      [DEMO.staff.staff.id],
    );
    expect(rows[0]!.minutes).toBe(8);
    await owner.query(`UPDATE staff_users SET failed_login_count = 40, locked_until = NULL WHERE id = $1`, [DEMO.staff.staff.id]);
    await login(DEMO.staff.staff.email, 'wrong-again-password');
    const capped = await owner.query<{ minutes: number }>(
      `SELECT round(extract(epoch FROM locked_until - now()) / 60)::int AS minutes FROM staff_users WHERE id = $1`,
      [DEMO.staff.staff.id],
    );
    expect(capped.rows[0]!.minutes).toBe(60);
    await owner.query('UPDATE staff_users SET failed_login_count = 0, locked_until = NULL');
  });

  it('answers "published password in use" for the demo accounts only, so it is no password oracle for real ones', async () => {
    const demoHash = await hashPasswordWithParams(DEMO.staff.admin.password, await params(DEMO.staff.admin.email));
    const inUse = await app.query('SELECT spade_demo_login_in_use($1, $2) AS v', [DEMO.staff.admin.email, demoHash]);
    expect(inUse.rows[0]).toEqual({ v: true });
    await owner.query(`INSERT INTO staff_users (email, name, role, password_hash) VALUES ('real@firm.test', 'Real', 'admin', $1)`, [
      demoHash,
    ]);
    const real = await app.query('SELECT spade_demo_login_in_use($1, $2) AS v', ['real@firm.test', demoHash]);
    expect(real.rows[0]).toEqual({ v: false });
  });
});
