import { hashToken } from '@breezycorp/db';
import { RUNBOOK_SQL } from '@breezycorp/db/runbook-sql';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_ID, type CliFixture, createCliFixture, openIncident, STAFF_ID } from './support.ts';

/*
 * The runbook's containment statements, verbatim (docs/spec/suspected-tenant-leak.runbook.md).
 * The commands must do exactly what these do, report the count, and be safe to repeat.
 */
let f: CliFixture;
let incidentId: string;

beforeAll(async () => {
  f = await createCliFixture('containment');
  incidentId = await openIncident(f);
});
afterAll(async () => {
  await f?.close();
});

let sessionCounter = 0;
/** Three active sessions (two users) and one logged out earlier. */
async function plantSessions(): Promise<void> {
  await f.sql.query('DELETE FROM staff_sessions');
  const insert = `INSERT INTO staff_sessions (staff_user_id, token_hash, expires_at, revoked_at, revoked_reason)
                  VALUES ($1, $2, now() + interval '1 day', $3, $4)`;
  for (const [user, revokedAt, reason] of [
    [ADMIN_ID, null, null],
    [ADMIN_ID, null, null],
    [STAFF_ID, null, null],
    [STAFF_ID, '2026-01-02T03:04:05.123456Z', 'logout'],
  ] as const) {
    sessionCounter += 1;
    await f.sql.query(insert, [user, hashToken(`session-${sessionCounter}`), revokedAt, reason]);
  }
}

/** The sessions as (user, revoked?, reason), plus the untouched logout's exact time. */
async function sessionState() {
  const rows = await f.sql.query<{ staff_user_id: string; revoked: boolean; revoked_reason: string | null; revoked_at: string | null }>(
    `SELECT staff_user_id, revoked_at IS NOT NULL AS revoked, revoked_reason, revoked_at::text
     FROM staff_sessions ORDER BY staff_user_id, revoked_reason NULLS FIRST, token_hash`,
  );
  return rows.rows.map((r) => ({ ...r, revoked_at: r.revoked_reason === 'logout' ? r.revoked_at : r.revoked }));
}

async function auditCount(eventType: string): Promise<number> {
  const rows = await f.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_events WHERE event_type = $1', [eventType]);
  return rows.rows[0]!.n;
}

