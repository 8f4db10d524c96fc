import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runCli } from '@breezycorp/cli/program';
import { DEMO } from '@breezycorp/db';
import { openDatabase, type UnsafeDatabase } from '@breezycorp/db/unsafe';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../app.ts';
import { notFound } from '../errors.ts';
import { clientScope } from '../routes/client-route.ts';
import { cycleView } from '../routes/cycles/schema.ts';
import { ALL_LAYERS_OFF } from '../tenancy/layers.ts';
import { createTestApp, login, type TestApp } from './support/test-app.ts';

/*
 * Detection on the real PostgreSQL: decoy tenants that open an incident by themselves the
 * moment anything touches them (even with every isolation layer off), a per-tenant freeze
 * applied by every instance within a second, breadth alerts as suggested incidents, and the
 * audit trail sealed by the API's interval job.
 */
const ACME = DEMO.clients.acme;
const BORNEO = DEMO.clients.borneo;
const CINNAMON = DEMO.clients.cinnamon;

let t: TestApp;
let slack: Server;
const slackPosts: string[] = [];
let decoyClientId: string;
let decoyCycleId: string;
const apps: App[] = [];
const dbs: UnsafeDatabase[] = [];

async function spade(argv: string[]) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const io = {
    env: { DATABASE_URL: t.testDb.ownerUrl, SPADE_DATA_DIR: t.dataDir, USER: 'detector-test', SPADE_API_URL: 'http://127.0.0.1:1' },
    out: (text: string) => stdout.push(text),
    err: (text: string) => stderr.push(text),
  };
  const code = await runCli(argv, io);
  if (code !== 0) throw new Error(`spade ${argv.join(' ')} → ${code}: ${stderr.join('\n')}`);
  return JSON.parse(stdout.at(-1) as string);
}

async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false>, limitMs = 3_000): Promise<T> {
  const until = Date.now() + limitMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > until) throw new Error(`not within ${limitMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function leakyRoutes(app: FastifyInstance) {
  // A handler that forgot its scope: with every layer off it reads any client's cycle.
  app.get('/api/clients/:clientId/leaky/cycles/:cycleId', { config: { routeScope: 'client-scoped' } }, async (request) => {
    const { cycleId } = request.params as { cycleId: string };
    const cycle = await clientScope(request).db.cycle.findUnique({ where: { id: cycleId } });
    if (!cycle) throw notFound();
    return cycleView(cycle);
  });
  // A list that forgot its filter: nothing in the URL names a decoy, only the answer does.
  app.get('/api/clients/:clientId/leaky/all-cycles', { config: { routeScope: 'client-scoped' } }, async (request) => {
    const cycles = await clientScope(request).db.cycle.findMany({ orderBy: { createdAt: 'desc' }, take: 500 });
    return { cycles: cycles.map(cycleView) };
  });
  return Promise.resolve();
}

beforeAll(async () => {
  slack = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      slackPosts.push(body);
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => slack.listen(0, '127.0.0.1', resolve));
  t = await createTestApp({
    env: {
      SLACK_WEBHOOK_URL: `http://127.0.0.1:${(slack.address() as AddressInfo).port}/hook`,
      SPADE_KILL_SWITCH_POLL_MS: '60000',
      SPADE_AUDIT_SEAL_INTERVAL_MS: '200',
      SPADE_BREADTH_STAFF_CLIENTS: '2',
      SPADE_BREADTH_BASELINE_FACTOR: '2',
      SPADE_DENIED_BURST: '3',
    },
    extraRoutes: leakyRoutes,
  });
  const planted = await spade(['decoys', 'plant', '--count', '2', '--json']);
  decoyClientId = planted.planted[0].clientId;
  decoyCycleId = (await t.owner.prisma.cycle.findFirstOrThrow({ where: { clientId: decoyClientId } })).id;
  // Armed on the running app through LISTEN/NOTIFY (the poll is a minute here).
  await waitFor('decoys armed', async () => {
    const admin = await login(t.app, DEMO.staff.admin);
    const r = await t.app.inject({ method: 'GET', url: `/api/clients/${decoyClientId}/cycles/${decoyCycleId}`, headers: admin.headers });
    return r.statusCode === 200 && (await t.owner.prisma.detectionAlert.count({ where: { kind: 'decoy.touched' } })) > 0;
  });
  // That probe was a real touch (by an admin): start the tests from a clean slate of alerts.
  // One transaction holding the three tables: background work still finishing that touch (the
  // alert's Slack post adds a timeline entry) waits, instead of landing between two DELETEs
  // and failing the last one's foreign key.
  await t.owner.prisma.$transaction([
    t.owner.prisma.$executeRaw`LOCK TABLE incidents, incident_timeline_entries, detection_alerts IN SHARE ROW EXCLUSIVE MODE`,
    t.owner.prisma.$executeRaw`DELETE FROM incident_timeline_entries`,
    t.owner.prisma.$executeRaw`DELETE FROM detection_alerts`,
    t.owner.prisma.$executeRaw`DELETE FROM incidents`,
  ]);
});
afterAll(async () => {
  for (const app of apps) await app.close();
  for (const db of dbs) await db.close();
  await t?.close();
  await new Promise((resolve) => slack?.close(resolve));
});

