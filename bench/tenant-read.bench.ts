/**
 * What do the isolation layers (DESIGN.md §4) cost on a client-scoped read?
 *
 * One run, on the real PostgreSQL: a fresh database seeded with ≥ 1,000 clients and
 * ≥ 100,000 file rows, then `GET /api/clients/:clientId/cycles/:cycleId` (one findUnique +
 * one `cycle.read` audit insert, in one transaction) loaded by autocannon (64 connections)
 * against three servers in this process:
 *   layers on   buildApp as production builds it, connected as spade_app (RLS applies);
 *   layers off  buildApp with every layer switched off, over the owner connection;
 *   raw pg      node:http + pg doing BEGIN; SELECT the cycle; INSERT the audit row; COMMIT.
 * Prints req/s, p50, p99, non-2xx and the ratios, and whether "layers on ≥ 0.80× layers
 * off" holds; if it does not (or BENCH_PER_LAYER=1), measures each layer alone.
 *
 * Not a test: it asserts nothing about times. It fails loudly only if a response is not
 * 2xx, a request errors, or the audit rows do not match the responses.
 * Run: `pnpm bench` (see bench/README.md for the environment variables).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import inspector from 'node:inspector';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { type Database, hashPassword, openDatabase } from '@breezycorp/db';
import { createMigratedDatabase } from '@breezycorp/db/testing';
import pg from 'pg';
import { type App, buildApp } from '../apps/api/src/app.ts';
import { parseConfig } from '../apps/api/src/config.ts';
import { type IsolationLayers, ALL_LAYERS_OFF as OFF } from '../apps/api/src/tenancy/layers.ts';

// ---------------------------------------------------------------------------------------
// Settings (environment)

function intEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer ≥ ${min}, got "${raw}"`);
  return value;
}

const SECONDS = intEnv('BENCH_SECONDS', 10, 1);
const WARMUP_SECONDS = intEnv('BENCH_WARMUP_SECONDS', 2, 0);
/** Once, before the first round: every server in turn, so that no server pays alone for warming shared code. */
const PREWARM_SECONDS = intEnv('BENCH_PREWARM_SECONDS', 5, 0);
const CONNECTIONS = intEnv('BENCH_CONNECTIONS', 64, 1);
const POOL = intEnv('BENCH_POOL', 16, 1);
const CLIENTS = intEnv('BENCH_CLIENTS', 1_000, 100);
/** Per client: CYCLES cycles, one request each, ITEMS items per request, FILES files per item → 100 files. */
const CYCLES = 4;
const ITEMS = 5;
const FILES = 5;
const ACTOR = process.env.BENCH_ACTOR === 'staff' ? 'staff' : 'admin';
const PER_LAYER = process.env.BENCH_PER_LAYER === '1';
/** Repeat every measurement this many times (rotating the order) and report medians. */
const ROUNDS = intEnv('BENCH_ROUNDS', 1, 1);
const TARGET = 0.8;
/** Writes a V8 CPU profile of the main thread per measured run into this folder (diagnosis only). */
const PROFILE_DIR = process.env.BENCH_CPU_PROFILE_DIR || null;

/** One layer at a time (assertClientTenant and its runtime proof go together: the proof alone fails closed). */
const SINGLE_LAYERS: { name: string; layers: IsolationLayers }[] = [
  { name: 'only rowLevelSecurity (spade_app)', layers: { ...OFF, rowLevelSecurity: true } },
  { name: 'only tenantScope', layers: { ...OFF, tenantScope: true } },
  { name: 'only responseGuard', layers: { ...OFF, responseGuard: true } },
  { name: 'only assertClientTenant+authorizationProof', layers: { ...OFF, assertClientTenant: true, authorizationProof: true } },
  { name: 'only routeScope', layers: { ...OFF, routeScope: true } },
];

/** What load-worker.mjs is given and what it posts back, once per phase. */
interface LoadJob {
  url: string;
  token: string;
  /** Rotated in order across all connections: one cycle of a different client per request. */
  paths: string[];
  connections: number;
  phase: 'warmup' | 'measured';
  seconds: number;
}

interface LoadSummary {
  phase: 'warmup' | 'measured';
  seconds: number;
  requests: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  p50: number;
  p99: number;
  mean: number;
}

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

