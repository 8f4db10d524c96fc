import { randomBytes } from 'node:crypto';
import { AdminCreationError } from '@breezycorp/db';
import { seedDemo } from '@breezycorp/db/unsafe';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoLoginsInUse, ensureFirstAdmin } from '../services/first-admin.ts';
import { assertRuntimeRole, reachableAllSeeingRoles, UnsafeRuntimeRoleError } from '../services/runtime-role.ts';
import { send } from './support/http.ts';
import { createTestApp, DEMO, login, type TestApp } from './support/test-app.ts';

/*
 * Issue 9 through the API: admin reads on their own login, a first admin without the demo
 * seed, per-account lockout, and a boot check that refuses an app role one SET ROLE away
 * from every tenant. A fresh database, migrated and NOT seeded.
 */

const FIRST_ADMIN = { email: 'Owner@Firm.example', password: 'correct horse battery staple' };
let t: TestApp;
let sql: pg.Client;

beforeAll(async () => {
  t = await createTestApp({ seed: false, env: { SPADE_ADMIN_EMAIL: FIRST_ADMIN.email, SPADE_ADMIN_PASSWORD: FIRST_ADMIN.password } });
  sql = new pg.Client({ connectionString: t.testDb.ownerUrl });
  await sql.connect();
});

afterAll(async () => {
  await sql?.end();
  await t?.close();
});

describe('a real first admin, without the demo seed', () => {
  it('refuses a first admin whose password fails the minimum policy, and creates nothing', async () => {
    await expect(ensureFirstAdmin(t.adminDb, { email: 'weak@firm.example', password: 'short' })).rejects.toThrow(AdminCreationError);
    await expect(ensureFirstAdmin(t.adminDb, { email: 'weak@firm.example', password: 'aaaaaaaaaaaaaaaa' })).rejects.toThrow(
      /different characters/,
    );
    const { rows } = await sql.query('SELECT count(*)::int AS n FROM staff_users');
    expect(rows[0]).toEqual({ n: 0 });
  });

  it('creates the admin from SPADE_ADMIN_EMAIL/SPADE_ADMIN_PASSWORD on a fresh database, stored with scrypt and audited; that admin can sign in', async () => {
    expect(t.config.firstAdmin).toEqual(FIRST_ADMIN);
    const result = await ensureFirstAdmin(t.adminDb, t.config.firstAdmin!);
    expect(result).toEqual({ created: true, staffUserId: expect.any(String), email: 'owner@firm.example' });
    const { rows } = await sql.query<{ role: string; password_hash: string }>('SELECT role, password_hash FROM staff_users');
    expect(rows).toHaveLength(1);
    expect(rows[0]!.role).toBe('admin');
    expect(rows[0]!.password_hash).toMatch(/^scrypt\$/);
    expect(rows[0]!.password_hash).not.toContain(FIRST_ADMIN.password);
    const audit = await sql.query(
      `SELECT actor_type, entity_id, client_id FROM audit_events WHERE event_type = 'staff_user.admin_created'`,
    );
    expect(audit.rows).toEqual([{ actor_type: 'system', entity_id: result.created ? result.staffUserId : null, client_id: null }]);

    const session = await login(t.app, { email: 'owner@firm.example', password: FIRST_ADMIN.password });
    const me = await send(t.app, 'GET', '/api/auth/me', session.headers);
    expect(me.status).toBe(200);
    expect(me.json.staffUser).toMatchObject({ email: 'owner@firm.example', role: 'admin' });
    // Admin firm-wide reads work, on the admin's own database login.
    const staff = await send(t.app, 'GET', '/api/staff-users', session.headers);
    expect(staff.status).toBe(200);
    expect(staff.json.staffUsers).toHaveLength(1);
    const logins = await sql.query<{ usename: string }>(
      `SELECT DISTINCT usename::text FROM pg_stat_activity WHERE datname = current_database() AND usename::text LIKE 'spade_%' ORDER BY 1`,
    );
    expect(logins.rows.map((r) => r.usename)).toEqual(['spade_admin_login', 'spade_app']);
  });

  it('never changes an existing admin: a second start with another password creates nothing and the first password still works', async () => {
    const again = await ensureFirstAdmin(t.adminDb, { email: FIRST_ADMIN.email, password: 'another long passphrase 42' });
    expect(again).toEqual({ created: false, reason: 'admin_exists', email: 'owner@firm.example' });
    const other = await ensureFirstAdmin(t.adminDb, { email: 'second@firm.example', password: 'another long passphrase 42' });
    expect(other).toMatchObject({ created: false, reason: 'admin_exists' });
    const bad = await send(t.app, 'POST', '/api/auth/login', {}, { email: FIRST_ADMIN.email, password: 'another long passphrase 42' });
    expect(bad.status).toBe(401);
    await login(t.app, { email: FIRST_ADMIN.email, password: FIRST_ADMIN.password });
    const { rows } = await sql.query('SELECT count(*)::int AS n FROM staff_users');
    expect(rows[0]).toEqual({ n: 1 });
  });

  it('finds no demo login with a published password on a database that was never seeded, and both once it is', async () => {
    expect(await demoLoginsInUse(t.db)).toEqual([]);
    await seedDemo(t.owner.prisma, { storageDir: t.config.storageDir });
    expect(await demoLoginsInUse(t.db)).toEqual([DEMO.staff.admin.email, DEMO.staff.staff.email]);
    await sql.query(`UPDATE staff_users SET disabled_at = now() WHERE email = $1`, [DEMO.staff.staff.email]);
    expect(await demoLoginsInUse(t.db)).toEqual([DEMO.staff.admin.email]);
    await sql.query(`UPDATE staff_users SET disabled_at = NULL WHERE email = $1`, [DEMO.staff.staff.email]);
  });
});

