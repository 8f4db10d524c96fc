import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildProgram, runCli } from '@breezycorp/cli/program';
import { hashToken, newToken } from '@breezycorp/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send } from './support/http.ts';
import { createTestApp, DEMO, login, type TestApp } from './support/test-app.ts';

/**
 * The admin incident console (issue 14 item 6): the CLI records an incident, a frozen tenant,
 * a route taken offline and detection alerts; the API shows them to admins — clocks computed
 * server-side, each with a real `spade` command — and to nobody else.
 */
const ACME = DEMO.clients.acme;
const BORNEO = DEMO.clients.borneo;
const ROUTE = 'GET /api/clients/:clientId/cycles/:cycleId';

let t: TestApp;
let admin: Record<string, string>;
let staff: Record<string, string>;
let contact: Record<string, string>;
/** Opened 2026-01-31 14:00 SGT, determined notifiable 2026-02-10: the clocks are known. */
let pastIncident: string;
/** Opened now: its assessment clock is running. */
let freshIncident: string;
/** Resolved an hour ago: its post-mortem clock is running. */
let resolvedIncident: string;
let decoyClientId: string;
let decoyIncident: string;
let breadthAlert: string;

interface Io {
  env: Record<string, string>;
  stdout: string[];
  stderr: string[];
  out(text: string): void;
  err(text: string): void;
}

function io(): Io {
  return {
    // Port 9 (discard) refuses: `routes offline` carries on with a warning, as in an API outage.
    env: { DATABASE_URL: t.testDb.ownerUrl, SPADE_DATA_DIR: t.dataDir, SPADE_API_URL: 'http://127.0.0.1:9', USER: 'on-call' },
    stdout: [],
    stderr: [],
    out(text) {
      this.stdout.push(text);
    },
    err(text) {
      this.stderr.push(text);
    },
  };
}

/** Runs `spade …` as the on-call would; returns its --json output. */
async function spade(...argv: string[]): Promise<Record<string, unknown>> {
  const out = io();
  const code = await runCli([...argv, '--json'], out);
  if (code !== 0) throw new Error(`spade ${argv.join(' ')} → exit ${code}\n${out.stderr.join('\n')}`);
  return JSON.parse(out.stdout.at(-1) as string) as Record<string, unknown>;
}

/** A command line as the shell splits it: words, and "…" quoted arguments (with \" escapes). */
function shellWords(line: string): string[] {
  const words: string[] = [];
  for (const match of line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)) {
    words.push(match[1] !== undefined ? match[1].replace(/\\(.)/g, '$1') : (match[2] as string));
  }
  return words;
}

/**
 * Parses a command the console shows against the CLI's own commander program, with every
 * action replaced by a recorder: unknown commands or options, and missing required ones,
 * fail exactly as they would for the operator — and nothing runs.
 */
async function parseWithCli(line: string): Promise<string> {
  const words = shellWords(line);
  expect(words.slice(0, 2), line).toEqual(['pnpm', 'spade']);
  const out = io();
  const program = buildProgram(out);
  let ran: string | null = null;
  const stub = (command: ReturnType<typeof buildProgram>, prefix: string[]) => {
    for (const sub of command.commands) {
      const name = [...prefix, sub.name()];
      sub.action(() => {
        ran = name.join(' ');
      });
      stub(sub, name);
    }
  };
  stub(program, []);
  try {
    await program.parseAsync(words.slice(2), { from: 'user' });
  } catch (error) {
    if (String((error as { code?: unknown }).code).startsWith('commander.'))
      throw new Error(`${line}: ${(error as Error).message}\n${out.stderr.join('\n')}`);
    throw error;
  }
  if (ran === null) throw new Error(`${line}: no command ran`);
  return ran;
}

async function contactHeaders(): Promise<Record<string, string>> {
  const request = await t.owner.prisma.cycleRequest.findFirstOrThrow({ where: { clientId: ACME }, select: { id: true } });
  const token = newToken('magicLink');
  await t.owner.prisma.$executeRaw`UPDATE cycle_requests SET token_hash = ${hashToken(token)}, link_exchanged_at = NULL,
    expires_at = NOW() + interval '1 day', status = 'open' WHERE id = ${request.id}::uuid`;
  const response = await t.app.inject({ method: 'POST', url: '/api/portal/exchange', payload: { token } });
  if (response.statusCode !== 200) throw new Error(`exchange failed: ${response.statusCode} ${response.body}`);
  return { authorization: `Bearer ${response.json<{ sessionToken: string }>().sessionToken}` };
}

