import { DEMO } from '@breezycorp/db';
import { openDatabase, type UnsafeDatabase } from '@breezycorp/db/unsafe';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../app.ts';
import { notFound } from '../errors.ts';
import { clientScope } from '../routes/client-route.ts';
import { cycleView } from '../routes/cycles/schema.ts';
import { ALL_LAYERS_ON, type IsolationLayers, ALL_LAYERS_OFF as OFF } from '../tenancy/layers.ts';
import { createTestApp, login, type TestApp } from './support/test-app.ts';

/**
 * DESIGN §4: each layer alone must stop a cross-tenant read. These tests switch the other
 * layers off (test-only switches; layer 4 is switched off by connecting as the owner, which
 * bypasses RLS) and replay the canonical attacks against deliberately careless handlers:
 *  A. a handler that forgot to scope a findUnique (fetches a cycle by id only);
 *  B. a list handler that forgot its filter (findMany with no where);
 *  C. a write that takes client_id from the request body.
 * The attacker is staff assigned to Acme only, using Acme's :clientId and Borneo's ids.
 */
const ACME = DEMO.clients.acme;
const BORNEO = DEMO.clients.borneo;

async function carelessRoutes(app: FastifyInstance) {
  app.get('/api/clients/:clientId/careless/cycles/:cycleId', { config: { routeScope: 'client-scoped' } }, async (request) => {
    const { cycleId } = request.params as { cycleId: string };
    const cycle = await clientScope(request).db.cycle.findUnique({ where: { id: cycleId } });
    if (!cycle) throw notFound();
    return cycleView(cycle);
  });
  app.get('/api/clients/:clientId/careless/cycles', { config: { routeScope: 'client-scoped' } }, async (request) => {
    const cycles = await clientScope(request).db.cycle.findMany();
    return { cycles: cycles.map(cycleView) };
  });
  app.post('/api/clients/:clientId/careless/cycles', { config: { routeScope: 'client-scoped' } }, async (request, reply) => {
    const { clientId, title } = request.body as { clientId: string; title: string };
    const cycle = await clientScope(request).db.cycle.create({ data: { clientId, kind: 'other', period: 'x', title } });
    return reply.code(201).send(cycleView(cycle));
  });
}

let t: TestApp;
let ownerDb: UnsafeDatabase;
let borneoCycleId: string;
const apps: App[] = [];

/** Layer 4 is on when `layers.rowLevelSecurity` is; off means an owner connection that bypasses RLS. */
async function appWith(layers: Partial<IsolationLayers>): Promise<App> {
  const rls = layers.rowLevelSecurity !== false;
  const app = await buildApp(t.config, {
    db: rls ? t.db : ownerDb,
    adminDb: rls ? t.adminDb : ownerDb,
    unsafeSkipRuntimeRoleCheck: !rls,
    layers,
    logger: false,
    extraRoutes: carelessRoutes,
  });
  apps.push(app);
  return app;
}

beforeAll(async () => {
  t = await createTestApp();
  ownerDb = await openDatabase({ kind: 'postgres', url: t.testDb.ownerUrl, poolMax: 4 });
  const cycle = await t.owner.prisma.cycle.findFirstOrThrow({ where: { clientId: BORNEO } });
  borneoCycleId = cycle.id;
});
afterAll(async () => {
  for (const app of apps) await app.close();
  await ownerDb?.close();
  await t?.close();
});

interface Outcome {
  status: number;
  body: string;
}

async function attacks(app: App): Promise<{ findUnique: Outcome; list: Outcome; write: Outcome }> {
  const { headers } = await login(app, DEMO.staff.staff);
  const findUnique = await app.inject({ method: 'GET', url: `/api/clients/${ACME}/careless/cycles/${borneoCycleId}`, headers });
  const list = await app.inject({ method: 'GET', url: `/api/clients/${ACME}/careless/cycles`, headers });
  const marker = `planted-${Math.random().toString(36).slice(2)}`;
  const write = await app.inject({
    method: 'POST',
    url: `/api/clients/${ACME}/careless/cycles`,
    headers,
    payload: { clientId: BORNEO, title: marker },
  });
  const written = await t.owner.prisma.cycle.count({ where: { title: marker } });
  expect(written, 'the foreign write must not persist').toBe(0);
  return {
    findUnique: { status: findUnique.statusCode, body: findUnique.body },
    list: { status: list.statusCode, body: list.body },
    write: { status: write.statusCode, body: write.body },
  };
}

function expectNoBorneo(outcome: Outcome) {
  expect(outcome.body).not.toContain(BORNEO);
  expect(outcome.body).not.toContain(borneoCycleId);
  expect(outcome.body).not.toContain('Borneo');
}