describe('spade sessions revoke', () => {
  beforeEach(plantSessions);

  it('has the same effect as the runbook SQL and reports how many sessions it revoked', async () => {
    // What the runbook's statement does, observed in a transaction that is rolled back.
    await f.sql.query('BEGIN');
    const runbook = await f.sql.query(RUNBOOK_SQL.revokeStaffSessions);
    const expected = await sessionState();
    await f.sql.query('ROLLBACK');
    expect(runbook.rowCount).toBe(3);

    const before = await auditCount('sessions.revoked');
    const { code, io } = await f.run(['sessions', 'revoke', '--all-staff', '--yes', '--incident', incidentId, '--json']);
    expect(code, io.stderr.join('\n')).toBe(0);
    expect(io.json()).toMatchObject({ revoked: 3, dryRun: false });
    expect(await sessionState()).toEqual(expected);

    // Recorded: one operator audit event (firm-wide) and a timeline entry.
    expect(await auditCount('sessions.revoked')).toBe(before + 1);
    const event = await f.sql.query(
      "SELECT actor_type, actor_id, client_id, event_data_json FROM audit_events WHERE event_type = 'sessions.revoked' ORDER BY occurred_at DESC LIMIT 1",
    );
    expect(event.rows[0]).toMatchObject({
      actor_type: 'operator',
      actor_id: null,
      client_id: null,
      event_data_json: { operator: 'oncall-test', incidentId, changed: 3, reason: 'tenant_leak_investigation' },
    });
    const timeline = await f.sql.query(
      "SELECT message FROM incident_timeline_entries WHERE incident_id = $1 AND kind = 'containment.sessions_revoked'",
      [incidentId],
    );
    expect(timeline.rows.at(-1)?.message).toMatch(/Revoked 3 active staff session/);
  });

  it('is idempotent: a second run revokes 0 and leaves the first revocation times alone', async () => {
    expect((await f.run(['sessions', 'revoke', '--all-staff', '--yes'])).code).toBe(0);
    const first = await f.sql.query('SELECT revoked_at::text FROM staff_sessions ORDER BY token_hash');
    const again = await f.run(['sessions', 'revoke', '--all-staff', '--yes', '--json']);
    expect(again.code).toBe(0);
    expect(again.io.json()).toMatchObject({ revoked: 0 });
    expect((await f.sql.query('SELECT revoked_at::text FROM staff_sessions ORDER BY token_hash')).rows).toEqual(first.rows);
  });

  it('--dry-run prints the count and changes nothing, records nothing', async () => {
    const before = await sessionState();
    const audits = await auditCount('sessions.revoked');
    const { code, io } = await f.run(['sessions', 'revoke', '--all-staff', '--dry-run']);
    expect(code).toBe(0);
    expect(io.text()).toContain('would revoke 3 active staff session(s) of 2 user(s)');
    expect(await sessionState()).toEqual(before);
    expect(await auditCount('sessions.revoked')).toBe(audits);
  });

  it('without --yes and without a terminal refuses with exit 2 and changes nothing', async () => {
    const before = await sessionState();
    const { code, io } = await f.run(['sessions', 'revoke', '--all-staff']);
    expect(code).toBe(2);
    expect(io.stderr.join('\n')).toMatch(/not interactive.*--yes/);
    expect(await sessionState()).toEqual(before);
  });

  it('in CI refuses without --yes even when a prompt is available', async () => {
    const before = await sessionState();
    const { code } = await f.run(['sessions', 'revoke', '--all-staff'], { CI: 'true' });
    expect(code).toBe(2);
    expect(await sessionState()).toEqual(before);
  });

  it('asks at a terminal, and a "no" changes nothing', async () => {
    const { captureIo } = await import('./support.ts');
    const { runCli } = await import('../src/program.ts');
    const questions: string[] = [];
    const io = captureIo(f.env, async (q) => {
      questions.push(q);
      return 'n';
    });
    const before = await sessionState();
    expect(await runCli(['sessions', 'revoke', '--all-staff'], io)).toBe(1);
    expect(questions[0]).toMatch(/revoke 3 active staff session\(s\).*Proceed\? \[y\/N\]/);
    expect(await sessionState()).toEqual(before);
    const yes = captureIo(f.env, async () => 'y');
    expect(await runCli(['sessions', 'revoke', '--all-staff', '--json'], yes)).toBe(0);
    expect(yes.json()).toMatchObject({ revoked: 3 });
  });

  it('--staff <email> revokes only that user’s active sessions, with the given reason', async () => {
    const { code, io } = await f.run([
      'sessions',
      'revoke',
      '--staff',
      'STAFF@spade.test',
      '--reason',
      'suspect_account',
      '--yes',
      '--json',
    ]);
    expect(code, io.stderr.join('\n')).toBe(0);
    expect(io.json()).toMatchObject({ revoked: 1 });
    const rows = await f.sql.query<{ staff_user_id: string; revoked_reason: string | null }>(
      'SELECT staff_user_id, revoked_reason FROM staff_sessions ORDER BY staff_user_id, revoked_reason',
    );
    const sorted = rows.rows.sort((a, b) => `${a.staff_user_id}${a.revoked_reason}`.localeCompare(`${b.staff_user_id}${b.revoked_reason}`));
    expect(sorted).toEqual([
      { staff_user_id: STAFF_ID, revoked_reason: 'logout' },
      { staff_user_id: STAFF_ID, revoked_reason: 'suspect_account' },
      { staff_user_id: ADMIN_ID, revoked_reason: null },
      { staff_user_id: ADMIN_ID, revoked_reason: null },
    ]);
  });

  it('an unknown staff user or incident exits 3; no target at all exits 2', async () => {
    expect((await f.run(['sessions', 'revoke', '--staff', 'nobody@spade.test', '--yes'])).code).toBe(3);
    expect((await f.run(['sessions', 'revoke', '--staff', '10000000-0000-4000-8000-000000000999', '--yes'])).code).toBe(3);
    expect((await f.run(['sessions', 'revoke', '--all-staff', '--yes', '--incident', '10000000-0000-4000-8000-000000000999'])).code).toBe(
      3,
    );
    expect((await f.run(['sessions', 'revoke', '--yes'])).code).toBe(2);
    expect((await f.run(['sessions', 'revoke', '--all-staff', '--staff', 'x@y.z', '--yes'])).code).toBe(2);
    // Nothing was revoked by any of them.
    expect((await sessionState()).filter((s) => s.revoked_reason === 'tenant_leak_investigation')).toEqual([]);
  });
});