const get = (url: string, headers: Record<string, string>) => send(t.app, 'GET', url, headers);

// biome-ignore lint/suspicious/noExplicitAny: response bodies are inspected field by field
type Json = any;

beforeAll(async () => {
  t = await createTestApp();
  admin = (await login(t.app, DEMO.staff.admin)).headers;
  staff = (await login(t.app, DEMO.staff.staff)).headers;
  contact = await contactHeaders();

  const evidence = path.join(t.dataDir, 'report.txt');
  await writeFile(evidence, 'Acme saw a Borneo statement');
  pastIncident = (
    await spade(
      'incident',
      'open',
      '--title',
      'Acme saw a Borneo statement',
      '--reporter',
      'Alice Tan (Acme)',
      '--at',
      '2026-01-31T14:00',
      '--evidence',
      evidence,
    )
  ).incidentId as string;
  await spade('incident', 'notifiable', pastIncident, '--at', '2026-02-10T09:00', '--basis', 'bank statements (prescribed data)');
  await spade('tenants', 'freeze', BORNEO, '--incident', pastIncident, '--yes');
  await spade('routes', 'offline', ROUTE, '--reason', 'tenant leak, patch in progress', '--incident', pastIncident, '--yes');

  freshIncident = (await spade('incident', 'open', '--title', 'Fresh report', '--reporter', 'Bob')).incidentId as string;
  resolvedIncident = (
    await spade(
      'incident',
      'open',
      '--title',
      'Resolved report',
      '--reporter',
      'Carol',
      '--at',
      new Date(Date.now() - 7_200_000).toISOString(),
    )
  ).incidentId as string;
  await spade('incident', 'resolve', resolvedIncident, '--at', new Date(Date.now() - 3_600_000).toISOString(), '--summary', 'patched');

  // A decoy, touched by the staff member: the tripwire opens an incident by itself.
  const planted = (await spade('decoys', 'plant')) as { planted: { clientId: string }[] };
  decoyClientId = planted.planted[0]?.clientId as string;
  await t.app.refreshDecoys();
  expect((await get(`/api/clients/${decoyClientId}`, staff)).status).toBe(404);
  const decoyAlert = await t.owner.prisma.detectionAlert.findFirstOrThrow({ where: { kind: 'decoy.touched' } });
  decoyIncident = decoyAlert.incidentId as string;

  // A breadth alert the detector suggested and nobody has opened or dismissed.
  breadthAlert = (
    await t.owner.prisma.detectionAlert.create({
      data: {
        kind: 'breadth.staff_clients',
        status: 'suggested',
        actorType: 'staff',
        actorId: DEMO.staff.staff.id,
        detectedBy: 'api.breadth',
        details: { distinctClients: 12, windowMinutes: 10, baseline: 2 },
      },
    })
  ).id;
}, 120_000);

afterAll(async () => {
  await t?.close();
});