// ---------------------------------------------------------------------------------------
// Seed: bulk SQL through the owner connection (it bypasses RLS), ids derived from md5 so
// that every level can reference its parent without a lookup.

async function seed(owner: pg.Client, adminPasswordHash: string, staffPasswordHash: string) {
  const client = (i: string) => `md5('client:' || ${i})::uuid`;
  const contact = (i: string) => `md5('contact:' || ${i} || ':1')::uuid`;
  const cycle = `md5('cycle:' || i || ':' || j)::uuid`;
  const request = `md5('request:' || i || ':' || j)::uuid`;
  const item = `md5('item:' || i || ':' || j || ':' || k)::uuid`;
  await owner.query('BEGIN');
  await owner.query(
    `INSERT INTO staff_users (id, email, name, role, password_hash) VALUES
       ('00000000-0000-4000-8000-00000000be01', 'bench-admin@spade.test', 'Bench Admin', 'admin', $1),
       ('00000000-0000-4000-8000-00000000be02', 'bench-staff@spade.test', 'Bench Staff', 'staff', $2)`,
    [adminPasswordHash, staffPasswordHash],
  );
  await owner.query(
    `INSERT INTO clients (id, name, uen)
     SELECT ${client('i')}, 'Bench client ' || i, 'BENCH' || lpad(i::text, 6, '0') FROM generate_series(1, $1) i`,
    [CLIENTS],
  );
  await owner.query(
    `INSERT INTO staff_client_assignments (client_id, staff_user_id)
     SELECT ${client('i')}, '00000000-0000-4000-8000-00000000be02' FROM generate_series(1, $1) i`,
    [CLIENTS],
  );
  await owner.query(
    `INSERT INTO contacts (id, client_id, name, email)
     SELECT md5('contact:' || i || ':' || n)::uuid, ${client('i')}, 'Contact ' || n, 'contact' || n || '@client' || i || '.test'
     FROM generate_series(1, $1) i, generate_series(1, 2) n`,
    [CLIENTS],
  );
  await owner.query(
    `INSERT INTO cycles (id, client_id, kind, period, title, due_date, status, created_by)
     SELECT ${cycle}, ${client('i')}, (ARRAY['bookkeeping', 'accounting', 'tax', 'payroll'])[1 + (j - 1) % 4],
            '2026-Q' || j, 'Cycle ' || j || ' of client ' || i, DATE '2026-12-01' + (i % 90), 'open',
            '00000000-0000-4000-8000-00000000be01'
     FROM generate_series(1, $1) i, generate_series(1, $2) j`,
    [CLIENTS, CYCLES],
  );
  await owner.query(
    `INSERT INTO cycle_requests (id, client_id, cycle_id, contact_id, token_hash, expires_at, message)
     SELECT ${request}, ${client('i')}, ${cycle}, ${contact('i')}, md5('token:' || i || ':' || j),
            now() + interval '14 days', 'Please upload your documents'
     FROM generate_series(1, $1) i, generate_series(1, $2) j`,
    [CLIENTS, CYCLES],
  );
  await owner.query(
    `INSERT INTO request_items (id, client_id, cycle_request_id, position, label)
     SELECT ${item}, ${client('i')}, ${request}, k, 'Item ' || k
     FROM generate_series(1, $1) i, generate_series(1, $2) j, generate_series(1, $3) k`,
    [CLIENTS, CYCLES, ITEMS],
  );
  await owner.query(
    `INSERT INTO files (id, client_id, cycle_id, request_item_id, filename, content_type, size, sha256, storage_key,
                        uploaded_by_type, uploaded_by_id)
     SELECT md5('file:' || i || ':' || j || ':' || k || ':' || f)::uuid, ${client('i')}, ${cycle}, ${item},
            'statement-' || j || '-' || k || '-' || f || '.pdf', 'application/pdf', 10000 + f,
            encode(sha256(convert_to('file:' || i || ':' || j || ':' || k || ':' || f, 'UTF8')), 'hex'),
            'bench/' || i || '/' || j || '/' || k || '/' || f, 'contact', ${contact('i')}
     FROM generate_series(1, $1) i, generate_series(1, $2) j, generate_series(1, $3) k, generate_series(1, $4) f`,
    [CLIENTS, CYCLES, ITEMS, FILES],
  );
  await owner.query('COMMIT');
  await owner.query('ANALYZE');
  const counts = await owner.query<Record<string, string>>(
    `SELECT (SELECT count(*) FROM clients) AS clients, (SELECT count(*) FROM contacts) AS contacts,
            (SELECT count(*) FROM cycles) AS cycles, (SELECT count(*) FROM cycle_requests) AS cycle_requests,
            (SELECT count(*) FROM request_items) AS request_items, (SELECT count(*) FROM files) AS files`,
  );
  return counts.rows[0]!;
}

