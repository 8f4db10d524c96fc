import { RUNBOOK_SQL } from '@breezycorp/db/runbook-sql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_ID, type CliFixture, createCliFixture, openIncident, STAFF_ID } from './support.ts';

const ACME = '00000000-0000-4000-8000-00000000a001';
const BORNEO = '00000000-0000-4000-8000-00000000b001';
const CINNAMON = '00000000-0000-4000-8000-00000000c001';
const ACME_CONTACT = '00000000-0000-4000-8000-00000000a002';

let f: CliFixture;
beforeAll(async () => {
  f = await createCliFixture('audit');
  const insert = `INSERT INTO audit_events (occurred_at, event_type, actor_type, actor_id, client_id, entity_type, entity_id, event_data_json)
                  VALUES (now() - $1::interval, $2, $3, $4, $5, $6, $7, $8)`;
  // The demo staff member serves Acme only.
  const rows: [string, string, string, string, string | null, string, string][] = [
    ['3 hours', 'cross_tenant_read', 'staff', STAFF_ID, BORNEO, 'cycle', 'b-cycle-1'],
    ['10 minutes', 'cycle.read', 'staff', STAFF_ID, ACME, 'cycle', 'a-cycle-1'],
    ['23 hours', 'file.downloaded', 'staff', STAFF_ID, CINNAMON, 'file', 'c-file-1'],
    ['1 hour', 'file.downloaded', 'staff', STAFF_ID, BORNEO, 'file', 'b-file-1'],
    ['50 minutes', 'file.downloaded', 'staff', STAFF_ID, BORNEO, 'file', 'b-file-1'],
    ['5 minutes', 'file.uploaded', 'staff', STAFF_ID, ACME, 'file', 'a-file-2'],
    ['6 minutes', 'tenant_access_denied', 'staff', STAFF_ID, CINNAMON, 'cycle', 'c-cycle-9'],
    ['25 hours', 'cycle.read', 'staff', STAFF_ID, BORNEO, 'cycle', 'too-old'],
    ['2 hours', 'cycle.read', 'staff', ADMIN_ID, BORNEO, 'cycle', 'other-actor'],
    ['30 minutes', 'cycle.read', 'contact', ACME_CONTACT, BORNEO, 'cycle', 'b-cycle-2'],
    ['31 minutes', 'cycle.read', 'contact', ACME_CONTACT, ACME, 'cycle', 'a-cycle-1'],
  ];
  for (const [age, type, actorType, actor, client, entityType, entityId] of rows) {
    await f.sql.query(insert, [age, type, actorType, actor, client, entityType, entityId, JSON.stringify({ entityId })]);
  }
});
afterAll(async () => {
  await f?.close();
});

describe('spade audit actor', () => {
  it("returns exactly the runbook query's rows, in its order", async () => {
    const runbook = await f.sql.query(RUNBOOK_SQL.auditActor.replace('<staff_user_or_contact_id>', STAFF_ID));
    const { code, io } = await f.run(['audit', 'actor', STAFF_ID, '--since', '24h', '--format', 'json']);
    expect(code, io.stderr.join('\n')).toBe(0);
    const events = io.json<{ events: Record<string, unknown>[] }>().events;
    expect(events).toEqual(runbook.rows.map((row) => ({ ...row, occurred_at: (row.occurred_at as Date).toISOString() })));
    expect(events.map((e) => e.entity_id)).toEqual(['a-cycle-1', 'b-file-1', 'b-file-1', 'b-cycle-1', 'c-file-1']);
  });

  it('--types and --since narrow it; --all-types widens it', async () => {
    const narrow = await f.run(['audit', 'actor', STAFF_ID, '--since', '2h', '--types', 'file.downloaded', '--json']);
    expect(narrow.io.json<{ events: { entity_id: string }[] }>().events.map((e) => e.entity_id)).toEqual(['b-file-1', 'b-file-1']);
    const all = await f.run(['audit', 'actor', STAFF_ID, '--since', '2h', '--all-types', '--json']);
    expect(all.io.json<{ events: { event_type: string }[] }>().events.map((e) => e.event_type)).toEqual([
      'file.uploaded',
      'tenant_access_denied',
      'cycle.read',
      'file.downloaded',
      'file.downloaded',
    ]);
  });

  it('prints CSV with a header and quoted JSON, and a readable table', async () => {
    const csv = await f.run(['audit', 'actor', STAFF_ID, '--format', 'csv']);
    const lines = csv.io.text().split('\r\n');
    expect(lines[0]).toBe('occurred_at,event_type,actor_id,accessed_client,entity_type,entity_id,event_data_json');
    expect(lines).toHaveLength(6);
    expect(lines[2]).toContain(`,file.downloaded,${STAFF_ID},${BORNEO},file,b-file-1,"{""entityId"":""b-file-1""}"`);
    const table = await f.run(['audit', 'actor', STAFF_ID]);
    expect(table.io.text()).toContain('staff Sam Staff <staff@spade.test> (staff): 5 event(s) in the last 24h');
  });

  it('a malformed duration exits 2; an unknown actor exits 3; a malformed id exits 2', async () => {
    for (const since of ['24', '1w', 'yesterday', '1.5h']) {
      const { code, io } = await f.run(['audit', 'actor', STAFF_ID, '--since', since]);
      expect(code, since).toBe(2);
      expect(io.stderr.join('\n')).toMatch(/not a duration/);
    }
    expect((await f.run(['audit', 'actor', '10000000-0000-4000-8000-000000000999'])).code).toBe(3);
    expect((await f.run(['audit', 'actor', 'bob'])).code).toBe(2);
    expect((await f.run(['audit', 'actor', STAFF_ID, '--types', "cycle.read'"])).code).toBe(2);
  });
});

