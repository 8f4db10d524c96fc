import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUNBOOK_SQL } from '../src/runbook-sql.ts';
import { hashToken } from '../src/secrets.ts';
import { DEMO, type SeedReport, seedDemo } from '../src/seed.ts';
import { createMigratedDatabase, type TestDatabase } from '../src/testing.ts';

/*
 * The runbook's three SQL statements (src/runbook-sql.ts), first proven to be the spec's
 * and the repo runbook's text verbatim, then run as an operator would paste them: only the
 * placeholders are filled, so the schema must keep accepting exactly that text.
 */
const RUNBOOK_REVOKE_STAFF_SESSIONS = RUNBOOK_SQL.revokeStaffSessions;
const RUNBOOK_EXPIRE_REQUEST = RUNBOOK_SQL.expireRequest;
const RUNBOOK_AUDIT_QUERY = RUNBOOK_SQL.auditActor;

describe('the runbook SQL is the runbook’s', () => {
  const sqlBlocks = (markdown: string) => [...markdown.matchAll(/```sql\n([\s\S]*?)\n```/g)].map((m) => m[1]);
  it.each([
    ['the original runbook (docs/spec)', new URL('../../../docs/spec/suspected-tenant-leak.runbook.md', import.meta.url)],
    ['docs/runbooks', new URL('../../../docs/runbooks/suspected-tenant-leak.md', import.meta.url)],
  ])('every statement stands verbatim in %s', async (_name, file) => {
    const blocks = sqlBlocks(await readFile(file, 'utf8'));
    for (const statement of Object.values(RUNBOOK_SQL)) expect(blocks).toContain(statement);
  });
});

let testDb: TestDatabase & { owner: { close(): Promise<void> } };
let storageDir: string;
let seed: SeedReport;
let owner: pg.Client;

/** The database's clock as text: full microsecond precision, unlike a JS Date. */
async function dbNow(): Promise<string> {
  const result = await owner.query<{ now: string }>('SELECT clock_timestamp()::text AS now');
  return result.rows[0]!.now;
}

beforeAll(async () => {
  const db = await createMigratedDatabase('spade_test_runbook');
  testDb = db;
  storageDir = await mkdtemp(path.join(os.tmpdir(), 'spade-runbook-'));
  seed = await seedDemo(db.owner.prisma, { storageDir });
  // The runbook is run by an operator as the database owner, not through the app role.
  owner = new pg.Client({ connectionString: db.ownerUrl });
  await owner.connect();
});

afterAll(async () => {
  await owner?.end();
  await testDb?.drop();
  if (storageDir) await rm(storageDir, { recursive: true, force: true });
});