describe('decoy tenants', () => {
  it('are left out of the firm lists, and listing clients as admin trips nothing', async () => {
    const admin = await login(t.app, DEMO.staff.admin);
    const list = await t.app.inject({ method: 'GET', url: '/api/clients', headers: admin.headers });
    expect(list.statusCode).toBe(200);
    expect(list.body).not.toContain(decoyClientId);
    const due = await t.app.inject({ method: 'GET', url: '/api/cycles/due-soon?days=365', headers: admin.headers });
    expect(due.body).not.toContain(decoyClientId);
    expect(await t.owner.prisma.detectionAlert.count()).toBe(0);
  });

  it('a leaky route with every isolation layer off opens an incident within the one request that touched a decoy', async () => {
    const ownerDb = await openDatabase({ kind: 'postgres', url: t.testDb.ownerUrl, poolMax: 4 });
    dbs.push(ownerDb);
    const app = await buildApp(t.config, {
      db: ownerDb,
      unsafeSkipRuntimeRoleCheck: true,
      layers: ALL_LAYERS_OFF,
      logger: false,
      extraRoutes: leakyRoutes,
    });
    apps.push(app);
    const staff = await login(app, DEMO.staff.staff);
    const started = performance.now();
    const leak = await app.inject({
      method: 'GET',
      url: `/api/clients/${ACME}/leaky/cycles/${decoyCycleId}`,
      headers: staff.headers,
    });
    // The leak happened (every layer is off) …
    expect(leak.statusCode).toBe(200);
    expect(leak.body).toContain(decoyClientId);
    // … and by the time its response arrived, the incident was open.
    const requestId = String(leak.headers['x-request-id']);
    const alert = await t.owner.prisma.detectionAlert.findFirstOrThrow({ where: { requestId, kind: 'decoy.touched' } });
    console.log(`decoy tripwire: request → incident in ${(performance.now() - started).toFixed(0)} ms (within the request)`);
    expect(alert).toMatchObject({ status: 'incident', actorType: 'staff', actorId: DEMO.staff.staff.id, clientId: decoyClientId });
    expect(alert.route).toBe('GET /api/clients/:clientId/leaky/cycles/:cycleId');
    expect(['api.url', 'api.response']).toContain(alert.detectedBy);
    const incident = await t.owner.prisma.incident.findUniqueOrThrow({ where: { id: alert.incidentId as string } });
    expect(incident).toMatchObject({ status: 'open', openedBy: 'spade-detector', actorIds: [DEMO.staff.staff.id] });
    expect(incident.channel).toMatch(/^#incident-tenant-leak-\d{8}$/);
    const audited = await t.owner.prisma.auditEvent.findFirstOrThrow({ where: { eventType: 'decoy.touched', requestId } });
    expect(audited).toMatchObject({ actorId: DEMO.staff.staff.id, clientId: null });
    // Slack: posted once, and the outcome is on the incident's timeline.
    await waitFor('slack_posted on the timeline', () =>
      t.owner.prisma.incidentTimelineEntry.findFirst({ where: { incidentId: incident.id, kind: 'slack_posted' } }),
    );
    expect(slackPosts.filter((p) => p.includes(incident.id))).toHaveLength(1);
    const kinds = (await t.owner.prisma.incidentTimelineEntry.findMany({ where: { incidentId: incident.id } })).map((e) => e.kind);
    expect(kinds).toEqual(expect.arrayContaining(['opened', 'decoy.touched', 'slack_posted']));
    // `spade incident list` shows it.
    expect((await spade(['incident', 'list', '--json'])).map((i: { id: string }) => i.id)).toContain(incident.id);
  });

  it('an unfiltered list that returns a decoy row is caught by the response check, before the response guard blocks it', async () => {
    const ownerDb = await openDatabase({ kind: 'postgres', url: t.testDb.ownerUrl, poolMax: 4 });
    dbs.push(ownerDb);
    for (const guard of [false, true]) {
      const app = await buildApp(t.config, {
        db: ownerDb,
        unsafeSkipRuntimeRoleCheck: true,
        layers: { ...ALL_LAYERS_OFF, responseGuard: guard },
        logger: false,
        extraRoutes: leakyRoutes,
      });
      apps.push(app);
      const staff = await login(app, DEMO.staff.staff);
      const r = await app.inject({ method: 'GET', url: `/api/clients/${ACME}/leaky/all-cycles`, headers: staff.headers });
      expect(r.statusCode).toBe(guard ? 500 : 200);
      const alert = await t.owner.prisma.detectionAlert.findFirstOrThrow({ where: { requestId: String(r.headers['x-request-id']) } });
      expect(alert).toMatchObject({ kind: 'decoy.touched', detectedBy: 'api.response', status: 'incident' });
    }
  });

  it('a write naming a decoy only in its body (assigning staff to it) is a touch: one alert for the request', async () => {
    const admin = await login(t.app, DEMO.staff.admin);
    const r = await t.app.inject({
      method: 'POST',
      url: `/api/staff-users/${DEMO.staff.staff.id}/assignments`,
      headers: admin.headers,
      payload: { clientId: decoyClientId },
    });
    expect(r.statusCode, r.body).toBe(201);
    const alerts = await t.owner.prisma.detectionAlert.findMany({ where: { requestId: String(r.headers['x-request-id']) } });
    // The body check and the audit writer saw it in the API, the trigger in the database: whichever recorded first wins.
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ kind: 'decoy.touched', actorId: DEMO.staff.admin.id, status: 'incident' });
    expect(['api.body', 'api.audit-writer', 'database']).toContain(alerts[0]?.detectedBy);
    await t.owner.prisma.staffClientAssignment.deleteMany({ where: { clientId: decoyClientId } });
  });

  it("the database's own tripwire opens an incident for a decoy read that bypassed the API entirely", async () => {
    await t.owner.prisma.auditEvent.create({
      data: {
        eventType: 'cycle.read',
        actorType: 'staff',
        actorId: DEMO.staff.admin.id,
        clientId: decoyClientId,
        entityType: 'cycle',
        entityId: decoyCycleId,
        requestId: 'req-psql-decoy',
      },
    });
    const alert = await t.owner.prisma.detectionAlert.findFirstOrThrow({ where: { requestId: 'req-psql-decoy' } });
    expect(alert).toMatchObject({ kind: 'decoy.touched', detectedBy: 'database', status: 'incident' });
  });

  it('the database tripwire also fires inside a transaction of the runtime role (spade_app, under RLS)', async () => {
    // t.db is the API's own runtime connection (spade_app).
    await t.db.withSql(async (sql) => {
      await sql.exec('BEGIN');
      await sql.query(`SELECT set_config('app.client_ids', $1, true)`, [decoyClientId]);
      await sql.query(
        `INSERT INTO audit_events (event_type, actor_type, actor_id, client_id, entity_type, entity_id, request_id)
         VALUES ('cycle.read', 'staff', $1, $2, 'cycle', $3, 'req-app-role-decoy')`,
        [DEMO.staff.staff.id, decoyClientId, decoyCycleId],
      );
      await sql.exec('COMMIT');
    });
    const alert = await t.owner.prisma.detectionAlert.findFirstOrThrow({ where: { requestId: 'req-app-role-decoy' } });
    expect(alert).toMatchObject({ kind: 'decoy.touched', detectedBy: 'database', status: 'incident', actorId: DEMO.staff.staff.id });
  });

  it('a denied attempt on a decoy id by staff who may not see it is a touch too (the id can only have leaked)', async () => {
    const staff = await login(t.app, DEMO.staff.staff);
    const r = await t.app.inject({ method: 'GET', url: `/api/clients/${decoyClientId}/cycles`, headers: staff.headers });
    expect(r.statusCode).toBe(404);
    const alert = await t.owner.prisma.detectionAlert.findFirstOrThrow({ where: { requestId: String(r.headers['x-request-id']) } });
    expect(alert).toMatchObject({ kind: 'decoy.touched', detectedBy: 'api.url' });
  });
});