describe('the incident list', () => {
  let body: Json;
  beforeAll(async () => {
    const reply = await get('/api/admin/incidents', admin);
    expect(reply.status, reply.body).toBe(200);
    body = reply.json;
  });

  it('lists open incidents first, then the recently resolved, each CRITICAL with its status', () => {
    const ids = body.incidents.map((i: Json) => i.id);
    expect(ids).toEqual(expect.arrayContaining([pastIncident, freshIncident, decoyIncident, resolvedIncident]));
    expect(ids.indexOf(resolvedIncident)).toBe(ids.length - 1);
    for (const incident of body.incidents) expect(incident.severity).toBe('critical');
    expect(body.incidents.find((i: Json) => i.id === resolvedIncident).status).toBe('resolved');
    expect(body.incidents.find((i: Json) => i.id === pastIncident).status).toBe('open');
  });

  it('computes the PDPA clocks server-side in Singapore time: 30-day assessment, 3-day PDPC notice', () => {
    const past = body.incidents.find((i: Json) => i.id === pastIncident);
    const asOf = new Date(body.asOf).getTime();
    const clock = (name: string) => past.clocks.find((c: Json) => c.name === name);
    // Opened 2026-01-31 → assess by 2026-03-02, end of day SGT; determined 2026-02-10, before it: met.
    expect(clock('assessment')).toMatchObject({
      deadline: '2026-03-02T15:59:59.999Z',
      state: 'met',
      remainingSeconds: null,
      command: null,
    });
    // Determined 2026-02-10 → notify the PDPC by 2026-02-13, end of day SGT; long past: overdue, negative remaining.
    const pdpc = clock('pdpc_notification');
    expect(pdpc).toMatchObject({ deadline: '2026-02-13T15:59:59.999Z', state: 'overdue' });
    expect(pdpc.remainingSeconds).toBe(Math.round((Date.parse('2026-02-13T15:59:59.999Z') - asOf) / 1000));
    expect(pdpc.command).toBe(`pnpm spade disclosure draft --incident ${pastIncident}`);
    expect(clock('post_mortem')).toMatchObject({ deadline: null, state: 'not_started', remainingSeconds: null, command: null });
  });

  it('a fresh incident has its assessment running, about 30 days left, and the command to record the determination', () => {
    const fresh = body.incidents.find((i: Json) => i.id === freshIncident);
    const assessment = fresh.clocks.find((c: Json) => c.name === 'assessment');
    expect(assessment.state).toBe('running');
    expect(assessment.remainingSeconds).toBeGreaterThan(30 * 86_400);
    expect(assessment.remainingSeconds).toBeLessThanOrEqual(31 * 86_400);
    expect(assessment.command).toBe(`pnpm spade incident notifiable ${freshIncident} --basis "…"`);
    expect(fresh.clocks.find((c: Json) => c.name === 'pdpc_notification').state).toBe('not_started');
  });

  it('a resolved incident has its 72-hour post-mortem clock running', () => {
    const resolved = body.incidents.find((i: Json) => i.id === resolvedIncident);
    const postMortem = resolved.clocks.find((c: Json) => c.name === 'post_mortem');
    expect(postMortem.state).toBe('running');
    expect(postMortem.remainingSeconds).toBeGreaterThan(70 * 3600);
    expect(postMortem.remainingSeconds).toBeLessThanOrEqual(71 * 3600 + 5);
    expect(postMortem.command).toBe(`pnpm spade postmortem new --incident ${resolvedIncident}`);
  });

  it('agrees with `spade incident clocks` (one rule set, shared)', async () => {
    const cli = (await spade('incident', 'clocks', pastIncident, '--now', body.asOf)) as {
      clocks: { name: string; deadline: string | null; state: string }[];
    };
    const api = body.incidents.find((i: Json) => i.id === pastIncident).clocks;
    expect(api.map((c: Json) => [c.name, c.deadline, c.state])).toEqual(cli.clocks.map((c) => [c.name, c.deadline, c.state]));
  });
});

describe('one incident', () => {
  let body: Json;
  let raw: string;
  beforeAll(async () => {
    const reply = await get(`/api/admin/incidents/${pastIncident}`, admin);
    expect(reply.status, reply.body).toBe(200);
    body = reply.json;
    raw = reply.body;
  });

  it('carries its timeline, oldest first, and the containment steps the CLI recorded', () => {
    const kinds = body.timeline.map((e: Json) => e.kind);
    expect(kinds[0]).toBe('opened');
    expect(kinds).toEqual(
      expect.arrayContaining(['evidence.added', 'notifiability_determined', 'containment.tenant_frozen', 'containment.route_offline']),
    );
    expect(body.timelineTotal).toBe(body.timeline.length);
    expect(body.containment.map((e: Json) => e.kind)).toEqual(['containment.tenant_frozen', 'containment.route_offline']);
  });

  it('lists evidence metadata — name, sha256, size — never its contents or where it is stored', () => {
    expect(body.evidence).toEqual([
      expect.objectContaining({
        filename: 'report.txt',
        size: 'Acme saw a Borneo statement'.length,
        sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      }),
    ]);
    expect(raw).not.toContain(t.dataDir);
    expect(raw).not.toContain('storedPath');
  });

  it('shows the frozen tenant and the route offline with the command that undoes each', () => {
    expect(body.frozenTenants).toEqual([
      expect.objectContaining({
        clientId: BORNEO,
        clientName: expect.any(String),
        isDecoy: false,
        commands: [{ purpose: expect.any(String), command: `pnpm spade tenants thaw ${BORNEO} --incident ${pastIncident}` }],
      }),
    ]);
    expect(body.routesOffline).toEqual([
      expect.objectContaining({
        method: 'GET',
        routePattern: '/api/clients/:clientId/cycles/:cycleId',
        commands: [{ purpose: expect.any(String), command: `pnpm spade routes online "${ROUTE}" --incident ${pastIncident}` }],
      }),
    ]);
  });

  it('is 404 for an unknown incident', async () => {
    expect((await get('/api/admin/incidents/00000000-0000-4000-8000-000000000999', admin)).status).toBe(404);
  });
});