describe('runbook SQL, run verbatim', () => {
  it('revokes every active staff session for the investigation and leaves already-revoked sessions untouched', async () => {
    const insert = `INSERT INTO staff_sessions (id, staff_user_id, token_hash, expires_at, revoked_at, revoked_reason)
                    VALUES ($1, $2, $3, now() + interval '1 day', $4, $5)`;
    const activeAdmin = '10000000-0000-4000-8000-000000000001';
    const activeAdmin2 = '10000000-0000-4000-8000-000000000002';
    const activeStaff = '10000000-0000-4000-8000-000000000003';
    const loggedOut = '10000000-0000-4000-8000-000000000004';
    await owner.query(insert, [activeAdmin, DEMO.staff.admin.id, hashToken('a1'), null, null]);
    await owner.query(insert, [activeAdmin2, DEMO.staff.admin.id, hashToken('a2'), null, null]);
    await owner.query(insert, [activeStaff, DEMO.staff.staff.id, hashToken('s1'), null, null]);
    await owner.query(insert, [loggedOut, DEMO.staff.staff.id, hashToken('s2'), '2026-01-02T03:04:05.123456Z', 'logout']);

    const before = await dbNow();
    const result = await owner.query(RUNBOOK_REVOKE_STAFF_SESSIONS);
    const after = await dbNow();

    expect(result.rowCount).toBe(3);
    const rows = await owner.query<{ id: string; revoked_at: string; revoked_reason: string; in_window: boolean }>(
      `SELECT id, revoked_at::text, revoked_reason,
              revoked_at BETWEEN $1::timestamptz AND $2::timestamptz AS in_window
       FROM staff_sessions ORDER BY id`,
      [before, after],
    );
    const byId = new Map(rows.rows.map((row) => [row.id, row]));
    for (const id of [activeAdmin, activeAdmin2, activeStaff]) {
      expect(byId.get(id)).toMatchObject({ revoked_reason: 'tenant_leak_investigation', in_window: true });
    }
    // One statement, one NOW(): every revoked session carries the same instant.
    expect(new Set([activeAdmin, activeAdmin2, activeStaff].map((id) => byId.get(id)!.revoked_at)).size).toBe(1);
    // The earlier logout keeps its own time and reason: the evidence of who logged out when survives.
    expect(byId.get(loggedOut)).toMatchObject({ revoked_at: '2026-01-02 03:04:05.123456+00', revoked_reason: 'logout', in_window: false });
    expect(rows.rowCount).toBe(4);
  });

  it('expires exactly the suspected magic-link request and no other', async () => {
    const suspect = seed.magicLinks.find((link) => link.clientName.startsWith('Borneo'))!;
    const snapshot = async () => {
      const rows = await owner.query<{ id: string; expires_at: string; updated_at: string; status: string }>(
        'SELECT id, expires_at::text, updated_at::text, status FROM cycle_requests ORDER BY id',
      );
      return new Map(rows.rows.map((row) => [row.id, row]));
    };
    const beforeRows = await snapshot();
    expect(beforeRows.size).toBe(3);

    const before = await dbNow();
    const result = await owner.query(RUNBOOK_EXPIRE_REQUEST.replace('<suspected-request-id>', suspect.requestId));
    const after = await dbNow();

    expect(result.rowCount).toBe(1);
    const afterRows = await snapshot();
    for (const [id, row] of afterRows) {
      if (id === suspect.requestId) continue;
      expect(row).toEqual(beforeRows.get(id));
    }
    const expired = await owner.query<{ in_window: boolean }>(
      'SELECT expires_at BETWEEN $2::timestamptz AND $3::timestamptz AS in_window FROM cycle_requests WHERE id = $1',
      [suspect.requestId, before, after],
    );
    expect(expired.rows[0]).toEqual({ in_window: true });

    // The effect the runbook is after: that link no longer resolves, the others still do.
    const resolves = async (token: string) => {
      const rows = await owner.query('SELECT * FROM spade_resolve_magic_link($1)', [hashToken(token)]);
      return rows.rowCount === 1;
    };
    for (const link of seed.magicLinks) {
      expect(await resolves(link.token)).toBe(link.requestId !== suspect.requestId);
    }
  });

  it("returns exactly the suspect actor's cycle.read, file.downloaded and cross_tenant_read events of the last 24 hours, newest first", async () => {
    const suspect = DEMO.staff.staff.id;
    const someoneElse = DEMO.staff.admin.id;
    const { acme, borneo, cinnamon } = DEMO.clients;
    const insert = `INSERT INTO audit_events (occurred_at, event_type, actor_type, actor_id, client_id, entity_type, entity_id, event_data_json)
                    VALUES (now() - $1::interval, $2, 'staff', $3, $4, $5, $6, $7)`;
    // [age, type, actor, client, entity_id]; inserted out of time order so ORDER BY is what sorts them.
    const events: [string, string, string, string | null, string][] = [
      ['3 hours', 'cross_tenant_read', suspect, borneo, 'match-3h'],
      ['10 minutes', 'cycle.read', suspect, acme, 'match-10m'],
      ['23 hours', 'file.downloaded', suspect, cinnamon, 'match-23h'],
      ['1 hour', 'file.downloaded', suspect, borneo, 'match-1h'],
      // Not matching: other event types of the suspect…
      ['5 minutes', 'file.uploaded', suspect, acme, 'other-type'],
      ['6 minutes', 'tenant_access_denied', suspect, borneo, 'other-type-2'],
      // …the right types, but older than 24 hours…
      ['25 hours', 'cycle.read', suspect, acme, 'too-old'],
      ['3 days', 'cross_tenant_read', suspect, borneo, 'too-old-2'],
      // …and the right types by another actor.
      ['2 hours', 'cycle.read', someoneElse, borneo, 'other-actor'],
      ['2 hours', 'cross_tenant_read', someoneElse, null, 'other-actor-2'],
    ];
    for (const [age, type, actor, client, entityId] of events) {
      await owner.query(insert, [age, type, actor, client, 'cycle', entityId, JSON.stringify({ entityId })]);
    }

    const result = await owner.query(RUNBOOK_AUDIT_QUERY.replace('<staff_user_or_contact_id>', suspect));

    expect(result.fields.map((field) => field.name)).toEqual([
      'occurred_at',
      'event_type',
      'actor_id',
      'accessed_client',
      'entity_type',
      'entity_id',
      'event_data_json',
    ]);
    expect(result.rows.map((row) => [row.entity_id, row.event_type, row.accessed_client])).toEqual([
      ['match-10m', 'cycle.read', acme],
      ['match-1h', 'file.downloaded', borneo],
      ['match-3h', 'cross_tenant_read', borneo],
      ['match-23h', 'file.downloaded', cinnamon],
    ]);
    for (const row of result.rows) {
      expect(row.actor_id).toBe(suspect);
      expect(row.entity_type).toBe('cycle');
      expect(row.event_data_json).toEqual({ entityId: row.entity_id });
    }
    const times = result.rows.map((row) => (row.occurred_at as Date).getTime());
    expect(times).toEqual([...times].sort((a, b) => b - a));
  });
});
