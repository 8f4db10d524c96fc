import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorActions } from '../src/operator-action.ts';
import { buildProgram } from '../src/program.ts';
import { ADMIN_ID, type CliFixture, captureIo, createCliFixture, openIncident, STAFF_ID } from './support.ts';

/*
 * Every operator action runs through one skeleton (src/operator-action.ts) and records both
 * an audit event and, on its incident, a timeline row. The actions are enumerated from the
 * skeleton's registry: a new action without a case here fails the first test.
 */
const ACME = '00000000-0000-4000-8000-00000000a001';
const ROUTE = 'GET /api/clients/:clientId/registry/:id';
const REQUEST_ID = 'req-operator-actions-1';

interface Case {
  /** What this case runs, for the test's name. */
  label: string;
  /** The command line, given an incident of its own (opened with a suspect actor). */
  argv: (incidentId: string) => string[] | Promise<string[]>;
  /** For `incident open`: the incident the run opened. */
  opened?: (json: Record<string, unknown>) => string;
  /** Audit events it writes besides its own. */
  alsoRecords?: string[];
}

let f: CliFixture;

async function raiseAlert(requestId: string): Promise<string> {
  const { rows } = await f.sql.query<{ alert_id: string }>(
    `SELECT alert_id FROM spade_raise_alert('breadth.denied_burst', $1, 'staff', $2, NULL, 'GET /api/clients/:clientId', NULL,
       'api.breadth', '{"denials": 12, "windowSeconds": 60}'::jsonb)`,
    [requestId, STAFF_ID],
  );
  return rows[0]!.alert_id;
}

const CASES: Record<string, Case[]> = {
  'incident open': [
    {
      label: 'with a suspect actor and evidence',
      argv: async () => {
        const evidence = path.join(f.dataDir, 'registry-evidence.txt');
        await writeFile(evidence, 'a screenshot\n');
        return ['incident', 'open', '--title', 't', '--reporter', 'r', '--actor', STAFF_ID, '--evidence', evidence, '--json'];
      },
      opened: (json) => json.incidentId as string,
      alsoRecords: ['incident.actor_added', 'evidence.added'],
    },
    {
      label: 'from a detector’s alert',
      argv: async () => [
        'incident',
        'open',
        '--from-alert',
        await raiseAlert('req-registry-open'),
        '--title',
        't',
        '--reporter',
        'r',
        '--json',
      ],
      opened: (json) => json.incidentId as string,
      alsoRecords: ['alert.escalated', 'incident.actor_added'],
    },
  ],
  'incident dismiss': [
    {
      label: 'a suggestion',
      argv: async (id) => ['incident', 'dismiss', await raiseAlert('req-registry-dismiss'), '--reason', 'drill', '--incident', id],
    },
  ],
  'incident note': [{ label: 'a note', argv: (id) => ['incident', 'note', id, 'Engineering lead joined'] }],
  'incident add-actor': [{ label: 'a second suspect', argv: (id) => ['incident', 'add-actor', id, ADMIN_ID] }],
  'incident notifiable': [{ label: 'the determination', argv: (id) => ['incident', 'notifiable', id, '--basis', 'bank statements'] }],
  'incident resolve': [{ label: 'resolution', argv: (id) => ['incident', 'resolve', id, '--summary', 'patched'] }],
  'evidence request': [{ label: 'a request’s audit events', argv: (id) => ['evidence', 'request', REQUEST_ID, '--incident', id] }],
  'sessions revoke': [{ label: 'all staff', argv: (id) => ['sessions', 'revoke', '--all-staff', '--yes', '--incident', id] }],
  'requests expire': [
    { label: 'one link', argv: (id) => ['requests', 'expire', f.seed.magicLinks[0]!.requestId, '--yes', '--incident', id] },
  ],
  'routes offline': [{ label: 'a route', argv: (id) => ['routes', 'offline', ROUTE, '--reason', 'drill', '--yes', '--incident', id] }],
  'routes online': [{ label: 'the route again', argv: (id) => ['routes', 'online', ROUTE, '--yes', '--incident', id] }],
  'tenants freeze': [{ label: 'Acme', argv: (id) => ['tenants', 'freeze', ACME, '--yes', '--incident', id] }],
  'tenants thaw': [{ label: 'Acme', argv: (id) => ['tenants', 'thaw', ACME, '--yes', '--incident', id] }],
  'decoys plant': [{ label: 'one decoy', argv: (id) => ['decoys', 'plant', '--incident', id] }],
  'audit actor': [{ label: 'the suspect', argv: (id) => ['audit', 'actor', STAFF_ID, '--incident', id] }],
  'audit affected': [{ label: 'the suspect', argv: (id) => ['audit', 'affected', '--actor', STAFF_ID, '--incident', id] }],
  'audit seal': [{ label: 'now', argv: (id) => ['audit', 'seal', '--incident', id] }],
  'audit verify': [{ label: 'the chain', argv: (id) => ['audit', 'verify', '--incident', id] }],
  'disclosure draft': [{ label: 'the letters', argv: (id) => ['disclosure', 'draft', '--incident', id] }],
  'postmortem new': [{ label: 'the post-mortem', argv: (id) => ['postmortem', 'new', '--incident', id] }],
};

