import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMigratedDatabase, type TestDatabase } from '../src/testing.ts';

/*
 * The lookups every request makes before its tenant is known (DESIGN §4, §9): narrow
 * SECURITY DEFINER functions owned by spade_definer, in PL/pgSQL so that each connection
 * keeps their query plan (a SQL-language definer function is planned again on every call).
 */
const PER_REQUEST = ['spade_resolve_staff_session', 'spade_resolve_contact_session'];

let testDb: TestDatabase;
let owner: pg.Client;

beforeAll(async () => {
  testDb = await createMigratedDatabase('spade_lookups');
  owner = new pg.Client({ connectionString: testDb.ownerUrl });
  await owner.connect();
});

afterAll(async () => {
  await owner?.end();
  await testDb?.drop();
});

describe('per-request session lookups', () => {
  it('are PL/pgSQL security-definer functions owned by spade_definer, executable by spade_app only', async () => {
    const { rows } = await owner.query<{ name: string; language: string; definer: boolean; owner: string; app: boolean; public: boolean }>(
      `SELECT p.proname AS name, l.lanname AS language, p.prosecdef AS definer, pg_get_userbyid(p.proowner) AS owner,
              has_function_privilege('spade_app', p.oid, 'EXECUTE') AS app,
              (p.proacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = 0)) AS public
         FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
        WHERE p.proname = ANY ($1) ORDER BY 1`,
      [PER_REQUEST],
    );
    expect(rows).toEqual(
      [...PER_REQUEST]
        .sort()
        .map((name) => ({ name, language: 'plpgsql', definer: true, owner: 'spade_definer', app: true, public: false })),
    );
  });

  it('still refuses a revoked staff session on the very next call', async () => {
    await owner.query(
      `INSERT INTO staff_users (id, email, name, role, password_hash)
         VALUES ('00000000-0000-4000-8000-0000000000a1', 'lookup@spade.test', 'Lookup', 'staff', 'x');
       INSERT INTO staff_sessions (staff_user_id, token_hash, expires_at)
         VALUES ('00000000-0000-4000-8000-0000000000a1', 'lookup-hash', now() + interval '1 hour')`,
    );
    const app = new pg.Client({ connectionString: testDb.appUrl });
    await app.connect();
    try {
      const lookup = () => app.query('SELECT staff_user_id FROM spade_resolve_staff_session($1)', ['lookup-hash']);
      expect((await lookup()).rows).toEqual([{ staff_user_id: '00000000-0000-4000-8000-0000000000a1' }]);
      await owner.query(`UPDATE staff_sessions SET revoked_at = now() WHERE token_hash = 'lookup-hash'`);
      expect((await lookup()).rows).toEqual([]);
    } finally {
      await app.end();
    }
  });
});