// ---------------------------------------------------------------------------------------
// Server (c): the same statements with raw pg, no framework, no ORM, no isolation layers.

const ROUTE = /^\/api\/clients\/([0-9a-f-]{36})\/cycles\/([0-9a-f-]{36})$/;
const SELECT_CYCLE = `SELECT id, client_id, kind, period, title, to_char(due_date, 'YYYY-MM-DD') AS due_date, status, created_at, updated_at
  FROM cycles WHERE client_id = $1 AND id = $2`;
const INSERT_AUDIT = `INSERT INTO audit_events (event_type, actor_type, actor_id, client_id, entity_type, entity_id, request_id, event_data_json)
  VALUES ('cycle.read', 'staff', $1, $2, 'cycle', $3, $4, '{}')`;

function rawPgServer(pool: pg.Pool, actorId: string): http.Server {
  const send = (res: http.ServerResponse, status: number, body: unknown) => {
    const json = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json) });
    res.end(json);
  };
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const match = req.method === 'GET' ? ROUTE.exec(req.url ?? '') : null;
    if (!match) return send(res, 404, { error: { code: 'not_found' } });
    // Presence only: the raw floor does no session lookup (the apps do two, outside the transaction).
    if (!req.headers.authorization?.startsWith('Bearer ')) return send(res, 401, { error: { code: 'unauthenticated' } });
    const [, clientId, cycleId] = match;
    const conn = await pool.connect();
    try {
      await conn.query('BEGIN');
      const { rows } = await conn.query(SELECT_CYCLE, [clientId, cycleId]);
      const cycle = rows[0];
      if (!cycle) {
        await conn.query('ROLLBACK');
        return send(res, 404, { error: { code: 'not_found' } });
      }
      await conn.query(INSERT_AUDIT, [actorId, clientId, cycleId, randomUUID()]);
      await conn.query('COMMIT');
      send(res, 200, {
        id: cycle.id,
        clientId: cycle.client_id,
        kind: cycle.kind,
        period: cycle.period,
        title: cycle.title,
        dueDate: cycle.due_date,
        status: cycle.status,
        createdAt: cycle.created_at.toISOString(),
        updatedAt: cycle.updated_at.toISOString(),
      });
    } catch (error) {
      await conn.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      conn.release();
    }
  };
  return http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log(`raw pg server error: ${String(error)}`);
      if (!res.headersSent) send(res, 500, { error: { code: 'internal' } });
    });
  });
}

// ---------------------------------------------------------------------------------------
// Load

interface Measured {
  name: string;
  summary: LoadSummary;
  reqPerSec: number;
  auditRows: number;
  /** The machine's 1-minute load average when the run started (other work on the machine shows here). */
  loadAtStart: number;
  /** CPU ms of this process's main thread (the servers) per response; null without /proc. */
  nodeCpuPerRequest: number | null;
  /** CPU ms of the bench database's PostgreSQL backends per response; null without /proc. */
  pgCpuPerRequest: number | null;
}

function load(job: LoadJob): Promise<LoadSummary> {
  return new Promise((resolve, reject) => {
    let summary: LoadSummary | undefined;
    const worker = new Worker(new URL('./load-worker.mjs', import.meta.url), { workerData: job });
    worker.on('message', (message: LoadSummary) => {
      summary = message;
    });
    worker.on('error', reject);
    worker.on('exit', (code) =>
      code === 0 && summary ? resolve(summary) : reject(new Error(`load worker exited with ${code} and no summary`)),
    );
  });
}

// ---------------------------------------------------------------------------------------
// CPU time from /proc (Linux; clock ticks of 10 ms): this process's main thread, where all
// three servers run, and the PostgreSQL backends of the bench database. Per request, these
// hold up better than req/s when other work shares the machine.

function procCpuMs(statPath: string): number | null {
  try {
    const stat = readFileSync(statPath, 'utf8');
    // Fields after "pid (comm) ": state is field 3, utime field 14, stime field 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return null;
  }
}