describe('spade audit affected', () => {
  it('lists the clients the staff member touched outside their assignments, with counts per entity type', async () => {
    const { code, io } = await f.run(['audit', 'affected', '--actor', STAFF_ID, '--since', '24h', '--json']);
    expect(code, io.stderr.join('\n')).toBe(0);
    const clients = io.json<{
      clients: { clientId: string; clientName: string; affected: boolean; byEntityType: Record<string, unknown> }[];
    }>().clients;
    const byId = new Map(clients.map((c) => [c.clientId, c]));
    expect(byId.get(BORNEO)).toMatchObject({
      clientName: 'Borneo Logistics Pte Ltd',
      affected: true,
      byEntityType: { cycle: { events: 1, records: 1 }, file: { events: 2, records: 1 } },
    });
    expect(byId.get(CINNAMON)).toMatchObject({ affected: true, byEntityType: { file: { events: 1, records: 1 } } });
    // Acme is the staff member's own client; the denied Cinnamon cycle read is not an access.
    expect(byId.get(ACME)).toMatchObject({ affected: false, byEntityType: { cycle: { events: 1 }, file: { events: 1 } } });
    expect(byId.get(CINNAMON)!.byEntityType).not.toHaveProperty('cycle');
    expect(clients.map((c) => c.affected)).toEqual([true, true, false]);
  });

  it("treats a contact's own client as entitled and every other as affected", async () => {
    const { io } = await f.run(['audit', 'affected', '--actor', ACME_CONTACT, '--since', '24h', '--json']);
    const clients = io.json<{ clients: { clientId: string; affected: boolean }[] }>().clients;
    expect(clients).toEqual([
      expect.objectContaining({ clientId: BORNEO, affected: true }),
      expect.objectContaining({ clientId: ACME, affected: false }),
    ]);
  });

  it('records the finding on the incident timeline when --incident is given', async () => {
    const incidentId = await openIncident(f);
    expect((await f.run(['audit', 'affected', '--actor', STAFF_ID, '--incident', incidentId])).code).toBe(0);
    const entries = await f.sql.query(
      "SELECT message FROM incident_timeline_entries WHERE incident_id = $1 AND kind = 'investigation.audit_affected'",
      [incidentId],
    );
    expect(entries.rows[0].message).toMatch(/Borneo Logistics Pte Ltd, Cinnamon Cafe LLP/);
  });

  it('needs an --actor (exit 2) that exists (exit 3)', async () => {
    expect((await f.run(['audit', 'affected', '--since', '24h'])).code).toBe(2);
    expect((await f.run(['audit', 'affected', '--actor', '10000000-0000-4000-8000-000000000999'])).code).toBe(3);
    expect((await f.run(['audit', 'affected', '--actor', STAFF_ID, '--since', '24hours'])).code).toBe(2);
  });
});
