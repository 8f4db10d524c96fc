import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMigratedDatabase, type TestDatabase } from '../src/testing.ts';

/*
 * The lookups every request makes before its tenant is known (DESIGN §4, §9): narrow
 * SECURITY DEFINER functions owned by spade_definer, in PL/pgSQL so that each connection
 * keeps their query plan (a SQL-language definer function is planned again on every call).
 */
const PER_REQUEST = ['spade_resolve_staff_session', 'spade_resolve_staff_session_for_client', 'spade_resolve_contact_session'];

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

  it("answers a client-scoped request's one question — is this client assigned? — without listing the others", async () => {
    const [a, b, c] = [
      '00000000-0000-4000-8000-0000000000d1',
      '00000000-0000-4000-8000-0000000000d2',
      '00000000-0000-4000-8000-0000000000d3',
    ];
    await owner.query(
      `INSERT INTO clients (id, name) VALUES ('${a}', 'A'), ('${b}', 'B'), ('${c}', 'C');
       INSERT INTO staff_users (id, email, name, role, password_hash)
         VALUES ('00000000-0000-4000-8000-0000000000d9', 'one@spade.test', 'One', 'staff', 'x');
       INSERT INTO staff_client_assignments (client_id, staff_user_id)
         VALUES ('${a}', '00000000-0000-4000-8000-0000000000d9'), ('${b}', '00000000-0000-4000-8000-0000000000d9');
       INSERT INTO staff_sessions (staff_user_id, token_hash, expires_at)
         VALUES ('00000000-0000-4000-8000-0000000000d9', 'one-hash', now() + interval '1 hour')`,
    );
    const app = new pg.Client({ connectionString: testDb.appUrl });
    await app.connect();
    try {
      const forClient = async (clientId: string | null) =>
        (await app.query('SELECT client_ids FROM spade_resolve_staff_session_for_client($1, $2)', ['one-hash', clientId])).rows;
      expect(await forClient(a)).toEqual([{ client_ids: [a] }]);
      expect(await forClient(c)).toEqual([{ client_ids: [] }]);
      expect(await forClient(null)).toEqual([{ client_ids: [] }]);
      // The list lookup still lists both, for staff-only routes.
      const all = await app.query('SELECT client_ids FROM spade_resolve_staff_session($1)', ['one-hash']);
      expect([...(all.rows[0]?.client_ids ?? [])].sort()).toEqual([a, b]);
      await owner.query(`UPDATE staff_sessions SET revoked_at = now() WHERE token_hash = 'one-hash'`);
      expect(await forClient(a)).toEqual([]);
    } finally {
      await app.end();
    }
  });

  it('ends an idle contact session, and records activity at most once per touch interval (not on every call)', async () => {
    await owner.query(
      `INSERT INTO clients (id, name) VALUES ('00000000-0000-4000-8000-0000000000c1', 'Idle Co');
       INSERT INTO contacts (id, client_id, name, email) VALUES ('00000000-0000-4000-8000-0000000000c2', '00000000-0000-4000-8000-0000000000c1', 'C', 'c@idle.test');
       INSERT INTO cycles (id, client_id, kind, period, title) VALUES ('00000000-0000-4000-8000-0000000000c3', '00000000-0000-4000-8000-0000000000c1', 'tax', '2026', 'T');
       INSERT INTO cycle_requests (id, client_id, cycle_id, contact_id, token_hash, expires_at)
         VALUES ('00000000-0000-4000-8000-0000000000c4', '00000000-0000-4000-8000-0000000000c1', '00000000-0000-4000-8000-0000000000c3',
                 '00000000-0000-4000-8000-0000000000c2', 'idle-link', now() + interval '1 day');
       INSERT INTO contact_sessions (client_id, contact_id, cycle_request_id, token_hash, created_at, expires_at)
         VALUES ('00000000-0000-4000-8000-0000000000c1', '00000000-0000-4000-8000-0000000000c2', '00000000-0000-4000-8000-0000000000c4',
                 'idle-session', now() - interval '10 minutes', now() + interval '1 hour')`,
    );
    const app = new pg.Client({ connectionString: testDb.appUrl });
    await app.connect();
    try {
      const lookup = async (idleSeconds: number) =>
        (await app.query('SELECT contact_id FROM spade_resolve_contact_session($1, $2)', ['idle-session', idleSeconds])).rows;
      const lastSeen = async () =>
        (await owner.query<{ seen: Date | null }>(`SELECT last_seen_at AS seen FROM contact_sessions WHERE token_hash = 'idle-session'`))
          .rows[0]?.seen ?? null;
      // Ten minutes since the exchange: dead under a 5-minute idle period, alive under an hour.
      expect(await lookup(300)).toEqual([]);
      expect(await lastSeen()).toBeNull();
      expect(await lookup(3600)).toEqual([{ contact_id: '00000000-0000-4000-8000-0000000000c2' }]);
      const touched = await lastSeen();
      expect(touched).not.toBeNull();
      // Seen just now: the next calls write nothing.
      await lookup(3600);
      await lookup(300);
      expect(await lastSeen()).toEqual(touched);
      // Thirty seconds ago is within the touch interval (a quarter of the idle period, at most a minute): no write either.
      await owner.query(`UPDATE contact_sessions SET last_seen_at = now() - interval '30 seconds' WHERE token_hash = 'idle-session'`);
      const before = await lastSeen();
      expect(await lookup(300)).toHaveLength(1);
      expect(await lastSeen()).toEqual(before);
      // Six minutes idle under a five-minute period: refused, and nothing written.
      await owner.query(`UPDATE contact_sessions SET last_seen_at = now() - interval '6 minutes' WHERE token_hash = 'idle-session'`);
      const idle = await lastSeen();
      expect(await lookup(300)).toEqual([]);
      expect(await lastSeen()).toEqual(idle);
    } finally {
      await app.end();
    }
  });
});
