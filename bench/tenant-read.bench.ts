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
import { execFile, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import inspector from 'node:inspector';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type App, buildApp, type IsolationLayers, ALL_LAYERS_OFF as OFF, parseConfig } from '@breezycorp/api';
import { hashPassword, hashToken, isTokenOf, isUuid, newToken, SCOPED_CLIENTS_KEPT } from '@breezycorp/db';
import { createMigratedDatabase } from '@breezycorp/db/testing';
import { auditInsertThenCommit, auditValuesLiteral, openDatabase, type UnsafeDatabase } from '@breezycorp/db/unsafe';
import pg from 'pg';

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
/** Tenant-scoped clients each layers-on server keeps (the product's SPADE_SCOPED_CLIENTS); default the product's. */
const SCOPED_CLIENTS = intEnv('BENCH_SCOPED_CLIENTS', SCOPED_CLIENTS_KEPT, 1);
const CLIENTS = intEnv('BENCH_CLIENTS', 1_000, 100);
/** Per client: CYCLES cycles, one request each, ITEMS items per request, FILES files per item → 100 files. */
const CYCLES = 4;
const ITEMS = 5;
const FILES = 5;
const ACTOR = process.env.BENCH_ACTOR === 'staff' ? 'staff' : 'admin';
const PER_LAYER = process.env.BENCH_PER_LAYER === '1';
/** Repeat every measurement this many times (rotating the order) and report medians. */
const ROUNDS = intEnv('BENCH_ROUNDS', 1, 1);
/** The scale section's rounds: its < 10 % target is smaller than one run's noise on a shared machine, so it takes medians. */
const SCALE_ROUNDS = intEnv('BENCH_SCALE_ROUNDS', 3, 1);
const TARGET = 0.8;
/** The scale section: the main database grown to this many clients (0 skips the section), vs a database of SMALL_CLIENTS. */
const SCALE_CLIENTS = intEnv('BENCH_SCALE_CLIENTS', 10_000, 0);
const SMALL_CLIENTS = 10;
/** Files of the one client whose list the scale section pages through; the page size. */
const BULKY_FILES = intEnv('BENCH_LIST_FILES', 10_000, 100);
const PAGE = 50;
/** The upload section: one file of this many MB (0 skips it), UPLOAD_RUNS times through each server. */
const UPLOAD_MB = intEnv('BENCH_UPLOAD_MB', 20, 0);
const UPLOAD_RUNS = intEnv('BENCH_UPLOAD_RUNS', 5, 1);
/** Unmeasured uploads through each server first, as every server of the headline is warmed up before it is measured. */
const UPLOAD_WARMUP = intEnv('BENCH_UPLOAD_WARMUP', 1, 0);
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

const ADMIN_ID = '00000000-0000-4000-8000-00000000be01';
const STAFF_ID = '00000000-0000-4000-8000-00000000be02';

async function seedStaff(owner: pg.Client, adminPasswordHash: string, staffPasswordHash: string) {
  await owner.query(
    `INSERT INTO staff_users (id, email, name, role, password_hash) VALUES
       ('${ADMIN_ID}', 'bench-admin@spade.test', 'Bench Admin', 'admin', $1),
       ('${STAFF_ID}', 'bench-staff@spade.test', 'Bench Staff', 'staff', $2)`,
    [adminPasswordHash, staffPasswordHash],
  );
}

/**
 * Clients `from`..`to` (inclusive) with everything under them, in one transaction. Called
 * again with a higher range, it grows the database (the scale section does that). The
 * staff member is assigned to the clients only when `assignStaff` is set.
 */
