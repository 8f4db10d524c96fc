import { createReadStream } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli } from '@breezycorp/cli/program';
import { DEMO, storagePath } from '@breezycorp/db';
import { openDatabase, type UnsafeDatabase } from '@breezycorp/db/unsafe';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, login, type TestApp } from './support/test-app.ts';

/**
 * The runbook as a drill. A real listening API carries a planted leak: two test-only
 * client-scoped routes whose handlers "forgot their scope check" by reading through an
 * owner connection (so no isolation layer sees them) and answering without any client id.
 * A staff member of Acme reads Borneo's cycle and downloads Borneo's file through them.
 * Then the on-call runs the CLI, as the runbook now says, and we time open → contained.
 */
const ACME = DEMO.clients.acme;
const BORNEO = DEMO.clients.borneo;
const ALICE_REQUEST_CLIENT = ACME;
const LEAKY_READ = '/api/clients/:clientId/drill/cycles/:cycleId';
const LEAKY_DOWNLOAD = '/api/clients/:clientId/drill/files/:fileId/download';
/** The same bug on another route, for the detection drill (the first drill takes its routes offline). */
const LEAKY_DECOY_READ = '/api/clients/:clientId/drill/records/:cycleId';

let t: TestApp;
let unsafeOwner: UnsafeDatabase;
let baseUrl: string;
let logFile: string;

function plantedLeak() {
  return async (app: FastifyInstance) => {
    app.get(LEAKY_DECOY_READ, { config: { routeScope: 'client-scoped' } }, async (request) => {
      const { cycleId } = request.params as { cycleId: string };
      const cycle = await unsafeOwner.prisma.cycle.findUniqueOrThrow({ where: { id: cycleId } });
      return { title: cycle.title, period: cycle.period };
    });
    app.get(LEAKY_READ, { config: { routeScope: 'client-scoped' } }, async (request) => {
      const { cycleId } = request.params as { cycleId: string };
      const cycle = await unsafeOwner.prisma.cycle.findUniqueOrThrow({ where: { id: cycleId } });
      // The bug also recorded what it read — on the client it really read.
      await unsafeOwner.prisma.auditEvent.create({
        data: {
          eventType: 'cycle.read',
          actorType: 'staff',
          actorId: request.actor.kind === 'staff' ? request.actor.staffUserId : null,
          clientId: cycle.clientId,
          entityType: 'cycle',
          entityId: cycle.id,
          requestId: request.id,
        },
      });
      return { title: cycle.title, period: cycle.period };
    });
    app.get(LEAKY_DOWNLOAD, { config: { routeScope: 'client-scoped' } }, async (request, reply) => {
      const { fileId } = request.params as { fileId: string };
      const file = await unsafeOwner.prisma.file.findUniqueOrThrow({ where: { id: fileId } });
      await unsafeOwner.prisma.auditEvent.create({
        data: {
          eventType: 'file.downloaded',
          actorType: 'staff',
          actorId: request.actor.kind === 'staff' ? request.actor.staffUserId : null,
          clientId: file.clientId,
          entityType: 'file',
          entityId: file.id,
          requestId: request.id,
        },
      });
      return reply.type('application/octet-stream').send(createReadStream(storagePath(t.config.storageDir, file.storageKey)));
    });
  };
}

beforeAll(async () => {
  logFile = path.join(tmpdir(), `spade-drill-${process.pid}-${Date.now()}.log`);
  await writeFile(logFile, '');
  t = await createTestApp({
    env: { SPADE_LOG_FILE: logFile, LOG_LEVEL: 'info', SPADE_KILL_SWITCH_POLL_MS: '60000' },
    extraRoutes: plantedLeak(),
    logger: 'config',
  });
  unsafeOwner = await openDatabase({ kind: 'postgres', url: t.testDb.ownerUrl, poolMax: 2 });
  baseUrl = await t.app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await unsafeOwner?.close();
  await t?.close();
  await rm(logFile, { force: true });
});

interface Io {
  out(text: string): void;
  err(text: string): void;
  env: Record<string, string | undefined>;
  stdout: string[];
  stderr: string[];
}

async function spade(argv: string[]): Promise<{ code: number; stdout: string; json: () => Record<string, unknown> }> {
  const io: Io = {
    stdout: [],
    stderr: [],
    env: { DATABASE_URL: t.testDb.ownerUrl, SPADE_DATA_DIR: t.dataDir, SPADE_API_URL: baseUrl, SPADE_LOG_FILE: logFile, USER: 'on-call' },
    out(text) {
      this.stdout.push(text);
    },
    err(text) {
      this.stderr.push(text);
    },
  };
  const code = await runCli(argv, io);
  if (code !== 0) throw new Error(`spade ${argv.join(' ')} → exit ${code}\n${io.stderr.join('\n')}`);
  return { code, stdout: io.stdout.join('\n'), json: () => JSON.parse(io.stdout.at(-1) as string) };
}

