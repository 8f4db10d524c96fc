import { execFile } from 'node:child_process';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { DEMO } from '@breezycorp/db';
import { migrate, openDatabase, seedDemo, type UnsafeDatabase } from '@breezycorp/db/unsafe';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../app.ts';
import { parseConfig } from '../config.ts';
import { errorShapeProblem, parseRawResponse, sleep } from './support/robustness.ts';
import { createTestApp, type TestApp } from './support/test-app.ts';

/*
 * Issue 8, items 1 and 3: Spade survives its database. A real app LISTENING on a port, over
 * a real PostgreSQL, with ≥ 64 requests in flight (staff and contact routes) while its
 * backends are terminated, while every backend of its database is terminated at once, and
 * while a PostgreSQL cluster this test owns is stopped and started again. The process must
 * stay up (no uncaught exception, no unhandled rejection), every answer must be 2xx or 503
 * in the error shape with Retry-After (never a 500, never a dropped connection), and the
 * routes must answer 2xx again within 2 s of the fault ending — without a restart.
 */

const CONCURRENCY = 64;
const RECOVERY_LIMIT_MS = 2_000;
const run = promisify(execFile);

interface Route {
  label: string;
  url: string;
  headers: Record<string, string>;
}
interface Outcome {
  route: string;
  status: number;
  problem: string | null;
}

const crashes: string[] = [];
const onUncaught = (error: Error) => crashes.push(`uncaughtException: ${error.stack ?? error.message}`);
const onUnhandled = (reason: unknown) =>
  crashes.push(`unhandledRejection: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`);

async function hit(base: string, route: Route): Promise<Outcome> {
  try {
    const response = await fetch(base + route.url, { headers: route.headers, signal: AbortSignal.timeout(10_000) });
    const body = await response.text();
    const headers = Object.fromEntries(response.headers);
    let problem: string | null = null;
    if (response.status >= 200 && response.status < 300) problem = null;
    else if (response.status === 503) {
      problem = errorShapeProblem(503, headers, body);
      if (!problem && !/^\d+$/.test(headers['retry-after'] ?? ''))
        problem = `503 without a numeric Retry-After (got ${headers['retry-after']})`;
    } else problem = `${response.status}: ${body.slice(0, 200)}`;
    return { route: route.label, status: response.status, problem };
  } catch (error) {
    return {
      route: route.label,
      status: 0,
      problem: `no answer: ${(error as Error).message} ${String((error as { cause?: unknown }).cause ?? '')}`,
    };
  }
}

/** CONCURRENCY workers, each with one request in flight at a time, until `stop()`; bounded in count. */
async function underLoad(base: string, routes: Route[], stop: () => boolean, maxRequests = 40_000) {
  const outcomes: Outcome[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let sent = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, worker) => {
      let n = worker;
      while (!stop() && sent < maxRequests) {
        sent += 1;
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        const outcome = await hit(base, routes[n++ % routes.length] as Route);
        inFlight -= 1;
        outcomes.push(outcome);
      }
    }),
  );
  return { outcomes, maxInFlight };
}

/** Rounds of every route at once until one round is all 2xx: the time from `since` to that round. */
async function recoveryMs(base: string, routes: Route[], since: number, limitMs = 15_000): Promise<{ ms: number; last: Outcome[] }> {
  let last: Outcome[] = [];
  while (Date.now() - since < limitMs) {
    last = await Promise.all(routes.map((route) => hit(base, route)));
    if (last.every((o) => o.status >= 200 && o.status < 300)) return { ms: Date.now() - since, last };
    await sleep(25);
  }
  return { ms: Number.POSITIVE_INFINITY, last };
}

function summarise(outcomes: Outcome[]): string {
  const counts = new Map<string, number>();
  for (const o of outcomes) counts.set(String(o.status), (counts.get(String(o.status)) ?? 0) + 1);
  return [...counts].map(([status, n]) => `${status}×${n}`).join(' ');
}

function problems(outcomes: Outcome[]): string[] {
  const distinct = new Map<string, number>();
  for (const o of outcomes) if (o.problem) distinct.set(`${o.route}: ${o.problem}`, (distinct.get(`${o.route}: ${o.problem}`) ?? 0) + 1);
  return [...distinct].slice(0, 15).map(([text, n]) => `${n}× ${text}`);
}

