import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createTestDatabase, TEST_ADMIN_URL, type TestDatabase } from '@breezycorp/db/testing';
import { migrate, openDatabase, type SeedReport, seedDemo } from '@breezycorp/db/unsafe';
import pg from 'pg';
import type { Io } from '../src/io.ts';
import { runCli } from '../src/program.ts';

export interface CapturedIo extends Io {
  stdout: string[];
  stderr: string[];
  /** Everything printed to stdout, joined. */
  text(): string;
  /** The last stdout chunk parsed as JSON (commands print one JSON document with --json). */
  json<T = Record<string, unknown>>(): T;
}

export function captureIo(env: Record<string, string | undefined>, prompt?: (question: string) => Promise<string>): CapturedIo {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout,
    stderr,
    env,
    out: (t) => stdout.push(t),
    err: (t) => stderr.push(t),
    ...(prompt ? { prompt } : {}),
    text: () => stdout.join('\n'),
    json: <T>() => JSON.parse(stdout.at(-1) as string) as T,
  };
}

/** A migrated, seeded database of its own, a data dir, and a raw owner connection for assertions. */
export interface CliFixture {
  db: TestDatabase;
  seed: SeedReport;
  dataDir: string;
  sql: pg.Client;
  env: Record<string, string | undefined>;
  /** Runs `spade …` with the fixture's environment (plus `extraEnv`); returns the exit code and what it printed. */
  run(argv: string[], extraEnv?: Record<string, string | undefined>): Promise<{ code: number; io: CapturedIo }>;
  close(): Promise<void>;
}

export async function createCliFixture(prefix: string): Promise<CliFixture> {
  const db = await createTestDatabase(`spade_cli_${prefix}`);
  const dataDir = await mkdtemp(path.join(tmpdir(), `spade-cli-${prefix}-`));
  const owner = await openDatabase({ kind: 'postgres', url: db.ownerUrl, poolMax: 2 });
  let seed: SeedReport;
  try {
    await owner.withSql((sql) => migrate(sql));
    seed = await seedDemo(owner.prisma, { storageDir: path.join(dataDir, 'files') });
  } finally {
    await owner.close();
  }
  const sql = new pg.Client({ connectionString: db.ownerUrl });
  await sql.connect();
  // No terminal, no Slack, no API unless a test says so; the operator is named.
  const env: Record<string, string | undefined> = {
    DATABASE_URL: db.ownerUrl,
    SPADE_DATA_DIR: dataDir,
    USER: 'oncall-test',
    SPADE_API_URL: 'http://127.0.0.1:1',
  };
  return {
    db,
    seed,
    dataDir,
    sql,
    env,
    async run(argv, extraEnv = {}) {
      const io = captureIo({ ...env, ...extraEnv });
      const code = await runCli(argv, io);
      return { code, io };
    },
    async close() {
      await sql.end().catch(() => undefined);
      await untilDisconnected(db.name);
      await db.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * pg's Pool.end() resolves before the server has seen every connection go; a DROP DATABASE
 * … WITH (FORCE) in that window kills a closing connection, whose error then surfaces as an
 * uncaught exception. Wait until the database has no sessions left before dropping it.
 */
async function untilDisconnected(database: string, timeoutMs = 5_000): Promise<void> {
  const admin = new pg.Client({ connectionString: TEST_ADMIN_URL });
  await admin.connect();
  try {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const { rows } = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [database]);
      if (rows[0]!.n === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  } finally {
    await admin.end();
  }
}

/** A local HTTP server on 127.0.0.1 (port 0) that records what it was sent. */
export interface RecordingServer {
  url: string;
  requests: { method: string; url: string; body: string }[];
  close(): Promise<void>;
}

export async function startServer(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<RecordingServer> {
  const requests: RecordingServer['requests'] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Slack's incoming webhook answers 200 "ok". */
export function startSlack(): Promise<RecordingServer> {
  return startServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
  });
}

/** Nothing listens on port 1: an unreachable Slack or API. */
export const UNREACHABLE_URL = 'http://127.0.0.1:1';

export const STAFF_ID = '00000000-0000-4000-8000-000000000517';
export const ADMIN_ID = '00000000-0000-4000-8000-000000000a0d';

/** Opens an incident through the CLI and returns its id. */
export async function openIncident(fixture: CliFixture, extra: string[] = []): Promise<string> {
  const { code, io } = await fixture.run([
    'incident',
    'open',
    '--title',
    'Acme saw a Borneo statement',
    '--reporter',
    'Alice Tan (Acme)',
    '--json',
    ...extra,
  ]);
  if (code !== 0) throw new Error(`incident open exited ${code}: ${io.stderr.join('\n')}`);
  return io.json<{ incidentId: string }>().incidentId;
}