const mainThreadCpuMs = () => procCpuMs(`/proc/${process.pid}/task/${process.pid}/stat`);

/** A V8 CPU profile of this thread (node:inspector), for BENCH_CPU_PROFILE_DIR. */
async function startProfile(): Promise<{ stop(file: string): Promise<void> }> {
  const session = new inspector.Session();
  session.connect();
  const post = (method: string) =>
    new Promise<unknown>((resolve, reject) => session.post(method, (error, result) => (error ? reject(error) : resolve(result))));
  await post('Profiler.enable');
  await post('Profiler.start');
  return {
    async stop(file) {
      const { profile } = (await post('Profiler.stop')) as { profile: unknown };
      session.disconnect();
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, JSON.stringify(profile));
    },
  };
}

async function backendCpuMs(owner: pg.Client): Promise<Map<number, number>> {
  const { rows } = await owner.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
  );
  const cpu = new Map<number, number>();
  for (const { pid } of rows) {
    const ms = procCpuMs(`/proc/${pid}/stat`);
    if (ms !== null) cpu.set(pid, ms);
  }
  return cpu;
}

function listen(server: http.Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
}

// ---------------------------------------------------------------------------------------
// Output

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

interface Row {
  name: string;
  /** One per round. */
  runs: Measured[];
  /** Median over rounds of req/s ÷ the baseline's req/s in the same round. */
  ratio: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function medianOf(runs: Measured[], pick: (m: Measured) => number | null): number | null {
  const values = runs.map(pick);
  return values.some((v) => v === null) ? null : median(values as number[]);
}

/** The round whose req/s is the median (the lower one of the middle two): its latencies are shown. */
function medianRun(runs: Measured[]): Measured {
  return [...runs].sort((a, b) => a.reqPerSec - b.reqPerSec)[(runs.length - 1) >> 1]!;
}

const headers = () => [
  'server',
  'req/s',
  'p50',
  'p99',
  '2xx',
  'non-2xx',
  '÷ layers off',
  'node CPU/req',
  'pg CPU/req',
  'load',
  ...(ROUNDS > 1 ? ['req/s per round'] : []),
];

function row(r: Row): string[] {
  const mid = medianRun(r.runs);
  const nodeCpu = medianOf(r.runs, (m) => m.nodeCpuPerRequest);
  const pgCpu = medianOf(r.runs, (m) => m.pgCpuPerRequest);
  return [
    r.name,
    fmt(median(r.runs.map((m) => m.reqPerSec))),
    `${fmt(mid.summary.p50, 1)} ms`,
    `${fmt(mid.summary.p99, 1)} ms`,
    fmt(r.runs.reduce((n, m) => n + m.summary.ok, 0)),
    fmt(r.runs.reduce((n, m) => n + m.summary.non2xx, 0)),
    `${fmt(r.ratio, 2)}×`,
    nodeCpu === null ? 'n/a' : `${fmt(nodeCpu, 2)} ms`,
    pgCpu === null ? 'n/a' : `${fmt(pgCpu, 2)} ms`,
    fmt(median(r.runs.map((m) => m.loadAtStart)), 1),
    ...(ROUNDS > 1 ? [r.runs.map((m) => fmt(m.reqPerSec)).join(' / ')] : []),
  ];
}

// ---------------------------------------------------------------------------------------
// Main

async function main(): Promise<number> {
  const started = Date.now();
  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await fn().catch((error: unknown) => log(`cleanup: ${String(error)}`));
    cleanups.length = 0;
  };
  // Bounded: seeding + every configuration that could run, with generous slack.
  const budgetMs = (240 + (3 + 1 + SINGLE_LAYERS.length) * (PREWARM_SECONDS + ROUNDS * (SECONDS + WARMUP_SECONDS + 20))) * 1000;
  const watchdog = setTimeout(() => {
    log(`gave up after ${budgetMs / 1000} s`);
    void cleanup().finally(() => process.exit(3));
  }, budgetMs);
  watchdog.unref();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: cleaning up`);
      void cleanup().finally(() => process.exit(130));
    });
  }

  try {
    log(`creating and migrating a fresh database`);
    const testDb = await createMigratedDatabase('spade_bench');
    cleanups.push(() => testDb.drop());
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'spade-bench-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));

    const owner = new pg.Client({ connectionString: testDb.ownerUrl });
    await owner.connect();
    cleanups.push(() => owner.end());
    const adminPassword = randomBytes(12).toString('base64url');
    const staffPassword = randomBytes(12).toString('base64url');
    log(`seeding ${fmt(CLIENTS)} clients (${fmt(CLIENTS * CYCLES * ITEMS * FILES)} files) with bulk SQL`);
    const seedStarted = Date.now();
    const counts = await seed(owner, await hashPassword(adminPassword), await hashPassword(staffPassword));
    log(`seeded in ${((Date.now() - seedStarted) / 1000).toFixed(1)} s: ${JSON.stringify(counts)}`);
    const pgVersion = (await owner.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version;

    // One cycle of every client, in a shuffled order: each request reads another tenant's row.
    const targets = (
      await owner.query<{ client_id: string; id: string }>(
        `SELECT DISTINCT ON (client_id) client_id, id FROM cycles ORDER BY client_id, md5(id::text)`,
      )
    ).rows.sort(() => Math.random() - 0.5);
    const paths = targets.map((t) => `/api/clients/${t.client_id}/cycles/${t.id}`);
    const auditRows = async () =>
      Number((await owner.query<{ n: string }>(`SELECT count(*) AS n FROM audit_events WHERE event_type = 'cycle.read'`)).rows[0]!.n);

    const config = parseConfig({ SPADE_DATA_DIR: dataDir, LOG_LEVEL: 'silent', SPADE_LOGIN_PER_MINUTE: '1000' });
    const appDb: Database = await openDatabase({ kind: 'postgres', url: testDb.appUrl, poolMax: POOL });
    cleanups.push(() => appDb.close());
    // Admin firm-wide reads log in on their own (spade_admin_login), as in production.
    const adminDb: Database = await openDatabase({ kind: 'postgres', url: testDb.adminUrl, poolMax: POOL });
    cleanups.push(() => adminDb.close());
    const ownerDb: Database = await openDatabase({ kind: 'postgres', url: testDb.ownerUrl, poolMax: POOL });
    cleanups.push(() => ownerDb.close());
    const rawPool = new pg.Pool({ connectionString: testDb.ownerUrl, max: POOL });
    cleanups.push(() => rawPool.end());

    const buildWith = async (layers: IsolationLayers): Promise<App> => {
      const rls = layers.rowLevelSecurity;
      const app = await buildApp(config, {
        db: rls ? appDb : ownerDb,
        adminDb: rls ? adminDb : ownerDb,
        unsafeSkipRuntimeRoleCheck: !rls,
        layers,
        logger: false,
      });
      cleanups.push(() => app.close());
      return app;
    };
    /** Fastify's listen resolves to the address, e.g. http://127.0.0.1:41234. */
    const listenApp = (app: App) => app.listen({ host: '127.0.0.1', port: 0 });

    // Log in through the product (layers on), as the admin or as staff assigned to every client.
    const layersOn = await buildApp(config, { db: appDb, adminDb, logger: false });
    cleanups.push(() => layersOn.close());
    const who =
      ACTOR === 'admin'
        ? { email: 'bench-admin@spade.test', password: adminPassword }
        : { email: 'bench-staff@spade.test', password: staffPassword };
    const login = await layersOn.inject({ method: 'POST', url: '/api/auth/login', payload: who });
    if (login.statusCode !== 200) throw new Error(`login failed: ${login.statusCode} ${login.body}`);
    const { token, staffUser } = login.json<{ token: string; staffUser: { id: string } }>();

    const layersOff = await buildWith(OFF);
    const raw = rawPgServer(rawPool, staffUser.id);
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          raw.closeAllConnections();
          raw.close(() => resolve());
        }),
    );

    const servers = [
      { name: 'layers on', url: await listenApp(layersOn) },
      { name: 'layers off', url: await listenApp(layersOff) },
      { name: 'raw pg', url: await listen(raw) },
    ];

    // Every server must answer the same read with the same cycle before it is measured.
    const probe = targets[0]!;
    for (const server of servers) {
      const response = await fetch(`${server.url}${paths[0]}`, { headers: { authorization: `Bearer ${token}` } });
      const body = (await response.json()) as { id?: string; clientId?: string };
      if (response.status !== 200 || body.id !== probe.id || body.clientId !== probe.client_id) {
        throw new Error(`${server.name}: probe read returned ${response.status} ${JSON.stringify(body)}`);
      }
    }

    const measure = async (name: string, url: string): Promise<Measured> => {
      log(`${name}: ${WARMUP_SECONDS} s warm-up + ${SECONDS} s, ${CONNECTIONS} connections over ${paths.length} clients`);
      const before = await auditRows();
      const job = { url, token, paths, connections: CONNECTIONS };
      const summaries: LoadSummary[] = [];
      if (WARMUP_SECONDS > 0) summaries.push(await load({ ...job, phase: 'warmup', seconds: WARMUP_SECONDS }));
      const loadAtStart = os.loadavg()[0]!;
      const nodeBefore = mainThreadCpuMs();
      const pgBefore = await backendCpuMs(owner);
      const profiler = PROFILE_DIR ? await startProfile() : null;
      const summary = await load({ ...job, phase: 'measured', seconds: SECONDS });
      if (profiler && PROFILE_DIR) await profiler.stop(path.join(PROFILE_DIR, `${name.replace(/[^a-z0-9]+/gi, '-')}.cpuprofile`));
      summaries.push(summary);
      const nodeAfter = mainThreadCpuMs();
      const pgAfter = await backendCpuMs(owner);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const written = (await auditRows()) - before;
      const pgMs = [...pgAfter].reduce((sum, [pid, ms]) => sum + ms - (pgBefore.get(pid) ?? 0), 0);
      for (const s of summaries) {
        log(
          `  ${s.phase}: ${fmt(s.ok / s.seconds)} req/s, p50 ${s.p50} ms, p99 ${s.p99} ms, ${s.ok} 2xx, ${s.non2xx} non-2xx, ${s.errors} errors`,
        );
      }
      const ok = summaries.reduce((n, s) => n + s.ok, 0);
      for (const s of summaries) {
        const other = Object.keys(s.statusCodes).filter((code) => code !== '200');
        if (s.non2xx > 0 || s.errors > 0 || s.timeouts > 0 || other.length > 0) {
          throw new Error(
            `${name} (${s.phase}): ${s.non2xx} non-2xx, ${s.errors} errors, ${s.timeouts} timeouts; status codes ${JSON.stringify(s.statusCodes)}`,
          );
        }
      }
      // Every 2xx wrote its audit row (there may be more: requests whose response autocannon
      // no longer counted because the run had stopped).
      if (written < ok) {
        throw new Error(`${name}: ${ok} responses were 2xx but ${written} cycle.read audit rows were written`);
      }
      return {
        name,
        summary,
        reqPerSec: summary.ok / summary.seconds,
        auditRows: written,
        loadAtStart,
        nodeCpuPerRequest: nodeBefore === null || nodeAfter === null ? null : (nodeAfter - nodeBefore) / summary.requests,
        pgCpuPerRequest: pgAfter.size === 0 ? null : pgMs / summary.requests,
      };
    };

    /** Measures `configs` ROUNDS times, rotating the order each round so that drift on a shared machine evens out. */
    const runRounds = async (configs: { name: string; url: string }[]): Promise<Map<string, Measured[]>> => {
      // The servers share code (Fastify, Prisma's runtime): without this the first one measured
      // also pays for the JIT warming that code up, and comes out 10–20 % slower.
      if (PREWARM_SECONDS > 0) {
        log(`pre-warming ${configs.length} servers, ${PREWARM_SECONDS} s each`);
        for (const c of configs)
          await load({ url: c.url, token, paths, connections: CONNECTIONS, phase: 'warmup', seconds: PREWARM_SECONDS });
      }
      const runs = new Map<string, Measured[]>(configs.map((c) => [c.name, []]));
      for (let round = 0; round < ROUNDS; round++) {
        if (ROUNDS > 1) log(`round ${round + 1} of ${ROUNDS}`);
        const shift = round % configs.length;
        for (const c of [...configs.slice(shift), ...configs.slice(0, shift)]) runs.get(c.name)!.push(await measure(c.name, c.url));
      }
      return runs;
    };
    /** One row per config: medians over rounds; the ratio is the median of same-round ratios to the baseline. */
    const aggregate = (runs: Map<string, Measured[]>, baselineName: string): Row[] => {
      const baseline = runs.get(baselineName)!;
      return [...runs].map(([name, measured]) => ({
        name,
        runs: measured,
        ratio: median(measured.map((m, round) => m.reqPerSec / baseline[round]!.reqPerSec)),
      }));
    };

    const headline = aggregate(await runRounds(servers), 'layers off');
    const [on, off, rawResult] = headline as [Row, Row, Row];
    const met = on.ratio >= TARGET;

    const out: string[] = [];
    out.push('');
    out.push('tenant-read bench: GET /api/clients/:clientId/cycles/:cycleId (findUnique + cycle.read audit insert, one transaction)');
    out.push(
      `node ${process.version}, PostgreSQL ${pgVersion}, ${os.cpus().length} CPUs; ${CONNECTIONS} connections, pool ${POOL}, ` +
        `${SECONDS} s measured after ${WARMUP_SECONDS} s warm-up per server (all pre-warmed ${PREWARM_SECONDS} s), ${ROUNDS} round(s); actor: ${ACTOR}; ${paths.length} clients rotated`,
    );
    out.push(
      `seeded: ${fmt(Number(counts.clients))} clients, ${fmt(Number(counts.files))} files, ${fmt(Number(counts.cycles))} cycles, ` +
        `${fmt(Number(counts.contacts))} contacts, ${fmt(Number(counts.cycle_requests))} cycle_requests, ${fmt(Number(counts.request_items))} request_items`,
    );
    out.push('');
    out.push(table(headers(), headline.map(row)));
    out.push('');
    out.push(`layers on ÷ layers off = ${fmt(on.ratio, 2)}×`);
    out.push(`raw pg ÷ layers off    = ${fmt(rawResult.ratio, 2)}×`);
    out.push(`target layers on ≥ ${TARGET.toFixed(2)}× layers off: ${met ? 'MET' : 'MISSED'}`);
    const onCpu = medianOf(on.runs, (m) => m.nodeCpuPerRequest);
    const offCpu = medianOf(off.runs, (m) => m.nodeCpuPerRequest);
    if (onCpu && offCpu) {
      out.push(
        `node CPU per request: layers off ÷ layers on = ${fmt(offCpu / onCpu, 2)}× ` +
          '(the req/s ratio to expect while the node thread is the bottleneck; steadier than req/s on a shared machine)',
      );
    }
    out.push('');
    out.push('Notes: "layers off" still runs one transaction per request (BEGIN … COMMIT around the read and the audit insert)');
    out.push('but, with RLS off, sets no context; with RLS on, role and tenant ride on that BEGIN (no extra round trip). "raw pg"');
    out.push('does no session lookup (the apps resolve the Bearer token with three statements outside the transaction).');
    out.push('"node CPU/req" = CPU of this process\'s main thread (all servers run on it) per response; "pg CPU/req" = CPU of');
    out.push("the bench database's PostgreSQL backends per response (both from /proc, 10 ms ticks).");
    out.push(
      `"load" = the 1-minute load average when that run started (${os.cpus().length} CPUs): above that, other work shared the machine.`,
    );
    if (ROUNDS > 1)
      out.push('With several rounds: medians over rounds; ratios are medians of same-round ratios; 2xx and non-2xx are totals.');

    if (!met || PER_LAYER) {
      out.push('');
      out.push(
        `${met ? 'Per layer (BENCH_PER_LAYER=1)' : 'Target missed: each layer alone'}; cost = 1 − (req/s ÷ layers off, measured again alongside):`,
      );
      const configs = [{ name: 'layers off', url: servers[1]!.url }];
      for (const variant of SINGLE_LAYERS) configs.push({ name: variant.name, url: await listenApp(await buildWith(variant.layers)) });
      const single = aggregate(await runRounds(configs), 'layers off');
      out.push(
        table(
          [...headers(), 'cost'],
          single.map((r) => [...row(r), `${fmt((1 - r.ratio) * 100, 1)} %`]),
        ),
      );
    }
    out.push('');
    out.push(`finished in ${((Date.now() - started) / 1000).toFixed(0)} s; database ${testDb.name} dropped`);
    await cleanup();
    process.stdout.write(`${out.join('\n')}\n`);
    return 0;
  } catch (error) {
    log(`FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    await cleanup();
    return 1;
  } finally {
    clearTimeout(watchdog);
  }
}

process.exit(await main());