describe('detection', () => {
  let body: Json;
  beforeAll(async () => {
    const reply = await get('/api/admin/detection', admin);
    expect(reply.status, reply.body).toBe(200);
    body = reply.json;
  });

  it('lists the decoy alert (with its incident) and the breadth suggestion, each with its commands', () => {
    const decoy = body.alerts.find((a: Json) => a.kind === 'decoy.touched');
    expect(decoy).toMatchObject({ status: 'incident', incidentId: decoyIncident, subjectClientId: decoyClientId, subjectIsDecoy: true });
    expect(decoy.commands.map((c: Json) => c.command)).toEqual([
      `pnpm spade incident timeline ${decoyIncident}`,
      `pnpm spade sessions revoke --staff ${DEMO.staff.staff.id} --incident ${decoyIncident}`,
    ]);
    const breadth = body.alerts.find((a: Json) => a.id === breadthAlert);
    expect(breadth).toMatchObject({ status: 'suggested', summary: expect.stringContaining('12 clients') });
    expect(breadth.commands.map((c: Json) => c.command)).toEqual([
      `pnpm spade incident open --from-alert ${breadthAlert} --title "…" --reporter "spade detector"`,
      `pnpm spade incident dismiss ${breadthAlert} --reason "…"`,
    ]);
  });

  it('lists frozen tenants and routes offline firm-wide', () => {
    expect(body.frozenTenants.map((f: Json) => f.clientId)).toEqual([BORNEO]);
    expect(body.routesOffline.map((r: Json) => `${r.method} ${r.routePattern}`)).toEqual([ROUTE]);
  });

  it('reading the console names a decoy without tripping it, and is audited (firm-wide, and on the named real client)', async () => {
    expect(await t.owner.prisma.detectionAlert.count({ where: { kind: 'decoy.touched' } })).toBe(1);
    const reads = await t.owner.prisma.auditEvent.findMany({ where: { eventType: 'incident_console.read' } });
    expect(reads.length).toBeGreaterThanOrEqual(3);
    expect(reads.every((r) => r.clientId === null && r.actorId === DEMO.staff.admin.id)).toBe(true);
    expect(
      await t.owner.prisma.auditEvent.count({
        where: {
          eventType: 'cross_tenant_read',
          clientId: BORNEO,
          actorId: DEMO.staff.admin.id,
          eventDataJson: { path: ['route'], equals: 'GET /api/admin/detection' },
        },
      }),
    ).toBe(1);
    expect(await t.owner.prisma.auditEvent.count({ where: { clientId: decoyClientId, actorId: DEMO.staff.admin.id } })).toBe(0);
  });
});