describe('staff sign-in lockout per account', () => {
  it('locks an account after five wrong passwords: the right one then gets the very answer an unknown email gets, audited as auth.login_locked', async () => {
    const attempt = (email: string, password: string) => send(t.app, 'POST', '/api/auth/login', {}, { email, password });
    const unknown = await attempt('nobody@firm.example', 'whatever password');
    for (let i = 0; i < 5; i += 1) expect((await attempt(DEMO.staff.staff.email, `wrong password ${i}`)).status).toBe(401);
    const locked = await attempt(DEMO.staff.staff.email, DEMO.staff.staff.password);
    expect(locked.status).toBe(401);
    expect(locked.json.error.code).toBe(unknown.json.error.code);
    expect(locked.json.error.message).toBe(unknown.json.error.message);
    expect(Object.keys(locked.json.error).sort()).toEqual(['code', 'message', 'requestId']);
    const audit = await sql.query<{ event_type: string; reason: string }>(
      `SELECT event_type, event_data_json->>'reason' AS reason FROM audit_events
        WHERE event_type IN ('auth.login_failed', 'auth.login_locked') AND entity_id = $1 ORDER BY occurred_at`,
      [DEMO.staff.staff.id],
    );
    expect(audit.rows.map((r) => `${r.event_type}:${r.reason}`)).toEqual([
      ...Array(5).fill('auth.login_failed:wrong_password'),
      'auth.login_locked:locked',
    ]);
    // Other accounts are unaffected.
    await login(t.app, { email: DEMO.staff.admin.email, password: DEMO.staff.admin.password });
  });
});

describe('the boot check', () => {
  it('refuses an app pool that cannot run admin units of work as the admin pool: spade_app cannot become spade_firm_admin', async () => {
    await expect(assertRuntimeRole(t.db, t.db)).rejects.toThrow(UnsafeRuntimeRoleError);
    await expect(assertRuntimeRole(t.db, t.adminDb)).resolves.toBeUndefined();
  });

  it('refuses the admin pool in the app pool’s place (it logs in as another role)', async () => {
    await expect(assertRuntimeRole(t.adminDb, t.adminDb)).rejects.toThrow(/not spade_app/);
  });

  it('names every all-seeing role a login can reach through membership (pg_has_role), not only its own BYPASSRLS', async () => {
    const probe = `spade_probe_${randomBytes(4).toString('hex')}`;
    const bypass = `${probe}_bypass`;
    await sql.query(`CREATE ROLE ${probe} NOLOGIN NOINHERIT`);
    await sql.query(`CREATE ROLE ${bypass} NOLOGIN BYPASSRLS`);
    try {
      const check = (role: string) => t.db.withSql((s) => reachableAllSeeingRoles(s, role));
      expect(await check(probe)).toEqual([]);
      await sql.query(`GRANT spade_firm_admin TO ${probe}`);
      expect(await check(probe)).toEqual(['spade_firm_admin']);
      await sql.query(`GRANT ${bypass} TO ${probe}`);
      expect(await check(probe)).toEqual([bypass, 'spade_firm_admin'].sort());
      // And the real runtime role reaches none.
      expect(await check('spade_app')).toEqual([]);
    } finally {
      await sql.query(`DROP ROLE ${probe}`);
      await sql.query(`DROP ROLE ${bypass}`);
    }
  });
});