describe('per-tenant freeze', () => {
  it('answers 503 for one client on two instances within a second, to all but admins; other clients untouched; thaw restores', async () => {
    const secondDb = await openDatabase({ kind: 'postgres', url: t.testDb.appUrl, poolMax: 4 });
    dbs.push(secondDb);
    const second = await buildApp(t.config, { db: secondDb, adminDb: t.adminDb, logger: false });
    apps.push(second);
    const staff = await login(t.app, DEMO.staff.staff);
    const admin = await login(t.app, DEMO.staff.admin);
    const status = async (app: App, url: string, headers: Record<string, string>) =>
      (await app.inject({ method: 'GET', url, headers })).statusCode;
    expect(await status(t.app, `/api/clients/${ACME}/cycles`, staff.headers)).toBe(200);

    const incident = await spade(['incident', 'open', '--title', 'freeze drill', '--reporter', 'test', '--json']);
    const started = performance.now();
    const frozen = await spade(['tenants', 'freeze', ACME, '--incident', incident.incidentId, '--yes', '--json']);
    expect(frozen).toMatchObject({ frozen: 1 });
    for (const app of [t.app, second]) {
      await waitFor('frozen', async () => (await status(app, `/api/clients/${ACME}/cycles`, staff.headers)) === 503, 1_000);
    }
    console.log(`tenant freeze: applied on both instances in ${(performance.now() - started).toFixed(0)} ms`);
    const refused = await second.inject({ method: 'GET', url: `/api/clients/${ACME}`, headers: staff.headers });
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBeDefined();
    expect(refused.json()).toEqual({
      error: { code: 'unavailable', message: expect.any(String), requestId: refused.headers['x-request-id'] },
    });
    // Admins still get in; another client is untouched; staff-only routes keep working.
    expect(await status(second, `/api/clients/${ACME}/cycles`, admin.headers)).toBe(200);
    expect(await status(second, `/api/clients/${BORNEO}/cycles`, admin.headers)).toBe(200);
    expect(await status(second, '/api/clients', staff.headers)).toBe(200);
    // Staff who may not see Acme at all still get the plain 404: the freeze discloses nothing.
    const outsider = { email: `outsider-${Date.now()}@spade.test`, password: 'outsider-password-1' };
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/staff-users',
      headers: admin.headers,
      payload: { ...outsider, name: 'Outsider', role: 'staff' },
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(await status(second, `/api/clients/${ACME}/cycles`, (await login(t.app, outsider)).headers)).toBe(404);

    await spade(['tenants', 'thaw', ACME, '--incident', incident.incidentId, '--yes', '--json']);
    for (const app of [t.app, second]) {
      await waitFor('thawed', async () => (await status(app, `/api/clients/${ACME}/cycles`, staff.headers)) === 200, 1_000);
    }
  });
});

