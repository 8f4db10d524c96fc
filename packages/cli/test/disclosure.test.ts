import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { placeholders, renderTemplate } from '../src/templates.ts';
import { type CliFixture, createCliFixture, STAFF_ID } from './support.ts';

const BORNEO = '00000000-0000-4000-8000-00000000b001';
const ACME = '00000000-0000-4000-8000-00000000a001';

let f: CliFixture;
let incidentId: string;

beforeAll(async () => {
  f = await createCliFixture('disclosure');
  // The leak: the staff member (serves Acme only) read a Borneo cycle and downloaded its file.
  const insert = `INSERT INTO audit_events (occurred_at, event_type, actor_type, actor_id, client_id, entity_type, entity_id, request_id)
                  VALUES (now() - $1::interval, $2, 'staff', $3, $4, $5, $6, 'req-leak-0001')`;
  await f.sql.query(insert, ['2 hours', 'cycle.read', STAFF_ID, BORNEO, 'cycle', 'b-cycle']);
  await f.sql.query(insert, ['2 hours', 'file.downloaded', STAFF_ID, BORNEO, 'file', 'b-file']);
  await f.sql.query(insert, ['3 hours', 'cycle.read', STAFF_ID, ACME, 'cycle', 'a-cycle']);
  await f.sql.query("INSERT INTO staff_sessions (staff_user_id, token_hash, expires_at) VALUES ($1, 'h', now() + interval '1 day')", [
    STAFF_ID,
  ]);

  const opened = await f.run([
    'incident',
    'open',
    '--title',
    'Acme staff saw Borneo bank statement',
    '--reporter',
    'Bala Kumar (Borneo)',
    '--actor',
    STAFF_ID,
    '--at',
    '2026-12-28T09:00',
    '--json',
  ]);
  incidentId = opened.io.json<{ incidentId: string }>().incidentId;
  await f.run(['sessions', 'revoke', '--all-staff', '--incident', incidentId, '--yes']);
  await f.run(['routes', 'offline', 'GET /api/clients/:clientId/cycles/:cycleId', '--reason', 'leak', '--incident', incidentId, '--yes']);
  await f.run([
    'incident',
    'notifiable',
    incidentId,
    '--at',
    '2026-12-30T15:00',
    '--basis',
    'bank statement with names and account numbers',
  ]);
});
afterAll(async () => {
  await f?.close();
});

