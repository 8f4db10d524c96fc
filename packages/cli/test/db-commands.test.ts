import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '@breezycorp/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Io } from '../src/io.ts';
import { runCli } from '../src/program.ts';

function captureIo(env: Record<string, string>): Io & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, env, out: (t) => stdout.push(t), err: (t) => stderr.push(t) };
}

let testDb: TestDatabase;
let dataDir: string;
beforeAll(async () => {
  testDb = await createTestDatabase('spade_cli');
  dataDir = await mkdtemp(path.join(tmpdir(), 'spade-cli-'));
});
afterAll(async () => {
  await testDb?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('spade db', () => {
  it('migrate applies every migration once, then is a no-op', async () => {
    const io = captureIo({ DATABASE_URL: testDb.ownerUrl, SPADE_DATA_DIR: dataDir });
    expect(await runCli(['db', 'migrate', '--json'], io)).toBe(0);
    const first = JSON.parse(io.stdout.at(-1) as string);
    expect(first.applied.length).toBeGreaterThanOrEqual(3);
    expect(await runCli(['db', 'migrate', '--json'], io)).toBe(0);
    expect(JSON.parse(io.stdout.at(-1) as string).applied).toEqual([]);
  });

  it('seed loads demo data once and prints the logins; a second run changes nothing', async () => {
    const io = captureIo({ DATABASE_URL: testDb.ownerUrl, SPADE_DATA_DIR: dataDir });
    expect(await runCli(['db', 'seed', '--json'], io)).toBe(0);
    expect(JSON.parse(io.stdout.at(-1) as string)).toMatchObject({ seeded: true });
    expect(await runCli(['db', 'seed'], io)).toBe(0);
    expect(io.stdout.join('\n')).toContain('already present');
    expect(io.stdout.join('\n')).toContain('admin@spade.test');
  });

  it('a database that is down exits 4 with a clear message', async () => {
    const io = captureIo({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere', SPADE_DATA_DIR: dataDir });
    expect(await runCli(['db', 'migrate'], io)).toBe(4);
    expect(io.stderr.join('\n')).toMatch(/Cannot reach the database/);
  });

  it('an unknown command is a usage error (exit 2)', async () => {
    const io = captureIo({ SPADE_DATA_DIR: dataDir });
    expect(await runCli(['db', 'explode'], io)).toBe(2);
  });
});
