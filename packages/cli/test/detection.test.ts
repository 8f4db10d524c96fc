import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliFixture, createCliFixture, openIncident, STAFF_ID } from './support.ts';

/*
 * The detection commands against a real PostgreSQL: the audit trail sealed, verified and
 * exported; one tenant frozen and thawed with a receipt; decoys planted that the firm never
 * sees; breadth alerts listed as suggested incidents.
 */
let f: CliFixture;
const ACME = '00000000-0000-4000-8000-00000000a001';
const BORNEO = '00000000-0000-4000-8000-00000000b001';

beforeAll(async () => {
  f = await createCliFixture('detection');
});
afterAll(async () => {
  await f?.close();
});

async function ok(argv: string[]) {
  const { code, io } = await f.run(argv);
  expect(code, `${argv.join(' ')}: ${io.stderr.join('\n')}`).toBe(0);
  return io;
}

describe('spade audit seal / verify / export-digests', () => {
  it('seals, verifies clean, and then names the edited row and a digest rewritten since the export (exit 1)', async () => {
    const sealed = (await ok(['audit', 'seal', '--json'])).json<{ sealed: { seq: number; rowCount: number } }>().sealed;
    expect(sealed.seq).toBe(1);
    expect(sealed.rowCount).toBeGreaterThan(0);
    expect((await ok(['audit', 'verify', '--json'])).json()).toMatchObject({ ok: true, digests: 1, problems: [] });
    const dir = await mkdtemp(path.join(tmpdir(), 'spade-digests-'));
    const file = path.join(dir, 'digests.jsonl');
    await ok(['audit', 'export-digests', '--out', file]);
    expect((await readFile(file, 'utf8')).trim().split('\n')).toHaveLength(1);
    expect((await f.run(['audit', 'export-digests', '--out', file])).code, 'never overwrites').toBe(2);

    const row = await f.sql.query<{ id: string }>('SELECT audit_event_id::text AS id FROM audit_digest_entries ORDER BY position LIMIT 1');
    await f.sql.query('BEGIN');
    try {
      await f.sql.query(`UPDATE audit_events SET event_type = 'tampered' WHERE id = $1`, [row.rows[0]!.id]);
      await f.sql.query(
        `UPDATE audit_digests SET sealed_by = 'forger', hash = spade_audit_digest_hash(seq, prev_hash, sealed_at, 'forger', first_position, last_position, row_count, entries_sha256)`,
      );
      // The CLI has its own connection, so the forgery is committed (no later test here verifies).
      await f.sql.query('COMMIT');
      const edited = await f.run(['audit', 'verify', '--against', file]);
      expect(edited.code).toBe(1);
      expect(edited.io.text()).toContain(`first problem: digest_rewritten`);
      const json = await f.run(['audit', 'verify', '--json']);
      expect(json.io.json<{ problems: { kind: string; auditEventId: string }[] }>().problems).toContainEqual(
        expect.objectContaining({ kind: 'row_edited', auditEventId: row.rows[0]!.id }),
      );
    } catch (error) {
      await f.sql.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  });
});

describe('spade tenants freeze / thaw', () => {
  it("freezes one client with a receipt (sessions revoked, links expired) and leaves the others' links alone; thaw lifts it", async () => {
    const incidentId = await openIncident(f);
    const openLinks = async (clientId: string) =>
      (
        await f.sql.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM cycle_requests WHERE client_id = $1 AND status = 'open' AND expires_at > now()`,
          [clientId],
        )
      ).rows[0]!.n;
    const borneoBefore = await openLinks(BORNEO);
    expect(await openLinks(ACME)).toBeGreaterThan(0);
    const dry = (await ok(['tenants', 'freeze', ACME, '--incident', incidentId, '--dry-run', '--json'])).json();
    expect(dry).toMatchObject({ dryRun: true, frozen: 0 });
    expect((await f.run(['tenants', 'freeze', ACME, '--incident', incidentId])).code, 'needs --yes without a terminal').toBe(2);
    const frozen = (await ok(['tenants', 'freeze', ACME, '--incident', incidentId, '--yes', '--json'])).json();
    expect(frozen).toMatchObject({ frozen: 1, linksExpired: expect.any(Number), sessionsRevoked: expect.any(Number) });
    expect(frozen.linksExpired as number).toBeGreaterThan(0);
    expect(await openLinks(ACME)).toBe(0);
    expect(await openLinks(BORNEO)).toBe(borneoBefore);
    const again = (await ok(['tenants', 'freeze', ACME, '--incident', incidentId, '--yes', '--json'])).json();
    expect(again).toMatchObject({ frozen: 0, linksExpired: 0 });
    expect((await ok(['tenants', 'frozen', '--json'])).json<{ clientId: string }[]>().map((r) => r.clientId)).toEqual([ACME]);

    const thawed = (await ok(['tenants', 'thaw', ACME, '--incident', incidentId, '--yes', '--json'])).json();
    expect(thawed).toMatchObject({ thawed: 1 });
    expect((await ok(['tenants', 'frozen', '--json'])).json()).toEqual([]);
    const timeline = (await ok(['incident', 'timeline', incidentId, '--json'])).json<{ timeline: { kind: string; data: object }[] }>();
    const kinds = timeline.timeline.map((t) => t.kind);
    expect(kinds).toEqual(expect.arrayContaining(['containment.tenant_frozen', 'containment.tenant_thawed']));
    expect(timeline.timeline.find((t) => t.kind === 'containment.tenant_frozen')?.data).toMatchObject({ frozen: 1 });
    expect((await f.run(['tenants', 'freeze', '00000000-0000-4000-8000-0000000000ff', '--yes'])).code).toBe(3);
  });
});

describe('spade decoys plant', () => {
  it('plants plausible decoy clients with every kind of row, flagged, assigned to no staff and recorded without their ids', async () => {
    const planted = (await ok(['decoys', 'plant', '--count', '2', '--json'])).json<{ planted: { clientId: string; name: string }[] }>()
      .planted;
    expect(planted).toHaveLength(2);
    for (const decoy of planted) {
      expect(decoy.name).toMatch(/ Pte Ltd$/);
      const counts = await f.sql.query(
        `SELECT (SELECT is_decoy FROM clients WHERE id = $1) AS flagged,
                (SELECT count(*)::int FROM contacts WHERE client_id = $1) AS contacts,
                (SELECT count(*)::int FROM cycles WHERE client_id = $1) AS cycles,
                (SELECT count(*)::int FROM cycle_requests WHERE client_id = $1) AS requests,
                (SELECT count(*)::int FROM request_items WHERE client_id = $1) AS items,
                (SELECT count(*)::int FROM files WHERE client_id = $1) AS files,
                (SELECT count(*)::int FROM staff_client_assignments WHERE client_id = $1) AS assigned,
                (SELECT count(*)::int FROM audit_events WHERE client_id = $1) AS audited,
                (SELECT count(*)::int FROM decoy_entities WHERE decoy_client_id = $1) AS armed`,
        [decoy.clientId],
      );
      expect(counts.rows[0]).toMatchObject({
        flagged: true,
        contacts: 2,
        cycles: 2,
        requests: 2,
        items: 6,
        files: 2,
        assigned: 0,
        audited: 0,
      });
      expect(counts.rows[0].armed).toBe(1 + 2 + 2 + 2 + 6 + 2);
    }
    const recorded = await f.sql.query(`SELECT event_data_json FROM audit_events WHERE event_type = 'decoys.planted'`);
    expect(JSON.stringify(recorded.rows)).not.toContain(planted[0]!.clientId);
    expect((await ok(['decoys', 'list', '--json'])).json<unknown[]>()).toHaveLength(2);
  });
});

describe('spade incident list', () => {
  it('shows a breadth alert as a suggested incident', async () => {
    await f.sql.query(
      `SELECT * FROM spade_raise_alert('breadth.staff_clients', 'req-breadth-1', 'staff', $1, '10.0.0.7', 'GET /api/clients/:clientId',
        NULL, 'api.breadth', '{"distinctClients": 31, "windowMinutes": 10, "baseline": 2}'::jsonb)`,
      [STAFF_ID],
    );
    const list = (await ok(['incident', 'list', '--json'])).json<{ status: string; kind?: string; title: string }[]>();
    expect(list).toContainEqual(expect.objectContaining({ status: 'suggested', kind: 'breadth.staff_clients' }));
    expect((await ok(['incident', 'list'])).text()).toContain(`touched 31 clients in 10 min`);
  });
});