describe('spade requests expire', () => {
  it('has the same effect as the runbook SQL on exactly that request, records it against its client, and reports 1', async () => {
    const suspect = f.seed.magicLinks.find((l) => l.clientName.startsWith('Borneo'))!;
    const snapshot = async () =>
      new Map(
        (
          await f.sql.query<{ id: string; expires_at: string; expired: boolean }>(
            'SELECT id, expires_at::text, expires_at <= now() AS expired FROM cycle_requests',
          )
        ).rows.map((r) => [r.id, r]),
      );
    await f.sql.query('BEGIN');
    const runbook = await f.sql.query(RUNBOOK_SQL.expireRequest.replace('<suspected-request-id>', suspect.requestId));
    const expected = await snapshot();
    await f.sql.query('ROLLBACK');
    expect(runbook.rowCount).toBe(1);
    const before = await snapshot();

    const { code, io } = await f.run(['requests', 'expire', suspect.requestId, '--yes', '--incident', incidentId, '--json']);
    expect(code, io.stderr.join('\n')).toBe(0);
    expect(io.json()).toMatchObject({ expired: 1, requestId: suspect.requestId });
    const after = await snapshot();
    for (const [id, row] of after) {
      expect(row.expired, id).toBe(expected.get(id)!.expired);
      if (id !== suspect.requestId) expect(row).toEqual(before.get(id));
    }
    // The link no longer resolves; the API's next request with it fails.
    expect((await f.sql.query('SELECT * FROM spade_resolve_magic_link($1)', [hashToken(suspect.token)])).rowCount).toBe(0);
    // Recorded against the request's own client (a client-specific action).
    const event = await f.sql.query("SELECT client_id, entity_id, actor_type FROM audit_events WHERE event_type = 'request.expired'");
    const client = await f.sql.query('SELECT client_id FROM cycle_requests WHERE id = $1', [suspect.requestId]);
    expect(event.rows).toEqual([{ client_id: client.rows[0].client_id, entity_id: suspect.requestId, actor_type: 'operator' }]);
  });

  it('is idempotent: a second run expires 0 and keeps the first expiry', async () => {
    const suspect = f.seed.magicLinks.find((l) => l.clientName.startsWith('Cinnamon'))!;
    expect((await f.run(['requests', 'expire', suspect.requestId, '--yes'])).code).toBe(0);
    const first = await f.sql.query('SELECT expires_at::text FROM cycle_requests WHERE id = $1', [suspect.requestId]);
    const again = await f.run(['requests', 'expire', suspect.requestId, '--yes']);
    expect(again.code).toBe(0);
    expect(again.io.text()).toContain('expired 0 requests');
    expect((await f.sql.query('SELECT expires_at::text FROM cycle_requests WHERE id = $1', [suspect.requestId])).rows).toEqual(first.rows);
  });

  it('--dry-run and a missing --yes change nothing', async () => {
    const suspect = f.seed.magicLinks.find((l) => l.clientName.startsWith('Acme'))!;
    const before = await f.sql.query('SELECT expires_at::text FROM cycle_requests WHERE id = $1', [suspect.requestId]);
    const dry = await f.run(['requests', 'expire', suspect.requestId, '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.io.text()).toContain('would expire 1 request(s)');
    const refused = await f.run(['requests', 'expire', suspect.requestId]);
    expect(refused.code).toBe(2);
    expect((await f.sql.query('SELECT expires_at::text FROM cycle_requests WHERE id = $1', [suspect.requestId])).rows).toEqual(before.rows);
  });

  it('an unknown request exits 3; a malformed id exits 2', async () => {
    expect((await f.run(['requests', 'expire', '10000000-0000-4000-8000-000000000999', '--yes'])).code).toBe(3);
    expect((await f.run(['requests', 'expire', 'not-a-uuid', '--yes'])).code).toBe(2);
  });

  it('a database that is down exits 4', async () => {
    const { code, io } = await f.run(['requests', 'expire', '10000000-0000-4000-8000-000000000999', '--yes'], {
      DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere',
    });
    expect(code).toBe(4);
    expect(io.stderr.join('\n')).toMatch(/Cannot reach the database/);
  });
});