async function actorRoutes(app: App, ownerPrisma: UnsafeDatabase['prisma'], magicToken: string): Promise<Route[]> {
  const loginAs = async (who: { email: string; password: string }) => {
    const r = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: who.email, password: who.password } });
    if (r.statusCode !== 200) throw new Error(`login: ${r.statusCode} ${r.body}`);
    return { authorization: `Bearer ${r.json<{ token: string }>().token}` };
  };
  const admin = await loginAs(DEMO.staff.admin);
  const staff = await loginAs(DEMO.staff.staff);
  const exchanged = await app.inject({ method: 'POST', url: '/api/portal/exchange', payload: { token: magicToken } });
  if (exchanged.statusCode !== 200) throw new Error(`exchange: ${exchanged.statusCode} ${exchanged.body}`);
  const contact = { authorization: `Bearer ${exchanged.json<{ sessionToken: string }>().sessionToken}` };
  const acme = DEMO.clients.acme;
  const cycle = await ownerPrisma.cycle.findFirstOrThrow({ where: { clientId: acme } });
  return [
    { label: 'staff GET /api/clients/:id', url: `/api/clients/${acme}`, headers: staff },
    { label: 'staff GET cycles', url: `/api/clients/${acme}/cycles`, headers: staff },
    { label: 'staff GET cycle', url: `/api/clients/${acme}/cycles/${cycle.id}`, headers: staff },
    { label: 'staff GET /api/auth/me', url: '/api/auth/me', headers: staff },
    { label: 'admin GET /api/clients', url: '/api/clients', headers: admin },
    { label: 'admin GET audit-events', url: `/api/clients/${acme}/audit-events?limit=5`, headers: admin },
    { label: 'contact GET request', url: `/api/portal/clients/${acme}/request`, headers: contact },
    { label: 'contact GET files', url: `/api/portal/clients/${acme}/files`, headers: contact },
    { label: 'GET /readyz', url: '/readyz', headers: {} },
  ];
}

function assertSurvived(label: string, load: { outcomes: Outcome[]; maxInFlight: number }, recovery: { ms: number; last: Outcome[] }) {
  process.stdout.write(
    `database faults [${label}]: ${load.outcomes.length} requests, max ${load.maxInFlight} in flight, ${summarise(load.outcomes)}; ` +
      `recovery to all-2xx: ${Number.isFinite(recovery.ms) ? `${recovery.ms} ms` : 'never (15 s)'}\n`,
  );
  const distinctCrashes = [...new Set(crashes.map((c) => c.split('\n')[0]))];
  expect(crashes.length, `${crashes.length} uncaught errors while under the fault: ${distinctCrashes.join(' | ')}`).toBe(0);
  expect(load.maxInFlight).toBeGreaterThanOrEqual(CONCURRENCY);
  expect(problems(load.outcomes), 'every answer under the fault is 2xx or 503 + error shape + Retry-After').toEqual([]);
  expect(recovery.ms, `not all 2xx within ${RECOVERY_LIMIT_MS} ms; last round: ${JSON.stringify(recovery.last)}`).toBeLessThanOrEqual(
    RECOVERY_LIMIT_MS,
  );
}

beforeAll(() => {
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUnhandled);
});
beforeEach(() => {
  crashes.length = 0;
});
afterAll(() => {
  process.off('uncaughtException', onUncaught);
  process.off('unhandledRejection', onUnhandled);
});