describe('each layer alone stops the canonical attacks', () => {
  it('all layers on: careless findUnique, unfiltered list and foreign write leak nothing', async () => {
    const result = await attacks(await appWith(ALL_LAYERS_ON));
    expect(result.findUnique.status).toBe(404);
    expect(result.list.status).toBe(200);
    for (const outcome of Object.values(result)) expectNoBorneo(outcome);
  });

  it('layer 3 alone (tenant-scope extension; no RLS, no assertion, no guard)', async () => {
    const result = await attacks(await appWith({ ...OFF, tenantScope: true }));
    expect(result.findUnique.status).toBe(404);
    expect(result.list.status).toBe(200);
    expect(result.write.status).toBe(404);
    for (const outcome of Object.values(result)) expectNoBorneo(outcome);
  });

  it('layer 4 alone (row-level security; no extension, no assertion, no guard)', async () => {
    const result = await attacks(await appWith({ ...OFF, rowLevelSecurity: true }));
    expect(result.findUnique.status).toBe(404);
    expect(result.list.status).toBe(200);
    expect(result.write.status).toBeGreaterThanOrEqual(400);
    for (const outcome of Object.values(result)) expectNoBorneo(outcome);
  });

  it('layer 6 alone (response guard; no RLS, no extension, no assertion) blocks and audits leak.blocked', async () => {
    const before = await t.owner.prisma.auditEvent.count({ where: { eventType: 'leak.blocked' } });
    const result = await attacks(await appWith({ ...OFF, responseGuard: true }));
    expect(result.findUnique.status).toBe(500);
    expect(result.list.status).toBe(500);
    expect(result.write.status).toBe(500);
    for (const outcome of Object.values(result)) expectNoBorneo(outcome);
    const after = await t.owner.prisma.auditEvent.findMany({ where: { eventType: 'leak.blocked' }, orderBy: { occurredAt: 'asc' } });
    expect(after.length - before).toBe(3);
    expect(after.at(-1)?.eventDataJson).toMatchObject({ route: 'POST /api/clients/:clientId/careless/cycles' });
    expect(after.at(-1)?.requestId).toBeTruthy();
  });

  it("layer 2 alone (assertClientTenant) stops the URL attack: Acme staff naming Borneo's :clientId", async () => {
    const app = await appWith({ ...OFF, assertClientTenant: true });
    const { headers } = await login(app, DEMO.staff.staff);
    for (const url of [
      `/api/clients/${BORNEO}/careless/cycles/${borneoCycleId}`,
      `/api/clients/${BORNEO}/careless/cycles`,
      `/api/clients/${BORNEO}/cycles`,
    ]) {
      const response = await app.inject({ method: 'GET', url, headers });
      expect(response.statusCode, url).toBe(404);
      expectNoBorneo({ status: response.statusCode, body: response.body });
    }
  });

  it('with every layer off, the careless handlers do leak (so the tests above can fail)', async () => {
    const result = await attacks(await appWith(OFF)).catch((error: Error) => ({ error }));
    // The foreign write persists here, so attacks() itself fails its "must not persist" check.
    expect('error' in result).toBe(true);
    const app = apps.at(-1) as App;
    const { headers } = await login(app, DEMO.staff.staff);
    const leaked = await app.inject({ method: 'GET', url: `/api/clients/${ACME}/careless/cycles/${borneoCycleId}`, headers });
    expect(leaked.statusCode).toBe(200);
    expect(leaked.body).toContain(BORNEO);
    await t.owner.prisma.cycle.deleteMany({ where: { clientId: BORNEO, kind: 'other', period: 'x' } });
  });

  it('layer 1 alone (route scope) stops anonymous and contact callers of staff routes', async () => {
    const app = await appWith({ ...OFF, routeScope: true });
    const anonymous = await app.inject({ method: 'GET', url: `/api/clients/${BORNEO}/careless/cycles` });
    expect(anonymous.statusCode).toBe(401);
    expectNoBorneo({ status: anonymous.statusCode, body: anonymous.body });
  });
});

describe('runtime proof that authorization ran (layer 2, strengthened)', () => {
  it('a client-scoped handler reached without assertClientTenant fails closed: 500, rolled back, audited, logged', async () => {
    const app = await appWith({ ...ALL_LAYERS_ON, assertClientTenant: false });
    const { headers } = await login(app, DEMO.staff.staff);
    const marker = `unverified-${Math.random().toString(36).slice(2)}`;
    const response = await app.inject({
      method: 'POST',
      url: `/api/clients/${ACME}/careless/cycles`,
      headers,
      payload: { clientId: ACME, title: marker },
    });
    expect(response.statusCode).toBe(500);
    expect(response.json()).toMatchObject({ error: { code: 'internal', requestId: response.headers['x-request-id'] } });
    expect(await t.owner.prisma.cycle.count({ where: { title: marker } }), 'rolled back').toBe(0);
    const event = await t.owner.prisma.auditEvent.findFirst({
      where: { eventType: 'authorization_unverified', requestId: String(response.headers['x-request-id']) },
    });
    expect(event?.eventDataJson).toMatchObject({ route: 'POST /api/clients/:clientId/careless/cycles' });
  });

  it('with the assertion on, the same careless route answers normally for its own client', async () => {
    const app = await appWith(ALL_LAYERS_ON);
    const { headers } = await login(app, DEMO.staff.staff);
    const response = await app.inject({ method: 'GET', url: `/api/clients/${ACME}/careless/cycles`, headers });
    expect(response.statusCode).toBe(200);
    expect(response.json<{ cycles: { clientId: string }[] }>().cycles.every((c) => c.clientId === ACME)).toBe(true);
  });
});