describe('spade disclosure draft', () => {
  it("names the affected client (not the actor's own), fills every field the PDPC expects, and states the deadlines", async () => {
    const { code, io } = await f.run([
      'disclosure',
      'draft',
      '--incident',
      incidentId,
      '--firm',
      'Example Accounting LLP',
      '--representative',
      'Jane Lim, DPO, dpo@example.sg',
      '--json',
    ]);
    expect(code, io.stderr.join('\n')).toBe(0);
    const result = io.json<{
      letters: { clientId: string; clientName: string; path: string }[];
      pdpc: string;
      reviewed: { clientId: string }[];
    }>();
    expect(result.letters.map((l) => [l.clientId, l.clientName])).toEqual([[BORNEO, 'Borneo Logistics Pte Ltd']]);
    expect(result.reviewed.map((c) => c.clientId)).toEqual([ACME]);
    expect(path.dirname(result.pdpc)).toBe(path.join(f.dataDir, 'incidents', incidentId));

    const letter = await readFile(result.letters[0]!.path, 'utf8');
    expect(letter).toContain('# Notice of a data security incident — Borneo Logistics Pte Ltd');
    expect(letter).toContain('UEN 201812345B');
    expect(letter).toContain('Bala Kumar <bala@borneo.example>');
    expect(letter).toMatch(/\| cycle \| 1 \| 1 \|\n\| file \| 1 \| 1 \|/);
    expect(letter).toContain('by 2027-01-02 23:59 SGT');
    expect(letter).toContain('Revoked 1 active staff session(s)');
    expect(letter).toContain('Jane Lim, DPO, dpo@example.sg');
    expect(letter).not.toContain('Acme Trading');
    expect(letter).not.toMatch(/\{\{|<!--/);

    const pdpc = await readFile(result.pdpc, 'utf8');
    // Every field of the PDPA notes.
    for (const heading of [
      'When and how the organisation became aware',
      'How the breach occurred',
      'Number of affected individuals and classes of personal data',
      'Potential harm to affected individuals',
      'Chronological account of the steps taken',
      'Plans to notify affected individuals, or the grounds for not notifying them',
      'Authorised representative',
    ]) {
      expect(pdpc, heading).toContain(heading);
    }
    expect(pdpc).toContain('Borneo Logistics Pte Ltd (UEN 201812345B): cycle 1, file 1 record(s) accessed');
    expect(pdpc).toMatch(/\| Assessment deadline \(30 calendar days from credible grounds\) +\| 2027-01-27 23:59 SGT/);
    expect(pdpc).toMatch(/\| PDPC notification deadline \(3 calendar days after the determination day\) +\| 2027-01-02 23:59 SGT/);
    expect(pdpc).toContain('notifiable, determined 2026-12-30 15:00 SGT — bank statement with names and account numbers');
    expect(pdpc).toContain('`GET /api/clients/:clientId/cycles/:cycleId`');
    expect(pdpc).toContain('Jane Lim, DPO, dpo@example.sg');
    expect(pdpc).not.toMatch(/\{\{/);

    const recorded = await f.sql.query(
      "SELECT message FROM incident_timeline_entries WHERE incident_id = $1 AND kind = 'disclosure.drafted'",
      [incidentId],
    );
    expect(recorded.rows[0].message).toContain('Borneo Logistics Pte Ltd');
  });

  it('never overwrites an earlier draft (people edit them)', async () => {
    const first = await f.run(['disclosure', 'draft', '--incident', incidentId, '--json']);
    const second = await f.run(['disclosure', 'draft', '--incident', incidentId, '--json']);
    expect(first.io.json<{ pdpc: string }>().pdpc).not.toBe(second.io.json<{ pdpc: string }>().pdpc);
  });

  it('refuses an incident without suspect actors (exit 1) and an unknown incident (exit 3)', async () => {
    const bare = (await f.run(['incident', 'open', '--title', 't', '--reporter', 'r', '--json'])).io.json<{ incidentId: string }>()
      .incidentId;
    const { code, io } = await f.run(['disclosure', 'draft', '--incident', bare]);
    expect(code).toBe(1);
    expect(io.stderr.join('\n')).toMatch(/add-actor/);
    expect((await f.run(['disclosure', 'draft', '--incident', '10000000-0000-4000-8000-000000000999'])).code).toBe(3);
  });
});

describe('spade postmortem new', () => {
  it('fills the blameless post-mortem from the timeline, with the 72-hour due date', async () => {
    await f.run(['incident', 'resolve', incidentId, '--at', '2026-12-31T10:00', '--summary', 'patched']);
    const { code, io } = await f.run(['postmortem', 'new', '--incident', incidentId, '--json']);
    expect(code, io.stderr.join('\n')).toBe(0);
    const text = await readFile(io.json<{ path: string }>().path, 'utf8');
    expect(text).toContain('# Post-mortem: Acme staff saw Borneo bank statement');
    expect(text).toMatch(/\| Post-mortem due \(72 h after resolution\) +\| 2027-01-03 10:00 SGT/);
    expect(text).toMatch(/\| Time from opening to containment +\| (\d+ min )?\d+ s/);
    expect(text).toContain('Revoked 1 active staff session(s)');
    expect(text).toContain('Took GET /api/clients/:clientId/cycles/:cycleId offline');
    expect(text).toContain('Borneo Logistics Pte Ltd (UEN 201812345B)');
    expect(text).toContain('Contributing factors');
    expect(text).not.toMatch(/\{\{|<!--/);
  });
});

describe('templates', () => {
  it('a placeholder without a value is an error, never a blank', () => {
    expect(() => renderTemplate('Dear {{client_name}}, {{missing_one}}', { client_name: 'Acme' })).toThrow(/missing_one/);
    expect(renderTemplate('<!-- note {{ignored}} -->\nDear {{client_name}}', { client_name: 'Acme' })).toBe('Dear Acme');
  });

  it('the repository templates use only the placeholders the commands fill', async () => {
    const dir = path.resolve(import.meta.dirname, '../../../docs/templates');
    const strip = (t: string) => t.replace(/^\s*<!--[\s\S]*?-->\s*/, '');
    expect(placeholders(strip(await readFile(path.join(dir, 'post-mortem.md'), 'utf8')))).toContain('timeline');
    expect(placeholders(strip(await readFile(path.join(dir, 'tenant-leak-disclosure.md'), 'utf8')))).toContain('client_name');
    expect(placeholders(strip(await readFile(path.join(dir, 'pdpc-notification.md'), 'utf8')))).toContain('pdpc_deadline');
  });
});