describe('database faults under load on the shared test cluster', () => {
  let t: TestApp;
  let base: string;
  let routes: Route[];
  let killer: pg.Client;

  beforeAll(async () => {
    t = await createTestApp({ seed: false });
    const seeded = await seedDemo(t.owner.prisma, { storageDir: t.config.storageDir });
    const token = seeded.magicLinks.find((link) => link.contactEmail === 'alice@acme.example')?.token as string;
    routes = await actorRoutes(t.app, t.owner.prisma, token);
    base = await t.app.listen({ host: '127.0.0.1', port: 0 });
    // A connection of its own for the faults, which excludes itself from the terminations.
    killer = new pg.Client({ connectionString: t.testDb.ownerUrl });
    killer.on('error', () => undefined);
    await killer.connect();
  });

  afterAll(async () => {
    await killer?.end().catch(() => undefined);
    await t?.close();
  });

  afterEach(() => {
    expect(t.app.server.listening, 'the server is still listening').toBe(true);
  });

  it('terminating the app backends repeatedly under ≥ 64 in-flight requests: no crash, 2xx or 503, 2xx again within 2 s', async () => {
    let stopped = false;
    const load = underLoad(base, routes, () => stopped);
    await sleep(300);
    let terminated = 0;
    const faultsUntil = Date.now() + 3_000;
    while (Date.now() < faultsUntil) {
      const r = await killer.query(
        `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
         WHERE usename = 'spade_app' AND datname = current_database()`,
      );
      terminated += r.rows[0].n as number;
      await sleep(40);
    }
    const faultsEnded = Date.now();
    stopped = true;
    const result = await load;
    const recovery = await recoveryMs(base, routes, faultsEnded);
    process.stdout.write(`database faults [terminate spade_app backends]: ${terminated} backends terminated\n`);
    expect(terminated).toBeGreaterThan(0);
    assertSurvived('terminate spade_app backends', result, recovery);
  }, 90_000);

  it('terminating every backend of the database at once under load: no crash, 2xx or 503, 2xx again within 2 s', async () => {
    let stopped = false;
    const load = underLoad(base, routes, () => stopped);
    await sleep(300);
    let terminated = 0;
    for (let round = 0; round < 5; round += 1) {
      const r = await killer.query(
        `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()`,
      );
      terminated += r.rows[0].n as number;
      await sleep(400);
    }
    const faultsEnded = Date.now();
    stopped = true;
    const result = await load;
    const recovery = await recoveryMs(base, routes, faultsEnded);
    process.stdout.write(`database faults [terminate all backends]: ${terminated} backends terminated\n`);
    expect(terminated).toBeGreaterThan(0);
    assertSurvived('terminate all backends', result, recovery);
  }, 90_000);

  it('an exhausted pool answers 503 with Retry-After in bounded time, not a 500 and not a hang', async () => {
    // Every connection of the app's pool (8) held by something else for 8 s.
    const holders = Array.from({ length: 8 }, () => t.db.withSql(() => sleep(8_000)));
    await sleep(200);
    const started = Date.now();
    const answers = await Promise.all(routes.filter((r) => r.label !== 'GET /readyz').map((route) => hit(base, route)));
    const ms = Date.now() - started;
    await Promise.all(holders);
    process.stdout.write(`database faults [pool exhausted]: ${summarise(answers)} in ${ms} ms\n`);
    expect(crashes).toEqual([]);
    for (const answer of answers) {
      expect(answer.status, `${answer.route}: ${answer.problem}`).toBe(503);
      expect(answer.problem, answer.route).toBeNull();
    }
    expect(ms, 'pool acquisition is bounded: the 503 comes before the connections are freed').toBeLessThan(7_500);
    const recovery = await recoveryMs(base, routes, Date.now());
    expect(recovery.ms).toBeLessThanOrEqual(RECOVERY_LIMIT_MS);
  }, 60_000);
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The PostgreSQL binaries of this machine; a missing one fails the test (never a skip). */
const PG_BIN = process.env.SPADE_PG_BIN ?? '/usr/lib/postgresql/15/bin';

describe('a PostgreSQL cluster owned by this test, stopped and started under load', () => {
  let dir: string;
  let dataDir: string;
  let port: number;
  let app: App | null = null;
  let db: UnsafeDatabase | null = null;
  let adminDb: UnsafeDatabase | null = null;
  let owner: UnsafeDatabase | null = null;
  let routesOfCluster: Route[] = [];
  let dataRoot: string | null = null;

  const asPostgres = (args: string[]) => {
    const command = process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', ...args]] : [args[0] as string, args.slice(1)];
    return run(command[0] as string, command[1] as string[], { timeout: 60_000 });
  };
  const pgCtl = (action: 'start' | 'stop') =>
    action === 'start'
      ? asPostgres([
          `${PG_BIN}/pg_ctl`,
          '-D',
          dataDir,
          '-l',
          path.join(dir, 'postgres.log'),
          '-o',
          `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
          '-w',
          'start',
        ])
      : asPostgres([`${PG_BIN}/pg_ctl`, '-D', dataDir, '-m', 'fast', '-w', 'stop']);

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'spade-pg-'));
    dataDir = path.join(dir, 'data');
    if (process.getuid?.() === 0) {
      const { stdout } = await run('id', ['-u', 'postgres']);
      const { stdout: gid } = await run('id', ['-g', 'postgres']);
      await chown(dir, Number(stdout.trim()), Number(gid.trim()));
    }
    // initdb refuses to run as root: it runs as postgres (runuser), trust auth, no fsync.
    await asPostgres([`${PG_BIN}/initdb`, '-D', dataDir, '-U', 'postgres', '-A', 'trust', '--no-sync']);
    port = await freePort();
    await pgCtl('start');
    const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query('CREATE DATABASE spade_restart');
    await admin.end();
    owner = await openDatabase({ kind: 'postgres', url: `postgres://postgres@127.0.0.1:${port}/spade_restart`, poolMax: 2 });
    await owner.withSql((sql) => migrate(sql));
    dataRoot = await mkdtemp(path.join(tmpdir(), 'spade-restart-data-'));
    const config = parseConfig({
      SPADE_DATA_DIR: dataRoot,
      LOG_LEVEL: 'silent',
      SPADE_LOGIN_PER_MINUTE: '100000',
      SPADE_EXCHANGE_PER_MINUTE: '100000',
    });
    const seeded = await seedDemo(owner.prisma, { storageDir: config.storageDir });
    await owner.close();
    owner = null;
    db = await openDatabase({ kind: 'postgres', url: `postgres://spade_app@127.0.0.1:${port}/spade_restart`, poolMax: 8 });
    adminDb = await openDatabase({ kind: 'postgres', url: `postgres://spade_admin_login@127.0.0.1:${port}/spade_restart`, poolMax: 4 });
    app = await buildApp(config, { db, adminDb, logger: false });
    const ownerForIds = await openDatabase({ kind: 'postgres', url: `postgres://postgres@127.0.0.1:${port}/spade_restart`, poolMax: 1 });
    try {
      const token = seeded.magicLinks.find((link) => link.contactEmail === 'alice@acme.example')?.token as string;
      routesOfCluster = await actorRoutes(app, ownerForIds.prisma, token);
    } finally {
      await ownerForIds.close();
    }
  }, 120_000);

  afterAll(async () => {
    await app?.close().catch(() => undefined);
    await db?.close().catch(() => undefined);
    await adminDb?.close().catch(() => undefined);
    await owner?.close().catch(() => undefined);
    if (dataDir) await asPostgres([`${PG_BIN}/pg_ctl`, '-D', dataDir, '-m', 'immediate', 'stop']).catch(() => undefined);
    if (dataRoot) await rm(dataRoot, { recursive: true, force: true, maxRetries: 3 });
    if (dir) await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  }, 60_000);

  it('PostgreSQL stopped for 3 s under ≥ 64 in-flight requests: 503 with Retry-After while down, 2xx within 2 s of its return', async () => {
    const a = app as App;
    const base = await a.listen({ host: '127.0.0.1', port: 0 });
    let stopped = false;
    const load = underLoad(base, routesOfCluster, () => stopped);
    await sleep(300);
    await pgCtl('stop');
    const downAt = Date.now();
    // While it is down: probe a round ourselves and require 503s in the shape (not 500, not a hang).
    await sleep(1_000);
    const whileDown = await Promise.all(routesOfCluster.map((route) => hit(base, route)));
    await sleep(2_000);
    await pgCtl('start');
    const backAt = Date.now();
    stopped = true;
    const result = await load;
    const recovery = await recoveryMs(base, routesOfCluster, backAt);
    process.stdout.write(`database faults [cluster stop/start]: down ${backAt - downAt} ms; while down: ${summarise(whileDown)}\n`);
    expect(
      whileDown.every((o) => o.status === 503 && o.problem === null),
      `while PostgreSQL is down every answer is a 503 in the shape with Retry-After: ${JSON.stringify(whileDown)}`,
    ).toBe(true);
    assertSurvived('cluster stop/start', result, recovery);
    expect(a.server.listening).toBe(true);
  }, 120_000);
});

describe('shutdown', () => {
  it("a request that arrives while the server shuts down gets a 503 in the error shape with x-request-id (not Fastify's own body)", async () => {
    const t = await createTestApp();
    let closing: Promise<void> | null = null;
    const socket = new net.Socket();
    try {
      await t.app.listen({ host: '127.0.0.1', port: 0 });
      const { port } = t.app.server.address() as net.AddressInfo;
      let raw = '';
      let ended = false;
      socket.on('data', (chunk) => {
        raw += chunk.toString('latin1');
      });
      socket.on('close', () => {
        ended = true;
      });
      socket.on('error', () => undefined);
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.connect(port, '127.0.0.1', () => resolve());
      });
      // Request 1 is in flight (half its body sent) when the shutdown starts; request 2 follows it on the same connection.
      const body = JSON.stringify({ email: 'nobody@spade.test', password: 'not-the-password' });
      socket.write(
        `POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
      );
      await sleep(200);
      closing = t.app.close();
      await sleep(200);
      socket.write(`${body.slice(10)}GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`);
      const deadline = Date.now() + 10_000;
      while (!ended && Date.now() < deadline && (raw.match(/HTTP\/1\.1 \d{3}/g) ?? []).length < 2) await sleep(50);
      await sleep(200);
      const second = raw.indexOf('HTTP/1.1', raw.indexOf('HTTP/1.1') + 1);
      expect(second, `two answers on the connection; got: ${raw.slice(0, 600)}`).toBeGreaterThan(0);
      const answer = parseRawResponse(raw.slice(second), true);
      expect(answer?.status, raw.slice(second, second + 400)).toBe(503);
      expect(errorShapeProblem(503, answer?.headers ?? {}, answer?.body ?? '')).toBeNull();
      expect(answer?.headers['retry-after'], 'a shutdown 503 says when to retry').toMatch(/^\d+$/);
    } finally {
      socket.destroy();
      await closing?.catch(() => undefined);
      await t.db.close().catch(() => undefined);
      await t.testDb.drop();
      await rm(t.dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