async function seedClients(owner: pg.Client, from: number, to: number, assignStaff: boolean) {
  const client = (i: string) => `md5('client:' || ${i})::uuid`;
  const contact = (i: string) => `md5('contact:' || ${i} || ':1')::uuid`;
  const cycle = `md5('cycle:' || i || ':' || j)::uuid`;
  const request = `md5('request:' || i || ':' || j)::uuid`;
  const item = `md5('item:' || i || ':' || j || ':' || k)::uuid`;
  await owner.query('BEGIN');
  await owner.query(
    `INSERT INTO clients (id, name, uen)
     SELECT ${client('i')}, 'Bench client ' || i, 'BENCH' || lpad(i::text, 6, '0') FROM generate_series($1::int, $2::int) i`,
    [from, to],
  );
  if (assignStaff) {
    await owner.query(
      `INSERT INTO staff_client_assignments (client_id, staff_user_id)
       SELECT ${client('i')}, '${STAFF_ID}' FROM generate_series($1::int, $2::int) i`,
      [from, to],
    );
  }
  await owner.query(
    `INSERT INTO contacts (id, client_id, name, email)
     SELECT md5('contact:' || i || ':' || n)::uuid, ${client('i')}, 'Contact ' || n, 'contact' || n || '@client' || i || '.test'
     FROM generate_series($1::int, $2::int) i, generate_series(1, 2) n`,
    [from, to],
  );
  await owner.query(
    `INSERT INTO cycles (id, client_id, kind, period, title, due_date, status, created_by)
     SELECT ${cycle}, ${client('i')}, (ARRAY['bookkeeping', 'accounting', 'tax', 'payroll'])[1 + (j - 1) % 4],
            '2026-Q' || j, 'Cycle ' || j || ' of client ' || i, DATE '2026-12-01' + (i % 90), 'open', '${ADMIN_ID}'
     FROM generate_series($1::int, $2::int) i, generate_series(1, $3::int) j`,
    [from, to, CYCLES],
  );
  await owner.query(
    `INSERT INTO cycle_requests (id, client_id, cycle_id, contact_id, token_hash, expires_at, message)
     SELECT ${request}, ${client('i')}, ${cycle}, ${contact('i')}, md5('token:' || i || ':' || j),
            now() + interval '14 days', 'Please upload your documents'
     FROM generate_series($1::int, $2::int) i, generate_series(1, $3::int) j`,
    [from, to, CYCLES],
  );
  await owner.query(
    `INSERT INTO request_items (id, client_id, cycle_request_id, position, label)
     SELECT ${item}, ${client('i')}, ${request}, k, 'Item ' || k
     FROM generate_series($1::int, $2::int) i, generate_series(1, $3::int) j, generate_series(1, $4::int) k`,
    [from, to, CYCLES, ITEMS],
  );
  await owner.query(
    `INSERT INTO files (id, client_id, cycle_id, request_item_id, filename, content_type, size, sha256, storage_key,
                        uploaded_by_type, uploaded_by_id)
     SELECT md5('file:' || i || ':' || j || ':' || k || ':' || f)::uuid, ${client('i')}, ${cycle}, ${item},
            'statement-' || j || '-' || k || '-' || f || '.pdf', 'application/pdf', 10000 + f,
            encode(sha256(convert_to('file:' || i || ':' || j || ':' || k || ':' || f, 'UTF8')), 'hex'),
            'bench/' || i || '/' || j || '/' || k || '/' || f, 'contact', ${contact('i')}
     FROM generate_series($1::int, $2::int) i, generate_series(1, $3::int) j, generate_series(1, $4::int) k,
          generate_series(1, $5::int) f`,
    [from, to, CYCLES, ITEMS, FILES],
  );
  await owner.query('COMMIT');
}

/**
 * One client with `files` files on a single checklist item (the list route's worst case),
 * created one second apart so the list's order is the insertion order.
 */
async function seedBulkyClient(owner: pg.Client, files: number): Promise<{ clientId: string }> {
  const clientId = (await owner.query<{ id: string }>(`SELECT md5('bulky-client')::uuid AS id`)).rows[0]!.id;
  await owner.query('BEGIN');
  await owner.query(`INSERT INTO clients (id, name, uen) VALUES ($1, 'Bulky client', 'BULKY00001')`, [clientId]);
  await owner.query(
    `INSERT INTO contacts (id, client_id, name, email) VALUES (md5('bulky-contact')::uuid, $1, 'Bulky contact', 'bulky@client.test')`,
    [clientId],
  );
  await owner.query(
    `INSERT INTO cycles (id, client_id, kind, period, title, due_date, status, created_by)
     VALUES (md5('bulky-cycle')::uuid, $1, 'bookkeeping', '2026-Q1', 'Bulky cycle', DATE '2026-12-01', 'open', '${ADMIN_ID}')`,
    [clientId],
  );
  await owner.query(
    `INSERT INTO cycle_requests (id, client_id, cycle_id, contact_id, token_hash, expires_at, message)
     VALUES (md5('bulky-request')::uuid, $1, md5('bulky-cycle')::uuid, md5('bulky-contact')::uuid, md5('bulky-token'),
             now() + interval '14 days', 'Everything, please')`,
    [clientId],
  );
  await owner.query(
    `INSERT INTO request_items (id, client_id, cycle_request_id, position, label)
     VALUES (md5('bulky-item')::uuid, $1, md5('bulky-request')::uuid, 1, 'Everything')`,
    [clientId],
  );
  await owner.query(
    `INSERT INTO files (id, client_id, cycle_id, request_item_id, filename, content_type, size, sha256, storage_key,
                        uploaded_by_type, uploaded_by_id, created_at)
     SELECT md5('bulky-file:' || f)::uuid, $1, md5('bulky-cycle')::uuid, md5('bulky-item')::uuid,
            'receipt-' || lpad(f::text, 5, '0') || '.pdf', 'application/pdf', 20000 + f,
            encode(sha256(convert_to('bulky-file:' || f, 'UTF8')), 'hex'), 'bench/bulky/' || f, 'contact',
            md5('bulky-contact')::uuid, TIMESTAMPTZ '2026-01-01 00:00:00+00' + f * interval '1 second'
     FROM generate_series(1, $2::int) f`,
    [clientId, files],
  );
  await owner.query('COMMIT');
  return { clientId };
}

async function seedCounts(owner: pg.Client) {
  await owner.query('ANALYZE');
  const counts = await owner.query<Record<string, string>>(
    `SELECT (SELECT count(*) FROM clients) AS clients, (SELECT count(*) FROM contacts) AS contacts,
            (SELECT count(*) FROM cycles) AS cycles, (SELECT count(*) FROM cycle_requests) AS cycle_requests,
            (SELECT count(*) FROM request_items) AS request_items, (SELECT count(*) FROM files) AS files`,
  );
  return counts.rows[0]!;
}