beforeAll(async () => {
  f = await createCliFixture('actions');
  await f.sql.query(
    `INSERT INTO audit_events (event_type, actor_type, actor_id, client_id, entity_type, entity_id, request_id)
     VALUES ('cycle.read', 'staff', $1, '00000000-0000-4000-8000-00000000b001', 'cycle', 'b-cycle', $2)`,
    [STAFF_ID, REQUEST_ID],
  );
});
afterAll(async () => {
  await f?.close();
});

/** The incident's operator audit events (by type) and timeline rows (by kind), Slack outcomes apart. */
async function records(incidentId: string) {
  const audit = await f.sql.query<{ event_type: string; actor_type: string; operator: string }>(
    `SELECT event_type, actor_type, event_data_json->>'operator' AS operator FROM audit_events
      WHERE event_data_json->>'incidentId' = $1 ORDER BY occurred_at`,
    [incidentId],
  );
  const timeline = await f.sql.query<{ kind: string }>(
    `SELECT kind FROM incident_timeline_entries WHERE incident_id = $1 AND kind NOT LIKE 'slack\\_%' ORDER BY occurred_at`,
    [incidentId],
  );
  return { audit: audit.rows, kinds: timeline.rows.map((r) => r.kind) };
}

function commandAt(program: Command, words: string[]): Command | undefined {
  let command: Command | undefined = program;
  for (const word of words) command = command?.commands.find((c) => c.name() === word);
  return command;
}

describe('the operator-action registry', () => {
  it('has a case here for every action, and every action is a command of the program', () => {
    const names = operatorActions().map((a) => a.name);
    expect(names.length).toBeGreaterThan(15);
    expect(Object.keys(CASES).sort()).toEqual([...names].sort());
    const program = buildProgram(captureIo({}));
    for (const action of operatorActions()) {
      const command = commandAt(program, action.name.split(' '));
      expect(command, action.name).toBeDefined();
      const options = command!.options.map((o) => o.long);
      expect(options, action.name).toEqual(expect.arrayContaining(['--json', '--operator']));
      if (action.incident === 'option') expect(options, action.name).toContain('--incident');
      if (action.containment) expect(options, action.name).toEqual(expect.arrayContaining(['--dry-run', '--yes']));
    }
  });

  it('only the skeleton records, confirms, announces or opens a transaction (staff create-admin: its audit is packages/db’s)', async () => {
    const srcDir = path.resolve(import.meta.dirname, '../src');
    const files = (await readdir(srcDir, { recursive: true })).filter((file) => file.endsWith('.ts')).sort();
    const callers: string[] = [];
    for (const file of files) {
      const source = await readFile(path.join(srcDir, file), 'utf8');
      if (/\b(recordAction|recordSlackOutcome|confirmContainment|postToSlack)\(|\.\$transaction\(/.test(source)) {
        callers.push(file.split(path.sep).join('/'));
      }
    }
    expect(callers).toEqual(['commands/staff.ts', 'confirm.ts', 'operator-action.ts', 'record.ts', 'slack.ts']);
  });
});

describe('every operator action writes its audit event and its timeline row', () => {
  for (const action of operatorActions()) {
    for (const c of CASES[action.name] ?? []) {
      it(`${action.name} (${c.label})`, async () => {
        const own = c.opened ? null : await openIncident(f, ['--actor', STAFF_ID]);
        const before = own ? await records(own) : { audit: [], kinds: [] };
        const { code, io } = await f.run(await c.argv(own ?? ''));
        expect(code, io.stderr.join('\n')).toBe(0);
        const incidentId = own ?? c.opened!(io.json());
        const after = await records(incidentId);
        const audit = after.audit.slice(before.audit.length);
        const kinds = after.kinds.slice(before.kinds.length);

        expect(audit.map((a) => a.event_type)).toContain(action.eventType);
        expect(kinds).toContain(action.kind);
        for (const eventType of c.alsoRecords ?? []) expect(audit.map((a) => a.event_type)).toContain(eventType);
        // One timeline row per audit event: nothing recorded on only one side.
        expect(audit.length).toBeGreaterThan(0);
        expect(kinds).toHaveLength(audit.length);
        for (const row of audit) expect(row).toMatchObject({ actor_type: 'operator', operator: 'oncall-test' });
      });
    }
  }
});

describe('an investigation read without --incident', () => {
  for (const action of operatorActions().filter((a) => a.observation)) {
    it(`${action.name} records nothing`, async () => {
      const count = async () =>
        (await f.sql.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_events WHERE actor_type = 'operator'")).rows[0]!.n;
      const argv = await CASES[action.name]![0]!.argv('');
      const without = argv.filter((word, i) => word !== '--incident' && argv[i - 1] !== '--incident');
      const before = await count();
      const { code, io } = await f.run(without, { USER: undefined });
      expect(code, io.stderr.join('\n')).toBe(action.name === 'audit seal' ? 2 : 0);
      expect(await count()).toBe(before);
    });
  }
});