describe('every command the console shows is a real `spade` command', () => {
  it('parses against the CLI program (commander), running nothing', async () => {
    const commands: string[] = [];
    const list = (await get('/api/admin/incidents', admin)).json;
    for (const incident of list.incidents) {
      for (const c of incident.commands) commands.push(c.command);
      for (const clock of incident.clocks) if (clock.command) commands.push(clock.command);
    }
    for (const id of [pastIncident, decoyIncident]) {
      const detail = (await get(`/api/admin/incidents/${id}`, admin)).json;
      for (const item of [...detail.frozenTenants, ...detail.routesOffline, ...detail.alerts])
        for (const c of item.commands) commands.push(c.command);
    }
    const detection = (await get('/api/admin/detection', admin)).json;
    for (const item of [...detection.alerts, ...detection.frozenTenants, ...detection.routesOffline]) {
      for (const c of item.commands) commands.push(c.command);
    }
    const ran = new Set<string>();
    for (const command of new Set(commands)) ran.add(await parseWithCli(command));
    expect([...ran].sort()).toEqual(
      [
        'disclosure draft',
        'incident dismiss',
        'incident notifiable',
        'incident open',
        'incident resolve',
        'incident timeline',
        'postmortem new',
        'routes online',
        'sessions revoke',
        'tenants thaw',
      ].sort(),
    );
  });

  it('the parser is not vacuous: an unknown option or a missing required one fails', async () => {
    await expect(parseWithCli(`pnpm spade tenants thaw ${BORNEO} --frobnicate`)).rejects.toThrow(/unknown option/);
    await expect(parseWithCli('pnpm spade incident dismiss 00000000-0000-4000-8000-000000000001')).rejects.toThrow(/--reason/);
  });
});

describe('refusal: admins only', () => {
  const urls = () => ['/api/admin/incidents', `/api/admin/incidents/${pastIncident}`, '/api/admin/detection'];

  it('non-admin staff and contacts get the same 404 as on other admin-only routes (and as an unknown URL)', async () => {
    for (const [who, headers] of [
      ['staff', staff],
      ['contact', contact],
    ] as const) {
      const reference = await get('/api/staff-users', headers);
      expect(reference.status, who).toBe(404);
      const unknown = await get('/api/admin/no-such-thing', headers);
      for (const url of urls()) {
        const reply = await get(url, headers);
        expect(reply.status, `${who} ${url}`).toBe(404);
        expect(reply.json.error.code).toBe(reference.json.error.code);
        expect(reply.json.error.code).toBe(unknown.json.error.code);
        expect(reply.body).not.toContain('Acme saw a Borneo statement');
      }
    }
  });

  it('anonymous callers get 401', async () => {
    for (const url of urls()) expect((await get(url, {})).status, url).toBe(401);
  });

  it('in the database: spade_firm_admin may only SELECT, evidence without stored_path; spade_app reads none of it', async () => {
    await t.adminDb.withSql(async (sql) => {
      const attempt = async (text: string) => {
        await sql.query('BEGIN');
        try {
          await sql.query(`SELECT set_config('role', 'spade_firm_admin', true)`);
          await sql.query(text);
          return 'ok';
        } catch (error) {
          return (error as Error).message;
        } finally {
          await sql.query('ROLLBACK');
        }
      };
      expect(await attempt('SELECT id, title FROM incidents LIMIT 1')).toBe('ok');
      expect(await attempt('SELECT id, filename, sha256, size FROM incident_evidence LIMIT 1')).toBe('ok');
      expect(await attempt('SELECT stored_path FROM incident_evidence LIMIT 1')).toMatch(/permission denied/);
      expect(await attempt(`UPDATE incidents SET title = 'x'`)).toMatch(/permission denied/);
      expect(await attempt('DELETE FROM detection_alerts')).toMatch(/permission denied/);
      expect(
        await attempt(
          `INSERT INTO incident_timeline_entries (incident_id, kind, actor, message) SELECT id, 'x', 'x', 'x' FROM incidents LIMIT 1`,
        ),
      ).toMatch(/permission denied/);
    });
    await t.db.withSql(async (sql) => {
      for (const table of ['incidents', 'incident_timeline_entries', 'incident_evidence', 'detection_alerts']) {
        await expect(sql.query(`SELECT 1 FROM ${table} LIMIT 1`), table).rejects.toThrow(/permission denied/);
      }
    });
  });

  it('the OpenAPI document marks the routes admin-only and staff-only', async () => {
    const spec = (await get('/openapi.json', {})).json;
    for (const p of ['/api/admin/incidents', '/api/admin/incidents/{incidentId}', '/api/admin/detection']) {
      expect(spec.paths[p].get['x-admin-only'], p).toBe(true);
      expect(spec.paths[p].get['x-route-scope'], p).toBe('staff-only');
    }
  });
});