// ---------------------------------------------------------------------------------------
// Servers (c) and (d): node:http + pg, no framework, no ORM.
//   raw pg (fair)    the statements an app request performs, in the same order and on the
//                    same kind of connection (spade_app, RLS on): the session lookup through
//                    the same SECURITY DEFINER function, outside the transaction; BEGIN with
//                    role and tenant folded in (one simple-protocol round trip); the cycle;
//                    the audit row folded into COMMIT's round trip (`INSERT … VALUES (literals);
//                    COMMIT`, id and occurred_at the database's), built by packages/db's own
//                    auditValuesLiteral and auditInsertThenCommit, as a unit's COMMIT is. The
//                    session lookup is the one-client form a client-scoped route uses
//                    (migration 0013). Keep SESSION_LOOKUP in step with
//                    apps/api/src/services/token-lookups.ts.
//   raw pg (old)     the pre-2026-12 floor, kept for continuity: owner connection (no RLS), no
//                    session lookup, no context: BEGIN; cycle; audit row; COMMIT.

const ROUTE = /^\/api\/clients\/([0-9a-f-]{36})\/cycles\/([0-9a-f-]{36})$/;
const SESSION_LOOKUP =
  'SELECT session_id, staff_user_id, role, client_ids, second_factor_pending FROM spade_resolve_staff_session_for_client($1, $2::uuid)';
const SELECT_CYCLE = `SELECT id, client_id, kind, period, title, to_char(due_date, 'YYYY-MM-DD') AS due_date, status, created_at, updated_at
  FROM cycles WHERE id = $1 AND client_id = $2 LIMIT 1`;
const INSERT_AUDIT_OLD = `INSERT INTO audit_events (event_type, actor_type, actor_id, client_id, entity_type, entity_id, request_id, event_data_json)
  VALUES ('cycle.read', 'staff', $1, $2, 'cycle', $3, $4, '{}')`;

