import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CliFixture,
  createCliFixture,
  openIncident,
  type RecordingServer,
  STAFF_ID,
  startServer,
  startSlack,
  UNREACHABLE_URL,
} from './support.ts';

const sha256 = (content: Buffer | string) => createHash('sha256').update(content).digest('hex');

let f: CliFixture;
let slack: RecordingServer;
beforeAll(async () => {
  f = await createCliFixture('incident');
  slack = await startSlack();
});
afterAll(async () => {
  await slack?.close();
  await f?.close();
});

async function timeline(incidentId: string) {
  return (
    await f.sql.query<{ kind: string; message: string; data: Record<string, unknown> }>(
      'SELECT kind, message, data FROM incident_timeline_entries WHERE incident_id = $1 ORDER BY occurred_at',
      [incidentId],
    )
  ).rows;
}

describe('spade incident open', () => {
  it('prints the id and the dated channel, stores the evidence with its sha256, and posts to Slack', async () => {
    const evidence = path.join(f.dataDir, 'reporter-screenshot.txt');
    await writeFile(evidence, 'GET /api/clients/…/cycles/… returned Borneo Logistics data\n');
    const { code, io } = await f.run(
      [
        'incident',
        'open',
        '--title',
        'Acme saw a Borneo statement',
        '--reporter',
        'Alice Tan (Acme)',
        '--evidence',
        evidence,
        '--actor',
        STAFF_ID,
        '--json',
      ],
      { SLACK_WEBHOOK_URL: `${slack.url}/services/T000/B000/XXXX` },
    );
    expect(code, io.stderr.join('\n')).toBe(0);
    const result = io.json<{ incidentId: string; channel: string; evidence: { sha256: string; storedPath: string }[]; slack: string }>();
    expect(result.channel).toMatch(/^#incident-tenant-leak-\d{8}$/);
    expect(result.slack).toBe('posted');

    // The evidence is a copy under the incident's folder, byte for byte, with the recorded hash.
    const original = await readFile(evidence);
    expect(result.evidence).toHaveLength(1);
    expect(result.evidence[0]!.sha256).toBe(sha256(original));
    expect(result.evidence[0]!.storedPath).toBe(path.join(f.dataDir, 'evidence', result.incidentId, 'reporter-screenshot.txt'));
    expect(await readFile(result.evidence[0]!.storedPath)).toEqual(original);
    const rows = await f.sql.query('SELECT filename, sha256, size::int, stored_path FROM incident_evidence WHERE incident_id = $1', [
      result.incidentId,
    ]);
    expect(rows.rows).toEqual([
      { filename: 'reporter-screenshot.txt', sha256: sha256(original), size: original.length, stored_path: result.evidence[0]!.storedPath },
    ]);

    // Slack got the channel name and the incident id.
    const posted = JSON.parse(slack.requests.at(-1)!.body) as { text: string };
    expect(slack.requests.at(-1)!.url).toBe('/services/T000/B000/XXXX');
    expect(posted.text).toContain(result.channel);
    expect(posted.text).toContain(result.incidentId);
    expect(posted.text).toContain('Acme saw a Borneo statement');

    // Stored on the incident: the suspect actor, and a complete timeline.
    const incident = await f.sql.query('SELECT status, reporter, channel, actor_ids, opened_by FROM incidents WHERE id = $1', [
      result.incidentId,
    ]);
    expect(incident.rows[0]).toEqual({
      status: 'open',
      reporter: 'Alice Tan (Acme)',
      channel: result.channel,
      actor_ids: [STAFF_ID],
      opened_by: 'oncall-test',
    });
    expect((await timeline(result.incidentId)).map((t) => t.kind)).toEqual(['opened', 'actor_added', 'evidence.added', 'slack_posted']);
    const audit = await f.sql.query("SELECT actor_type, entity_id FROM audit_events WHERE event_type = 'incident.opened'");
    expect(audit.rows).toContainEqual({ actor_type: 'operator', entity_id: result.incidentId });
  });

  it('when Slack is unreachable, records slack_failed on the timeline and carries on', async () => {
    const { code, io } = await f.run(['incident', 'open', '--title', 'Slack is down', '--reporter', 'test', '--json'], {
      SLACK_WEBHOOK_URL: UNREACHABLE_URL,
    });
    expect(code).toBe(0);
    expect(io.json()).toMatchObject({ slack: 'failed' });
    expect(io.stderr.join('\n')).toMatch(/slack_failed/);
    const entries = await timeline(io.json<{ incidentId: string }>().incidentId);
    expect(entries.map((t) => t.kind)).toEqual(['opened', 'slack_failed']);
    expect(entries[1]!.message).toMatch(/Slack post failed/);
  });

  it('when Slack answers with an error, records slack_failed too', async () => {
    const broken = await startServer((_req, res) => {
      res.writeHead(404);
      res.end('no_service');
    });
    try {
      const { code, io } = await f.run(['incident', 'open', '--title', 'bad hook', '--reporter', 'test', '--json'], {
        SLACK_WEBHOOK_URL: broken.url,
      });
      expect(code).toBe(0);
      expect((await timeline(io.json<{ incidentId: string }>().incidentId)).map((t) => t.kind)).toContain('slack_failed');
    } finally {
      await broken.close();
    }
  });

  it('without SLACK_WEBHOOK_URL, records slack_skipped', async () => {
    const incidentId = await openIncident(f);
    expect((await timeline(incidentId)).map((t) => t.kind)).toEqual(['opened', 'slack_skipped']);
  });

  it('a missing evidence file is a usage error and opens nothing; an unknown actor exits 3', async () => {
    const before = (await f.sql.query('SELECT count(*)::int AS n FROM incidents')).rows[0].n;
    expect((await f.run(['incident', 'open', '--title', 't', '--reporter', 'r', '--evidence', '/nonexistent/file.png'])).code).toBe(2);
    expect(
      (await f.run(['incident', 'open', '--title', 't', '--reporter', 'r', '--actor', '10000000-0000-4000-8000-000000000999'])).code,
    ).toBe(3);
    expect((await f.sql.query('SELECT count(*)::int AS n FROM incidents')).rows[0].n).toBe(before);
  });

  it('lists open incidents, adds notes and suspect actors to the timeline', async () => {
    const incidentId = await openIncident(f);
    expect((await f.run(['incident', 'note', incidentId, 'Engineering', 'lead', 'joined'])).code).toBe(0);
    expect((await f.run(['incident', 'add-actor', incidentId, STAFF_ID])).code).toBe(0);
    const again = await f.run(['incident', 'add-actor', incidentId, STAFF_ID, '--json']);
    expect(again.io.json()).toMatchObject({ added: [], actorIds: [STAFF_ID] });
    const shown = await f.run(['incident', 'timeline', incidentId]);
    expect(shown.io.text()).toContain('Engineering lead joined');
    expect(shown.io.text()).toContain('Suspect actor: staff Sam Staff');
    const list = await f.run(['incident', 'list', '--json']);
    expect(list.io.json<{ id: string }[]>().map((i) => i.id)).toContain(incidentId);
  });
});

describe('spade evidence request', () => {
  const REQUEST_ID = 'req-7f3e2a1b-leak';

  beforeAll(async () => {
    const insert = `INSERT INTO audit_events (event_type, actor_type, actor_id, client_id, entity_type, entity_id, request_id, event_data_json)
                    VALUES ($1, 'staff', $2, $3, $4, $5, $6, $7)`;
    const borneo = '00000000-0000-4000-8000-00000000b001';
    await f.sql.query(insert, ['cycle.read', STAFF_ID, borneo, 'cycle', 'c-1', REQUEST_ID, '{"via":"planted"}']);
    await f.sql.query(insert, ['file.downloaded', STAFF_ID, borneo, 'file', 'f-1', REQUEST_ID, '{}']);
    await f.sql.query(insert, ['cycle.read', STAFF_ID, borneo, 'cycle', 'c-2', 'another-request', '{}']);
  });

  async function writeLog(): Promise<string> {
    const log = path.join(f.dataDir, 'api.log');
    const lines = [
      { level: 30, time: 1, reqId: REQUEST_ID, msg: 'incoming request', req: { method: 'GET', url: '/api/leaky' } },
      { level: 30, time: 2, reqId: 'another-request', msg: 'incoming request' },
      'not json at all',
      { level: 30, time: 3, reqId: REQUEST_ID, msg: 'request completed', res: { statusCode: 200 } },
    ];
    await writeFile(log, `${lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n')}\n`);
    return log;
  }

  it('bundles the audit events and log lines of one request id with a manifest whose hashes match the files, attached to the incident', async () => {
    const incidentId = await openIncident(f);
    const log = await writeLog();
    const { code, io } = await f.run(['evidence', 'request', REQUEST_ID, '--incident', incidentId, '--json'], { SPADE_LOG_FILE: log });
    expect(code, io.stderr.join('\n')).toBe(0);
    const result = io.json<{
      folder: string;
      manifest: string;
      auditEvents: number;
      logLines: number;
      files: { filename: string; storedPath: string }[];
    }>();
    expect(result).toMatchObject({ auditEvents: 2, logLines: 2, folder: path.join(f.dataDir, 'evidence', incidentId) });

    const manifest = JSON.parse(await readFile(result.manifest, 'utf8')) as {
      incidentId: string;
      files: { filename: string; sha256: string; size: number }[];
    };
    expect(manifest.incidentId).toBe(incidentId);
    expect(manifest.files.map((m) => m.filename).sort()).toEqual([
      `request-${REQUEST_ID}.audit-digests.json`,
      `request-${REQUEST_ID}.audit-events.json`,
      `request-${REQUEST_ID}.log.jsonl`,
    ]);
    // The audit digests that cover the request's rows (sealed for the bundle), verified.
    expect(result).toMatchObject({ digestsVerified: true, digests: [expect.objectContaining({ seq: expect.any(Number) })] });
    const digestFile = JSON.parse(await readFile(path.join(result.folder, `request-${REQUEST_ID}.audit-digests.json`), 'utf8'));
    expect(digestFile).toMatchObject({ unsealedAuditEventIds: [], verification: { ok: true } });
    for (const entry of manifest.files) {
      const content = await readFile(path.join(result.folder, entry.filename));
      expect(sha256(content), entry.filename).toBe(entry.sha256);
      expect(content.length).toBe(entry.size);
    }
    const events = JSON.parse(await readFile(path.join(result.folder, `request-${REQUEST_ID}.audit-events.json`), 'utf8')) as {
      entityId: string;
    }[];
    expect(events.map((e) => e.entityId)).toEqual(['c-1', 'f-1']);
    const logLines = (await readFile(path.join(result.folder, `request-${REQUEST_ID}.log.jsonl`), 'utf8')).trim().split('\n');
    expect(logLines.map((l) => JSON.parse(l).msg)).toEqual(['incoming request', 'request completed']);

    const attached = await f.sql.query('SELECT filename, sha256 FROM incident_evidence WHERE incident_id = $1 ORDER BY filename', [
      incidentId,
    ]);
    expect(attached.rows).toEqual(
      manifest.files.map(({ filename, sha256 }) => ({ filename, sha256 })).sort((a, b) => a.filename.localeCompare(b.filename)),
    );
    expect((await timeline(incidentId)).map((t) => t.kind)).toContain('evidence.collected');

    // A second capture of the same evidence adds nothing.
    expect((await f.run(['evidence', 'request', REQUEST_ID, '--incident', incidentId], { SPADE_LOG_FILE: log })).code).toBe(0);
    expect((await f.sql.query('SELECT count(*)::int AS n FROM incident_evidence WHERE incident_id = $1', [incidentId])).rows[0].n).toBe(3);
  });

  it('without an incident, writes a timestamped folder; without SPADE_LOG_FILE, captures the audit events and warns', async () => {
    const { code, io } = await f.run(['evidence', 'request', REQUEST_ID, '--json']);
    expect(code).toBe(0);
    const result = io.json<{ folder: string; logLines: number }>();
    expect(path.basename(result.folder)).toMatch(/^\d{8}T\d{9}Z$/);
    expect(result.logLines).toBe(0);
    expect(io.stderr.join('\n')).toMatch(/SPADE_LOG_FILE is not set/);
  });

  it('a request id nothing carries exits 3; a malformed one exits 2', async () => {
    expect((await f.run(['evidence', 'request', 'no-such-request-id'])).code).toBe(3);
    expect((await f.run(['evidence', 'request', '../../etc/passwd'])).code).toBe(2);
  });
});