async function get(url: string, headers: Record<string, string>) {
  const response = await fetch(`${baseUrl}${url}`, { headers });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

describe('incident drill: a planted leak contained with the spade CLI', () => {
  it('opens the incident, captures evidence, revokes, expires, takes the route offline, names the affected client, drafts the disclosure', async () => {
    // The leak, as a user would hit it.
    const staff = await login(t.app, DEMO.staff.staff);
    const borneoCycle = await t.owner.prisma.cycle.findFirstOrThrow({ where: { clientId: BORNEO } });
    const borneoFile = await t.owner.prisma.file.findFirstOrThrow({ where: { clientId: BORNEO } });
    const read = await get(`/api/clients/${ACME}/drill/cycles/${borneoCycle.id}`, staff.headers);
    expect(read.status).toBe(200);
    expect(read.body).toContain('Borneo');
    const download = await get(`/api/clients/${ACME}/drill/files/${borneoFile.id}/download`, staff.headers);
    expect(download.status).toBe(200);
    expect(download.body).toContain('Borneo');
    const leakRequestId = read.headers.get('x-request-id') as string;

    // A contact of Acme is mid-portal-session on a magic link.
    const cycle = await t.owner.prisma.cycle.findFirstOrThrow({ where: { clientId: ACME } });
    const created = await t.app.inject({
      method: 'POST',
      url: `/api/clients/${ACME}/cycles/${cycle.id}/requests`,
      headers: staff.headers,
      payload: { contactId: '00000000-0000-4000-8000-00000000a002', items: [{ label: 'Receipts' }] },
    });
    const contactRequest = created.json<{ id: string }>();
    const linkToken = await t.linkForRequest(contactRequest.id);
    const session = (await t.app.inject({ method: 'POST', url: '/api/portal/exchange', payload: { token: linkToken } })).json<{
      sessionToken: string;
    }>();
    const contactHeaders = { authorization: `Bearer ${session.sessionToken}` };
    expect((await get(`/api/portal/clients/${ALICE_REQUEST_CLIENT}/request`, contactHeaders)).status).toBe(200);

    const evidence = path.join(t.dataDir, 'reporter-screenshot.txt');
    await writeFile(evidence, `GET ${LEAKY_READ} → Borneo's cycle (x-request-id ${leakRequestId})\n`);

    // ── The on-call, by the runbook. ─────────────────────────────────────────────
    const started = performance.now();
    const opened = await spade([
      'incident',
      'open',
      '--title',
      "Acme staff saw Borneo's cycle",
      '--reporter',
      'Sam Staff (Acme team)',
      '--evidence',
      evidence,
      '--actor',
      DEMO.staff.staff.id,
      '--json',
    ]);
    const opened_ = opened.json() as { incidentId: string; channel: string };
    const incident = { id: opened_.incidentId, channel: opened_.channel };
    expect(incident.channel).toMatch(/^#incident-tenant-leak-\d{8}$/);
    const bundle = await spade(['evidence', 'request', leakRequestId, '--incident', incident.id, '--json']);
    // The leaking request's audit event and its API log lines (SPADE_LOG_FILE), hashed.
    expect(bundle.json()).toMatchObject({ requestId: leakRequestId, auditEvents: 1, logLines: expect.any(Number) });
    expect(bundle.json().logLines as number).toBeGreaterThan(0);
    await spade(['sessions', 'revoke', '--all-staff', '--incident', incident.id, '--yes', '--json']);
    await spade(['requests', 'expire', contactRequest.id, '--incident', incident.id, '--yes', '--json']);
    await spade(['routes', 'offline', `GET ${LEAKY_READ}`, '--reason', 'tenant leak drill', '--incident', incident.id, '--yes', '--json']);
    await spade([
      'routes',
      'offline',
      `GET ${LEAKY_DOWNLOAD}`,
      '--reason',
      'tenant leak drill',
      '--incident',
      incident.id,
      '--yes',
      '--json',
    ]);

    // Contained when every effect is visible on the running API.
    const admin = { authorization: `Bearer ${(await login(t.app, DEMO.staff.admin)).token}` };
    const deadline = Date.now() + 5_000;
    let offline = false;
    while (!offline && Date.now() < deadline) {
      offline = (await get(`/api/clients/${BORNEO}/drill/cycles/${borneoCycle.id}`, admin)).status === 503;
      if (!offline) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const containedMs = performance.now() - started;
    console.log(`incident drill: open → contained in ${(containedMs / 1000).toFixed(2)} s (target < 60 s)`);
    expect(offline).toBe(true);
    expect(containedMs).toBeLessThan(60_000);

    // Every effect.
    expect((await get(`/api/clients/${ACME}/cycles`, staff.headers)).status).toBe(401);
    expect((await get(`/api/portal/clients/${ACME}/request`, contactHeaders)).status).toBe(401);
    const blocked = await get(`/api/clients/${BORNEO}/drill/files/${borneoFile.id}/download`, admin);
    expect(blocked.status).toBe(503);
    expect(blocked.headers.get('retry-after')).toBeTruthy();
    expect((await get('/api/clients', admin)).status).toBe(200); // staff-only routes keep working

    const affected = await spade(['audit', 'affected', '--actor', DEMO.staff.staff.id, '--since', '1h', '--json']);
    expect(JSON.stringify(affected.json())).toContain(BORNEO);

    await spade(['incident', 'notifiable', incident.id, '--basis', 'bank statement of a named client', '--json']);
    const draft = await spade([
      'disclosure',
      'draft',
      '--incident',
      incident.id,
      '--firm',
      'Example Accounting LLP',
      '--representative',
      'Jane Lim, DPO',
      '--json',
    ]);
    const files = JSON.stringify(draft.json());
    const drafts = [...files.matchAll(/"([^"]+\.md)"/g)].map((m) => m[1] as string);
    expect(drafts.length).toBeGreaterThanOrEqual(2);
    const texts = await Promise.all(drafts.map((file) => readFile(file, 'utf8')));
    expect(texts.join('\n')).toContain('Borneo Logistics Pte Ltd');
    const clocks = await spade(['incident', 'clocks', incident.id, '--json']);
    const pdpcDeadline = JSON.stringify(clocks.json()).match(/\d{4}-\d{2}-\d{2}/g) ?? [];
    expect(pdpcDeadline.some((day) => texts.join('\n').includes(day))).toBe(true);

    const timeline = await spade(['incident', 'timeline', incident.id, '--json']);
    const kinds = JSON.stringify(timeline.json());
    for (const step of ['evidence', 'revoke', 'expire', 'offline', 'notifiable', 'disclosure']) expect(kinds.toLowerCase()).toContain(step);
  }, 120_000);
});

describe('detection drill: a planted leak trips a decoy and the incident opens by itself', () => {
  it('decoy touched → incident opened → tenant frozen → evidence with verified digests, in under 10 s', async () => {
    const planted = await spade(['decoys', 'plant', '--count', '1', '--json']);
    const decoy = (planted.json().planted as { clientId: string }[])[0]!.clientId;
    const decoyCycle = await t.owner.prisma.cycle.findFirstOrThrow({ where: { clientId: decoy } });
    await t.app.refreshDecoys();
    const staff = await login(t.app, DEMO.staff.staff);
    const knownIncidents = new Set(((await spade(['incident', 'list', '--json'])).json() as unknown as { id: string }[]).map((i) => i.id));

    // The leak: Acme's staff reads a record by id through a handler that forgot its scope.
    const started = performance.now();
    const leak = await get(`/api/clients/${ACME}/drill/records/${decoyCycle.id}`, staff.headers);
    expect(leak.status).toBe(200);
    const leakRequestId = leak.headers.get('x-request-id') as string;

    // Nobody reports it: the on-call finds the incident already open.
    let incidentId: string | undefined;
    while (!incidentId && performance.now() - started < 10_000) {
      const list = (await spade(['incident', 'list', '--json'])).json() as unknown as { id: string; status: string; openedBy?: string }[];
      incidentId = list.find((i) => i.status === 'open' && i.openedBy === 'spade-detector' && !knownIncidents.has(i.id))?.id;
    }
    const detectedMs = performance.now() - started;
    expect(incidentId).toBeDefined();
    const timeline = JSON.stringify((await spade(['incident', 'timeline', incidentId as string, '--json'])).json());
    expect(timeline).toContain(leakRequestId);
    expect(timeline).toContain(LEAKY_DECOY_READ);

    // Contain the tenant whose URL carried the leak; collect evidence with the digests that cover it.
    await spade(['tenants', 'freeze', ACME, '--incident', incidentId as string, '--yes', '--json']);
    let frozen = false;
    while (!frozen && performance.now() - started < 10_000) {
      frozen = (await get(`/api/clients/${ACME}/cycles`, staff.headers)).status === 503;
    }
    expect(frozen).toBe(true);
    const bundle = (await spade(['evidence', 'request', leakRequestId, '--incident', incidentId as string, '--json'])).json();
    expect(bundle).toMatchObject({ requestId: leakRequestId, digestsVerified: true });
    expect((bundle.digests as unknown[]).length).toBeGreaterThan(0);
    const totalMs = performance.now() - started;
    console.log(
      `detection drill: request → incident open (seen by the on-call's CLI) ${detectedMs.toFixed(0)} ms; ` +
        `→ tenant frozen → evidence with verified digests ${totalMs.toFixed(0)} ms (target < 10 s)`,
    );
    expect(totalMs).toBeLessThan(10_000);
    // Other tenants keep working.
    const borneoStaff = await login(t.app, DEMO.staff.admin);
    expect((await get(`/api/clients/${BORNEO}/cycles`, borneoStaff.headers)).status).toBe(200);
    await spade(['tenants', 'thaw', ACME, '--incident', incidentId as string, '--yes', '--json']);
  }, 60_000);
});
