import { DEMO } from '@breezycorp/db';
import { openDatabase, type UnsafeDatabase } from '@breezycorp/db/unsafe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../app.ts';
import { createTestApp, login, type TestApp } from './support/test-app.ts';

/**
 * The kill switch: a route taken offline answers 503 (with Retry-After and the error
 * shape) to client-scoped requests on every running instance within a second — through
 * LISTEN/NOTIFY, not the poll (set to a minute here) — and survives a restart.
 */
const ACME = DEMO.clients.acme;
const ROUTE = '/api/clients/:clientId/cycles';

let t: TestApp;
let secondDb: UnsafeDatabase;
let second: App;
let headers: Record<string, string>;
beforeAll(async () => {
  t = await createTestApp({ env: { SPADE_KILL_SWITCH_POLL_MS: '60000' } });
  secondDb = await openDatabase({ kind: 'postgres', url: t.testDb.appUrl, poolMax: 4 });
  second = await buildApp(t.config, { db: secondDb, adminDb: t.adminDb, logger: false });
  headers = (await login(t.app, DEMO.staff.staff)).headers;
});
afterAll(async () => {
  await second?.close();
  await secondDb?.close();
  await t?.close();
});

async function statusOn(app: App, url: string) {
  return (await app.inject({ method: 'GET', url, headers })).statusCode;
}

async function waitFor(predicate: () => Promise<boolean>, limitMs: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < limitMs) {
    if (await predicate()) return performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`not within ${limitMs} ms`);
}

describe('route kill switch', () => {
  it('takes a client-scoped route offline on two instances within a second; staff-only routes keep working', async () => {
    const url = `/api/clients/${ACME}/cycles`;
    expect(await statusOn(t.app, url)).toBe(200);
    expect(await statusOn(second, url)).toBe(200);

    // What `spade routes offline "GET /api/clients/:clientId/cycles"` writes.
    await t.owner.prisma.routeKillSwitch.create({
      data: { method: 'GET', routePattern: ROUTE, reason: 'suspected leak', createdBy: 'on-call' },
    });
    const first = await waitFor(async () => (await statusOn(t.app, url)) === 503, 1_000);
    const other = await waitFor(async () => (await statusOn(second, url)) === 503, 1_000);
    expect(Math.max(first, other)).toBeLessThan(1_000);

    const response = await t.app.inject({ method: 'GET', url, headers });
    expect(response.headers['retry-after']).toBeDefined();
    expect(response.json()).toMatchObject({ error: { code: 'route_offline', requestId: response.headers['x-request-id'] } });
    expect((await t.app.inject({ method: 'HEAD', url, headers })).statusCode).toBe(503);
    // Other routes, and staff-only routes, are untouched.
    expect(await statusOn(t.app, `/api/clients/${ACME}`)).toBe(200);
    expect(await statusOn(t.app, '/api/clients')).toBe(200);
  });

  it('survives a restart: a new instance starts with the route offline', async () => {
    const restarted = await buildApp(t.config, { db: t.db, adminDb: t.adminDb, logger: false });
    try {
      expect(await statusOn(restarted, `/api/clients/${ACME}/cycles`)).toBe(503);
    } finally {
      await restarted.close();
    }
  });

  it('lifting the switch brings the route back on every instance within a second', async () => {
    const url = `/api/clients/${ACME}/cycles`;
    await t.owner.prisma.routeKillSwitch.updateMany({
      where: { routePattern: ROUTE, liftedAt: null },
      data: { liftedAt: new Date(), liftedBy: 'on-call' },
    });
    await waitFor(async () => (await statusOn(t.app, url)) === 200, 1_000);
    await waitFor(async () => (await statusOn(second, url)) === 200, 1_000);
  });

  it('after its LISTEN backend is terminated, an instance still learns of a switch within a second (the listener reconnects)', async () => {
    const url = `/api/clients/${ACME}/cycles`;
    expect(await statusOn(t.app, url)).toBe(200);
    // Every LISTENing backend of this database: both instances' listeners.
    const killListeners = () =>
      t.owner.withSql((sql) =>
        sql.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE datname = current_database() AND usename = 'spade_app' AND query ILIKE 'LISTEN%'`,
        ),
      );
    const listeners = async () =>
      (
        await t.owner.withSql((sql) =>
          sql.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity
              WHERE datname = current_database() AND usename = 'spade_app' AND query ILIKE 'LISTEN%'`,
          ),
        )
      )[0]!.n;
    expect(await listeners()).toBeGreaterThanOrEqual(2);
    await killListeners();
    // Back within the backoff's first steps (the poll is a minute here, so only LISTEN can do it).
    await waitFor(async () => (await listeners()) >= 2, 2_000);

    await t.owner.prisma.routeKillSwitch.create({
      data: { method: 'GET', routePattern: ROUTE, reason: 'second incident', createdBy: 'on-call' },
    });
    const first = await waitFor(async () => (await statusOn(t.app, url)) === 503, 1_000);
    const other = await waitFor(async () => (await statusOn(second, url)) === 503, 1_000);
    expect(Math.max(first, other)).toBeLessThan(1_000);
    await t.owner.prisma.routeKillSwitch.updateMany({
      where: { routePattern: ROUTE, liftedAt: null },
      data: { liftedAt: new Date(), liftedBy: 'on-call' },
    });
    await waitFor(async () => (await statusOn(t.app, url)) === 200, 1_000);
  });
});