function rawPgServer(pool: pg.Pool, mode: { kind: 'fair' } | { kind: 'old'; actorId: string }): http.Server {
  const send = (res: http.ServerResponse, status: number, body: unknown) => {
    const json = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json) });
    res.end(json);
  };
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const match = req.method === 'GET' ? ROUTE.exec(req.url ?? '') : null;
    if (!match) return send(res, 404, { error: { code: 'not_found' } });
    const [, clientId, cycleId] = match as unknown as [string, string, string];
    const authorization = req.headers.authorization;
    if (!authorization?.startsWith('Bearer ')) return send(res, 401, { error: { code: 'unauthenticated' } });
    let actorId: string;
    if (mode.kind === 'fair') {
      const token = authorization.slice(7).trim();
      if (!isTokenOf('staff', token) || !(isUuid(clientId) && clientId === clientId.toLowerCase()))
        return send(res, 401, { error: { code: 'unauthenticated' } });
      const { rows } = await pool.query<{ staff_user_id: string; role: string; client_ids: string[] }>(SESSION_LOOKUP, [
        hashToken(token),
        clientId,
      ]);
      const session = rows[0];
      if (!session) return send(res, 401, { error: { code: 'unauthenticated' } });
      if (session.role !== 'admin' && !session.client_ids.includes(clientId)) return send(res, 404, { error: { code: 'not_found' } });
      actorId = session.staff_user_id;
    } else {
      actorId = mode.actorId;
    }
    const conn = await pool.connect();
    try {
      await conn.query(
        mode.kind === 'fair'
          ? `BEGIN; SELECT set_config('role', 'spade_app', true), set_config('app.client_ids', '${clientId}', true)`
          : 'BEGIN',
      );
      const { rows } = await conn.query(SELECT_CYCLE, [cycleId, clientId]);
      const cycle = rows[0];
      if (!cycle) {
        await conn.query('ROLLBACK');
        return send(res, 404, { error: { code: 'not_found' } });
      }
      if (mode.kind === 'fair') {
        const row = {
          eventType: 'cycle.read',
          actorType: 'staff',
          actorId,
          clientId,
          entityType: 'cycle',
          entityId: cycleId,
          requestId: randomUUID(),
          eventDataJson: {},
        } as const;
        await conn.query(auditInsertThenCommit([auditValuesLiteral(row)]));
      } else {
        await conn.query(INSERT_AUDIT_OLD, [actorId, clientId, cycleId, randomUUID()]);
        await conn.query('COMMIT');
      }
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
// Uploads: one file through the portal's upload route vs node:http streaming the same
// request body to disk. curl sends both (a child process: the upload's client does not
// share this event loop).

function curlUpload(url: string, file: string, token: string | null): Promise<{ status: number; seconds: number; bytes: number }> {
  const args = ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{time_total} %{size_upload}', '-F', `file=@${file};type=application/pdf`];
  if (token) args.push('-H', `authorization: Bearer ${token}`);
  return new Promise((resolve, reject) => {
    execFile('curl', [...args, url], (error, stdout) => {
      if (error) return reject(error);
      const [status, seconds, bytes] = stdout.trim().split(' ').map(Number) as [number, number, number];
      resolve({ status, seconds, bytes });
    });
  });
}

/** The upload section's servers (upload-servers.ts) in a child process: their URLs, its RSS, and a stop. */
async function startUploadServers(
  env: Record<string, string>,
): Promise<{ api: string; node: string; rss(): number; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(path.dirname(fileURLToPath(import.meta.url)), 'upload-servers.ts')], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const first = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const end = buffered.indexOf('\n');
      if (end >= 0) resolve(buffered.slice(0, end));
    });
    child.once('exit', (code) => reject(new Error(`upload servers exited (${code}) before listening`)));
  });
  const { api, node } = JSON.parse(first) as { api: string; node: string };
  const page = 4096;
  return {
    api,
    node,
    rss: () => Number(readFileSync(`/proc/${child.pid}/statm`, 'utf8').split(' ')[1]) * page,
    async stop() {
      child.stdin.end();
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
      child.kill();
    },
  };
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
  const runSeconds = PREWARM_SECONDS + ROUNDS * (SECONDS + WARMUP_SECONDS + 20);
  // Bounded: seeding + every configuration that could run, with generous slack.
  const budgetMs =
    (240 +
      (4 + 1 + SINGLE_LAYERS.length) * runSeconds +
      (SCALE_CLIENTS > 0 ? 600 + 4 * runSeconds : 0) +
      (UPLOAD_MB > 0 ? 2 * (UPLOAD_WARMUP + UPLOAD_RUNS) * (30 + UPLOAD_MB) : 0)) *
    1000;
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
    const adminPasswordHash = await hashPassword(adminPassword);
    log(`seeding ${fmt(CLIENTS)} clients (${fmt(CLIENTS * CYCLES * ITEMS * FILES)} files) with bulk SQL`);
    const seedStarted = Date.now();
    await seedStaff(owner, adminPasswordHash, await hashPassword(staffPassword));
    await seedClients(owner, 1, CLIENTS, true);
    const counts = await seedCounts(owner);
    log(`seeded in ${((Date.now() - seedStarted) / 1000).toFixed(1)} s: ${JSON.stringify(counts)}`);
    const pgVersion = (await owner.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version;

    /** One cycle of every client, in a shuffled order: each request reads another tenant's row. */
    const cyclePaths = async (db: pg.Client) =>
      (
        await db.query<{ client_id: string; id: string }>(
          `SELECT DISTINCT ON (client_id) client_id, id FROM cycles ORDER BY client_id, md5(id::text)`,
        )
      ).rows
        .sort(() => Math.random() - 0.5)
        .map((t) => ({ ...t, path: `/api/clients/${t.client_id}/cycles/${t.id}` }));
    const targets = await cyclePaths(owner);
    const paths = targets.map((t) => t.path);
    const auditRows = async (db: pg.Client) =>
      Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM audit_events WHERE event_type = 'cycle.read'`)).rows[0]!.n);

    const config = parseConfig({
      SPADE_DATA_DIR: dataDir,
      LOG_LEVEL: 'silent',
      SPADE_LOGIN_PER_MINUTE: '1000',
    });
    const appDb: UnsafeDatabase = await openDatabase({
      kind: 'postgres',
      url: testDb.appUrl,
      poolMax: POOL,
      scopedClientsKept: SCOPED_CLIENTS,
    });
    cleanups.push(() => appDb.close());
    // Admin staff-only routes' own login (the bench's read route is client-scoped and never opens it).
    const adminDb: UnsafeDatabase = await openDatabase({ kind: 'postgres', url: testDb.adminUrl, poolMax: 2 });
    cleanups.push(() => adminDb.close());
    const ownerDb: UnsafeDatabase = await openDatabase({ kind: 'postgres', url: testDb.ownerUrl, poolMax: POOL });
    cleanups.push(() => ownerDb.close());
    const ownerPool = new pg.Pool({ connectionString: testDb.ownerUrl, max: POOL });
    cleanups.push(() => ownerPool.end());
    const appPool = new pg.Pool({ connectionString: testDb.appUrl, max: POOL });
    cleanups.push(() => appPool.end());

    const buildWith = async (layers: IsolationLayers): Promise<App> => {
      const rls = layers.rowLevelSecurity;
      const app = await buildApp(config, {
        db: rls ? appDb : ownerDb,
        ...(rls && { adminDb }),
        unsafeSkipRuntimeRoleCheck: !rls,
        layers,
        logger: false,
      });
      cleanups.push(() => app.close());
      return app;
    };
    /** Fastify's listen resolves to the address, e.g. http://127.0.0.1:41234. */
    const listenApp = (app: App) => app.listen({ host: '127.0.0.1', port: 0 });
    const listenRaw = async (server: http.Server) => {
      cleanups.push(
        () =>
          new Promise<void>((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
          }),
      );
      return listen(server);
    };
    const logIn = async (app: App, who: { email: string; password: string }) => {
      const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload: who });
      if (login.statusCode !== 200) throw new Error(`login failed: ${login.statusCode} ${login.body}`);
      return login.json<{ token: string; staffUser: { id: string } }>();
    };

    // Log in through the product (layers on), as the admin or as staff assigned to every client.
    const layersOn = await buildApp(config, { db: appDb, adminDb, logger: false });
    cleanups.push(() => layersOn.close());
    const admin = { email: 'bench-admin@spade.test', password: adminPassword };
    const { token, staffUser } = await logIn(
      layersOn,
      ACTOR === 'admin' ? admin : { email: 'bench-staff@spade.test', password: staffPassword },
    );

    const layersOff = await buildWith(OFF);
    const servers = [
      { name: 'layers on', url: await listenApp(layersOn) },
      { name: 'layers off', url: await listenApp(layersOff) },
      { name: 'raw pg (fair)', url: await listenRaw(rawPgServer(appPool, { kind: 'fair' })) },
      { name: 'raw pg (old)', url: await listenRaw(rawPgServer(ownerPool, { kind: 'old', actorId: staffUser.id })) },
    ];

    // Every server must answer the same read with the same cycle before it is measured.
    const probe = targets[0]!;
    for (const server of servers) {
      const response = await fetch(`${server.url}${probe.path}`, { headers: { authorization: `Bearer ${token}` } });
      const body = (await response.json()) as { id?: string; clientId?: string };
      if (response.status !== 200 || body.id !== probe.id || body.clientId !== probe.client_id) {
        throw new Error(`${server.name}: probe read returned ${response.status} ${JSON.stringify(body)}`);
      }
    }

    interface Target {
      name: string;
      url: string;
      /** Defaults to the headline's: one cycle of every client. */
      paths?: string[];
      token?: string;
      /** The database whose cycle.read rows must match the 2xx count; null for routes that audit nothing. */
      audited?: pg.Client | null;
      /** Served from another database than the main one: its PostgreSQL CPU is not counted. */
      otherDatabase?: boolean;
    }

    const measure = async (target: Target): Promise<Measured> => {
      const { name, url } = target;
      const jobPaths = target.paths ?? paths;
      const audited = target.audited === undefined ? owner : target.audited;
      log(`${name}: ${WARMUP_SECONDS} s warm-up + ${SECONDS} s, ${CONNECTIONS} connections over ${fmt(jobPaths.length)} path(s)`);
      const before = audited ? await auditRows(audited) : 0;
      const job = { url, token: target.token ?? token, paths: jobPaths, connections: CONNECTIONS };
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
      const written = audited ? (await auditRows(audited)) - before : 0;
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
      if (summary.ok === 0) {
        throw new Error(
          `${name}: no response completed within ${SECONDS} s (every request took longer: an overloaded machine or a stuck server); raise BENCH_SECONDS`,
        );
      }
      // Every 2xx wrote its audit row (there may be more: requests whose response autocannon
      // no longer counted because the run had stopped).
      if (audited && written < ok) {
        throw new Error(`${name}: ${ok} responses were 2xx but ${written} cycle.read audit rows were written`);
      }
      return {
        name,
        summary,
        reqPerSec: summary.ok / summary.seconds,
        auditRows: written,
        loadAtStart,
        nodeCpuPerRequest: nodeBefore === null || nodeAfter === null ? null : (nodeAfter - nodeBefore) / summary.requests,
        // Only the main bench database's backends are counted.
        pgCpuPerRequest: pgAfter.size === 0 || target.otherDatabase ? null : pgMs / summary.requests,
      };
    };

    /** Measures `configs` ROUNDS times, rotating the order each round so that drift on a shared machine evens out. */
    const runRounds = async (configs: Target[], rounds = ROUNDS): Promise<Map<string, Measured[]>> => {
      // The servers share code (Fastify, Prisma's runtime): without this the first one measured
      // also pays for the JIT warming that code up, and comes out 10–20 % slower.
      if (PREWARM_SECONDS > 0) {
        log(`pre-warming ${configs.length} servers, ${PREWARM_SECONDS} s each`);
        for (const c of configs)
          await load({
            url: c.url,
            token: c.token ?? token,
            paths: c.paths ?? paths,
            connections: CONNECTIONS,
            phase: 'warmup',
            seconds: PREWARM_SECONDS,
          });
      }
      const runs = new Map<string, Measured[]>(configs.map((c) => [c.name, []]));
      for (let round = 0; round < rounds; round++) {
        if (rounds > 1) log(`round ${round + 1} of ${rounds}`);
        const shift = round % configs.length;
        for (const c of [...configs.slice(shift), ...configs.slice(0, shift)]) runs.get(c.name)!.push(await measure(c));
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
    const ratioOf = (a: Row, b: Row) => median(a.runs.map((m, round) => m.reqPerSec / b.runs[round]!.reqPerSec));

    const headline = aggregate(await runRounds(servers), 'layers off');
    const [on, off, fair, old] = headline as [Row, Row, Row, Row];
    const met = on.ratio >= TARGET;

    const out: string[] = [];
    out.push('');
    out.push('tenant-read bench: GET /api/clients/:clientId/cycles/:cycleId (findUnique + cycle.read audit insert, one transaction)');
    out.push(
      `node ${process.version}, PostgreSQL ${pgVersion}, ${os.cpus().length} CPUs; ${CONNECTIONS} connections, pool ${POOL}, ` +
        `${fmt(SCOPED_CLIENTS)} scoped clients kept, ` +
        `${SECONDS} s measured after ${WARMUP_SECONDS} s warm-up per server (all pre-warmed ${PREWARM_SECONDS} s), ${ROUNDS} round(s); actor: ${ACTOR}; ${paths.length} clients rotated`,
    );
    out.push(
      `seeded: ${fmt(Number(counts.clients))} clients, ${fmt(Number(counts.files))} files, ${fmt(Number(counts.cycles))} cycles, ` +
        `${fmt(Number(counts.contacts))} contacts, ${fmt(Number(counts.cycle_requests))} cycle_requests, ${fmt(Number(counts.request_items))} request_items`,
    );
    out.push('');
    out.push(table(headers(), headline.map(row)));
    out.push('');
    out.push(`layers on ÷ fair raw pg = ${fmt(ratioOf(on, fair), 2)}×   (target ≥ 0.50×: the same statements without Fastify and Prisma)`);
    out.push(
      `layers on ÷ layers off  = ${fmt(on.ratio, 2)}×   (target ≥ 0.95×; the old target ≥ ${TARGET.toFixed(2)}×: ${met ? 'MET' : 'MISSED'})`,
    );
    out.push(`fair raw pg ÷ layers off = ${fmt(fair.ratio, 2)}×`);
    out.push(`old raw pg ÷ layers off  = ${fmt(old.ratio, 2)}×   (continuity with the figures before 2026-12)`);
    const onCpu = medianOf(on.runs, (m) => m.nodeCpuPerRequest);
    const offCpu = medianOf(off.runs, (m) => m.nodeCpuPerRequest);
    const fairCpu = medianOf(fair.runs, (m) => m.nodeCpuPerRequest);
    if (onCpu && offCpu && fairCpu) {
      out.push(
        `node CPU per request: layers on ${fmt(onCpu, 2)} ms (target ≤ 1.00 ms); fair raw pg ÷ layers on = ${fmt(fairCpu / onCpu, 2)}×; ` +
          `layers off ÷ layers on = ${fmt(offCpu / onCpu, 2)}× (steadier than req/s on a shared machine)`,
      );
    }
    const mid = medianRun(on.runs);
    out.push(`layers on p99 ÷ p50 = ${fmt(mid.summary.p99 / mid.summary.p50, 2)}× (target ≤ 3×)`);
    out.push('');
    out.push('Notes: "layers off" still runs one transaction per request (BEGIN … COMMIT around the read and the audit insert)');
    out.push('but, with RLS off, sets no context; with RLS on, role and tenant ride on that BEGIN (no extra round trip).');
    out.push('"raw pg (fair)" performs the statements a layers-on request performs, as spade_app: the session lookup');
    out.push('(the same SECURITY DEFINER function), BEGIN with role and tenant, the cycle, the audit row with COMMIT.');
    out.push('"raw pg (old)" is the floor printed before 2026-12: owner connection, no session lookup, no context.');
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
      const configs: Target[] = [{ name: 'layers off', url: servers[1]!.url }];
      for (const variant of SINGLE_LAYERS) configs.push({ name: variant.name, url: await listenApp(await buildWith(variant.layers)) });
      const single = aggregate(await runRounds(configs), 'layers off');
      out.push(
        table(
          [...headers(), 'cost'],
          single.map((r) => [...row(r), `${fmt((1 - r.ratio) * 100, 1)} %`]),
        ),
      );
    }

    // -------------------------------------------------------------------------------------
    // Scale: the same read route over 10 clients (a database of its own) and over
    // SCALE_CLIENTS (the main database, grown), and the files list of one client with
    // BULKY_FILES files. Admin actor throughout (staff is assigned to the first clients only).
    if (SCALE_CLIENTS > 0) {
      log(`scale: a second database with ${SMALL_CLIENTS} clients`);
      const smallDb = await createMigratedDatabase('spade_bench_small');
      cleanups.push(() => smallDb.drop());
      const smallOwner = new pg.Client({ connectionString: smallDb.ownerUrl });
      await smallOwner.connect();
      cleanups.push(() => smallOwner.end());
      await seedStaff(smallOwner, adminPasswordHash, adminPasswordHash);
      await seedClients(smallOwner, 1, SMALL_CLIENTS, false);
      const smallCounts = await seedCounts(smallOwner);
      const smallAppDb = await openDatabase({ kind: 'postgres', url: smallDb.appUrl, poolMax: POOL, scopedClientsKept: SCOPED_CLIENTS });
      cleanups.push(() => smallAppDb.close());
      const smallAdminDb = await openDatabase({ kind: 'postgres', url: smallDb.adminUrl, poolMax: 2 });
      cleanups.push(() => smallAdminDb.close());
      const smallApp = await buildApp(config, { db: smallAppDb, adminDb: smallAdminDb, logger: false });
      cleanups.push(() => smallApp.close());
      const smallToken = (await logIn(smallApp, admin)).token;
      const smallPaths = (await cyclePaths(smallOwner)).map((t) => t.path);

      const growStarted = Date.now();
      if (SCALE_CLIENTS > CLIENTS) {
        log(`scale: growing the main database to ${fmt(SCALE_CLIENTS)} clients (${fmt(SCALE_CLIENTS * CYCLES * ITEMS * FILES)} files)`);
        await seedClients(owner, CLIENTS + 1, SCALE_CLIENTS, false);
      }
      const bulky = await seedBulkyClient(owner, BULKY_FILES);
      const bigCounts = await seedCounts(owner);
      log(`scale: grown in ${((Date.now() - growStarted) / 1000).toFixed(1)} s: ${JSON.stringify(bigCounts)}`);
      const bigPaths = (await cyclePaths(owner)).map((t) => t.path);
      const adminToken = ACTOR === 'admin' ? token : (await logIn(layersOn, admin)).token;
      const onUrl = servers[0]!.url;

      // The list route: keyset pages (`?limit=50`, then `cursor=` the X-Next-Cursor header) when
      // the route has them; otherwise its first (and only) page, labelled as such.
      const listBase = `/api/clients/${bulky.clientId}/files`;
      const getJson = async (p: string) => {
        const response = await fetch(`${onUrl}${p}`, { headers: { authorization: `Bearer ${adminToken}` } });
        const body = (await response.json()) as { files?: unknown[] };
        return { status: response.status, body, nextCursor: response.headers.get('x-next-cursor') };
      };
      const first = await getJson(`${listBase}?limit=${PAGE}`);
      const listTargets: Target[] = [];
      let listNote: string;
      if (first.status === 200 && typeof first.nextCursor === 'string') {
        let cursor: string = first.nextCursor;
        // Page 2 is the first page read through a cursor: deep page ÷ page 2 isolates depth.
        const secondCursor = cursor;
        let page = 1;
        const deepPage = Math.max(2, Math.floor((BULKY_FILES / PAGE) * 0.9));
        while (page + 1 < deepPage) {
          const next = await getJson(`${listBase}?limit=${PAGE}&cursor=${encodeURIComponent(cursor)}`);
          if (next.status !== 200 || typeof next.nextCursor !== 'string') break;
          cursor = next.nextCursor;
          page++;
        }
        listTargets.push({ name: `files list, page 1 (limit ${PAGE})`, url: onUrl, paths: [`${listBase}?limit=${PAGE}`] });
        listTargets.push({
          name: 'files list, page 2 (cursor)',
          url: onUrl,
          paths: [`${listBase}?limit=${PAGE}&cursor=${encodeURIComponent(secondCursor)}`],
        });
        listTargets.push({
          name: `files list, page ${page + 1} (cursor)`,
          url: onUrl,
          paths: [`${listBase}?limit=${PAGE}&cursor=${encodeURIComponent(cursor)}`],
        });
        listNote = `keyset pages of ${PAGE}: the first page, page 2 and page ${page + 1} (reached by following X-Next-Cursor)`;
      } else if (first.status === 200) {
        listTargets.push({ name: `files list, ?limit=${PAGE} (first page only)`, url: onUrl, paths: [`${listBase}?limit=${PAGE}`] });
        listNote = `?limit=${PAGE} is accepted but no X-Next-Cursor came back: first page only, no deep page measured`;
      } else {
        const all = await getJson(listBase);
        listTargets.push({ name: `files list, no limit (${fmt(all.body.files?.length ?? 0)} rows)`, url: onUrl, paths: [listBase] });
        listNote = `the route refuses ?limit (${first.status}): measured its only page, unbounded by the client (the route caps it at ${fmt(all.body.files?.length ?? 0)} rows); no deep page`;
      }
      for (const t of listTargets) {
        t.token = adminToken;
        t.audited = null;
      }

      const smallName = `read, ${fmt(SMALL_CLIENTS)} clients`;
      const bigName = `read, ${fmt(Number(bigCounts.clients))} clients`;
      const scaleRuns = await runRounds(
        [
          {
            name: smallName,
            url: await listenApp(smallApp),
            paths: smallPaths,
            token: smallToken,
            audited: smallOwner,
            otherDatabase: true,
          },
          { name: bigName, url: onUrl, paths: bigPaths, token: adminToken },
          ...listTargets,
        ],
        SCALE_ROUNDS,
      );
      const scaleRows = aggregate(scaleRuns, smallName);
      out.push('');
      out.push(
        `Scale (layers on, admin actor): ${fmt(Number(smallCounts.clients))} clients / ${fmt(Number(smallCounts.files))} files vs ` +
          `${fmt(Number(bigCounts.clients))} clients / ${fmt(Number(bigCounts.files))} files; the list route on one client with ${fmt(BULKY_FILES)} files`,
      );
      out.push(table(headers(), scaleRows.map(row)).replace('÷ layers off', `÷ ${SMALL_CLIENTS} clients`));
      const p50 = (name: string) => medianRun(scaleRuns.get(name)!).summary.p50;
      // Same-round pairs (the two ran back to back), their median over the rounds.
      const p50Change = median(
        scaleRuns.get(bigName)!.map((big, round) => big.summary.p50 / scaleRuns.get(smallName)![round]!.summary.p50 - 1),
      );
      out.push(
        `read route median latency, ${fmt(SMALL_CLIENTS)} → ${fmt(Number(bigCounts.clients))} clients: ${fmt(p50Change * 100, 1)} % ` +
          `(median of ${SCALE_ROUNDS} same-round pairs; target < 10 %)`,
      );
      const smallCpu = medianOf(scaleRuns.get(smallName)!, (m) => m.nodeCpuPerRequest);
      const bigCpu = medianOf(scaleRuns.get(bigName)!, (m) => m.nodeCpuPerRequest);
      if (smallCpu && bigCpu) out.push(`read route node CPU/req: ${fmt(smallCpu, 2)} ms → ${fmt(bigCpu, 2)} ms`);
      if (listTargets.length === 3) {
        const [firstPage, secondPage, deepPage] = listTargets.map((t) => t.name) as [string, string, string];
        out.push(
          `files list, deep page ÷ first page median latency = ${fmt(p50(deepPage) / p50(firstPage), 2)}× (target ≈ 1); ` +
            `deep page ÷ page 2 = ${fmt(p50(deepPage) / p50(secondPage), 2)}× (depth alone: both read through a cursor)`,
        );
      }
      out.push(`files list: ${listNote}.`);
      out.push('pg CPU/req is shown for the main database only (the 10-client database has its own backends).');
    }

    // -------------------------------------------------------------------------------------
    // Uploads
    if (UPLOAD_MB > 0) {
      const file = path.join(dataDir, 'bench-upload.pdf');
      const bytes = randomBytes(UPLOAD_MB * 1024 * 1024);
      bytes.write('%PDF-1.7\n', 0);
      await writeFile(file, bytes);
      // A contact session on client 1's first request (bulk-seeded ids), its token hash chosen here.
      const contactToken = newToken('contact');
      const ids = (
        await owner.query<{ client_id: string; item_id: string }>(
          `INSERT INTO contact_sessions (client_id, contact_id, cycle_request_id, token_hash, expires_at)
           VALUES (md5('client:1')::uuid, md5('contact:1:1')::uuid, md5('request:1:1')::uuid, $1, now() + interval '1 hour')
           RETURNING client_id, md5('item:1:1:1')::uuid AS item_id`,
          [hashToken(contactToken)],
        )
      ).rows[0]!;
      // Both servers in a child process of their own (upload-servers.ts): not in this process's large heap.
      const uploadServers = await startUploadServers({
        BENCH_APP_DB_URL: testDb.appUrl,
        BENCH_ADMIN_DB_URL: testDb.adminUrl,
        BENCH_DATA_DIR: dataDir,
        BENCH_UPLOAD_MAX_BYTES: String(Math.max(25, UPLOAD_MB + 1) * 1024 * 1024),
      });
      cleanups.push(() => uploadServers.stop());
      const portalUrl = `${uploadServers.api}/api/portal/clients/${ids.client_id}/items/${ids.item_id}/files`;
      const nodeUrl = uploadServers.node;
      const uploads = { portal: [] as number[], node: [] as number[] };
      const peak = { portal: 0, node: 0 };
      const rssBefore = uploadServers.rss();
      log(`uploads: ${UPLOAD_WARMUP} unmeasured + ${UPLOAD_RUNS} × ${UPLOAD_MB} MB through each`);
      for (let i = -UPLOAD_WARMUP; i < UPLOAD_RUNS; i++) {
        for (const which of (i + UPLOAD_WARMUP) % 2 === 0 ? (['node', 'portal'] as const) : (['portal', 'node'] as const)) {
          // Each upload starts with no dirty pages left by the one before: otherwise the kernel's
          // writeback throttling lands on whichever upload comes next (node → disk measured
          // 124–485 MB/s from one run to the next without this).
          await new Promise<void>((resolve, reject) => execFile('sync', (error) => (error ? reject(error) : resolve())));
          let top = 0;
          const sampler = setInterval(() => {
            top = Math.max(top, uploadServers.rss());
          }, 5);
          const result = await curlUpload(which === 'portal' ? portalUrl : nodeUrl, file, which === 'portal' ? contactToken : null);
          clearInterval(sampler);
          if (result.status !== 201) throw new Error(`${which} upload returned ${result.status}`);
          if (i < 0) continue; // a warm-up: neither its rate nor its RSS is counted
          peak[which] = Math.max(peak[which], top, uploadServers.rss());
          uploads[which].push(result.bytes / 1024 / 1024 / result.seconds);
        }
      }
      const mbps = { portal: median(uploads.portal), node: median(uploads.node) };
      const mb = (n: number) => `${fmt(n / 1024 / 1024)} MB`;
      out.push('');
      out.push(
        `Uploads: one ${UPLOAD_MB} MB file (multipart, sent by curl), ${UPLOAD_RUNS} times each after ${UPLOAD_WARMUP} unmeasured, alternating; medians`,
      );
      out.push(
        table(
          ['server', 'MB/s', 'runs (MB/s)', 'peak RSS', 'peak − RSS before'],
          [
            [
              'portal upload route',
              fmt(mbps.portal, 1),
              uploads.portal.map((v) => fmt(v)).join(' / '),
              mb(peak.portal),
              mb(peak.portal - rssBefore),
            ],
            ['node → disk', fmt(mbps.node, 1), uploads.node.map((v) => fmt(v)).join(' / '), mb(peak.node), mb(peak.node - rssBefore)],
          ],
        ),
      );
      // The disk moves node → disk's rate by 2–4× between neighbouring runs (write-back, the other core's
      // work); run i's two uploads follow each other, so their ratio shares the disk's state, as the scale
      // section's same-round pairs do. Both figures are printed; the target is read on the pairs.
      const pairs = uploads.portal.map((portal, i) => portal / uploads.node[i]!);
      out.push(
        `portal ÷ node streaming to disk = ${fmt(median(pairs), 2)}× (median of the ${pairs.length} same-run pairs: ${pairs.map((r) => fmt(r, 2)).join(' / ')}; target ≥ 0.50×)`,
      );
      out.push(`portal median ÷ node → disk median = ${fmt(mbps.portal / mbps.node, 2)}×; RSS before the uploads ${mb(rssBefore)}`);
      out.push(
        'Both servers run in one child process of their own (upload-servers.ts); RSS is that process (sampled every 5 ms during each upload).',
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