describe('breadth alerts', () => {
  it('staff touching more clients than the threshold and k× their baseline raises a suggested incident', async () => {
    const admin = await login(t.app, DEMO.staff.admin);
    for (const clientId of [ACME, BORNEO, CINNAMON]) {
      expect((await t.app.inject({ method: 'GET', url: `/api/clients/${clientId}`, headers: admin.headers })).statusCode).toBe(200);
    }
    const alert = await waitFor('breadth alert', () =>
      t.owner.prisma.detectionAlert.findFirst({ where: { kind: 'breadth.staff_clients', actorId: DEMO.staff.admin.id } }),
    );
    expect(alert).toMatchObject({ status: 'suggested', details: expect.objectContaining({ distinctClients: 3 }) });
    const listed = await spade(['incident', 'list', '--json']);
    expect(listed).toContainEqual(expect.objectContaining({ id: alert.id, status: 'suggested' }));
    expect(await t.owner.prisma.auditEvent.count({ where: { eventType: 'breadth.staff_clients' } })).toBe(1);
  });

  it('a burst of tenant_access_denied from one actor raises an alert, once', async () => {
    const staff = await login(t.app, DEMO.staff.staff);
    for (let i = 0; i < 4; i++) {
      expect((await t.app.inject({ method: 'GET', url: `/api/clients/${CINNAMON}`, headers: staff.headers })).statusCode).toBe(404);
    }
    await waitFor('denied burst', () =>
      t.owner.prisma.detectionAlert.findFirst({ where: { kind: 'breadth.denied_burst', actorId: DEMO.staff.staff.id } }),
    );
    await waitFor('denied burst by address', () =>
      t.owner.prisma.detectionAlert.findFirst({ where: { kind: 'breadth.denied_burst', address: { not: null } } }),
    );
    expect(await t.owner.prisma.detectionAlert.count({ where: { kind: 'breadth.denied_burst', actorId: DEMO.staff.staff.id } })).toBe(1);
  });

  it('a contact session whose request names another client raises an alert', async () => {
    const cycle = await t.owner.prisma.cycle.findFirstOrThrow({ where: { clientId: BORNEO } });
    const contact = await t.owner.prisma.contact.findFirstOrThrow({ where: { clientId: BORNEO } });
    const created = await t.app.inject({
      method: 'POST',
      url: `/api/clients/${BORNEO}/cycles/${cycle.id}/requests`,
      headers: (await login(t.app, DEMO.staff.admin)).headers,
      payload: { contactId: contact.id, items: [{ label: 'Receipts' }] },
    });
    expect(created.statusCode, created.body).toBe(201);
    const session = (
      await t.app.inject({ method: 'POST', url: '/api/portal/exchange', payload: { token: await t.linkForRequest(created.json().id) } })
    ).json().sessionToken;
    const r = await t.app.inject({
      method: 'GET',
      url: `/api/portal/clients/${ACME}/request`,
      headers: { authorization: `Bearer ${session}` },
    });
    expect(r.statusCode).toBe(404);
    const alert = await waitFor('contact alert', () =>
      t.owner.prisma.detectionAlert.findFirst({ where: { kind: 'breadth.contact_foreign_client', actorId: contact.id } }),
    );
    expect(alert.details).toMatchObject({ sessionClientId: BORNEO, namedClientId: ACME });
  });
});

describe('audit trail sealed by the API', () => {
  it('the interval job writes digests that verify', async () => {
    await waitFor('a digest', () => t.owner.prisma.auditDigest.findFirst(), 5_000);
    const report = await spade(['audit', 'verify', '--json']);
    expect(report).toMatchObject({ ok: true });
    expect(report.digests).toBeGreaterThan(0);
  });
});
