import net from 'node:net';
import { DEMO } from '@breezycorp/db';
import { seedDemo } from '@breezycorp/db/unsafe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from './support/robustness.ts';
import { createTestApp, login, type TestApp } from './support/test-app.ts';

/*
 * Issue 8, item 2: one client cannot take every database connection. Fifty multipart
 * uploads (a contact's and a staff member's) send their headers, a large Content-Length and
 * a few bytes of a valid part, then stall. Meanwhile staff, admin, portal requests and
 * /readyz are served in normal time; no spade_app backend sits `idle in transaction` (the
 * body is read before the unit of work opens); and the server closes the stalled sockets
 * after its upload idle timeout (SPADE_UPLOAD_IDLE_MS).
 */

const STALLED = 50;
const UPLOAD_IDLE_MS = 1_000;
const NORMAL_MS = 1_000;
const ACME = DEMO.clients.acme;

interface Stalled {
  socket: net.Socket;
  closedAt: number | null;
  received: string;
}

let t: TestApp;
let port: number;
let staff: Record<string, string>;
let admin: Record<string, string>;
let contact: Record<string, string>;
let itemIds: { portal: string; staff: string; requestId: string };
const stalled: Stalled[] = [];
let stalledAt = 0;

function stallUpload(url: string, authorization: string): Promise<Stalled> {
  return new Promise((resolve, reject) => {
    const boundary = `----stall${Math.random().toString(16).slice(2)}`;
    const socket = net.connect({ host: '127.0.0.1', port });
    const entry: Stalled = { socket, closedAt: null, received: '' };
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => {
      entry.received += chunk.toString('latin1');
    });
    socket.on('close', () => {
      entry.closedAt = Date.now();
    });
    socket.once('connect', () => {
      socket.write(
        `POST ${url} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: ${authorization}\r\n` +
          `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: 5000000\r\n\r\n` +
          `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="slow.txt"\r\nContent-Type: text/plain\r\n\r\nthe first few bytes`,
        (error) => (error ? reject(error) : resolve(entry)),
      );
    });
    socket.once('error', reject);
  });
}

async function timed(url: string, headers: Record<string, string>): Promise<{ url: string; status: number; ms: number }> {
  const started = Date.now();
  try {
    const response = await fetch(`http://127.0.0.1:${port}${url}`, { headers, signal: AbortSignal.timeout(5_000) });
    await response.arrayBuffer();
    return { url, status: response.status, ms: Date.now() - started };
  } catch {
    return { url, status: 0, ms: Date.now() - started };
  }
}

async function idleInTransaction(): Promise<number> {
  const rows = await t.owner.prisma.$queryRaw<{ n: number }[]>`
    SELECT count(*)::int AS n FROM pg_stat_activity
    WHERE usename = 'spade_app' AND datname = current_database() AND state = 'idle in transaction'`;
  return rows[0]?.n ?? 0;
}

beforeAll(async () => {
  t = await createTestApp({ seed: false, env: { SPADE_UPLOAD_IDLE_MS: String(UPLOAD_IDLE_MS) } });
  const seeded = await seedDemo(t.owner.prisma, { storageDir: t.config.storageDir });
  const link = seeded.magicLinks.find((l) => l.contactEmail === 'alice@acme.example');
  if (!link) throw new Error('no demo magic link for Acme');
  staff = (await login(t.app, DEMO.staff.staff)).headers;
  admin = (await login(t.app, DEMO.staff.admin)).headers;
  const exchanged = await t.app.inject({ method: 'POST', url: '/api/portal/exchange', payload: { token: link.token } });
  expect(exchanged.statusCode, exchanged.body).toBe(200);
  contact = { authorization: `Bearer ${exchanged.json<{ sessionToken: string }>().sessionToken}` };
  const items = await t.owner.prisma.requestItem.findMany({ where: { cycleRequestId: link.requestId }, orderBy: { position: 'asc' } });
  itemIds = { portal: items[1]?.id as string, staff: items[2]?.id as string, requestId: link.requestId };

  await t.app.listen({ host: '127.0.0.1', port: 0 });
  port = (t.app.server.address() as net.AddressInfo).port;

  for (let i = 0; i < STALLED; i += 1) {
    const upload =
      i % 2 === 0
        ? stallUpload(`/api/portal/clients/${ACME}/items/${itemIds.portal}/files`, contact.authorization as string)
        : stallUpload(`/api/clients/${ACME}/requests/${itemIds.requestId}/items/${itemIds.staff}/files`, staff.authorization as string);
    stalled.push(await upload);
  }
  stalledAt = Date.now();
  // Today the unit of work opens before the body is read: give the stalled uploads time to take connections.
  await sleep(500);
}, 60_000);

afterAll(async () => {
  for (const entry of stalled) entry.socket.destroy();
  await t?.close();
});

describe(`${STALLED} stalled multipart uploads (issue 8)`, () => {
  it(`staff, admin, portal requests and /readyz are served in < ${NORMAL_MS} ms while the uploads stall`, async () => {
    const stillOpen = stalled.filter((s) => s.closedAt === null).length;
    expect(stillOpen, 'the stalled uploads are still open while the other requests run').toBeGreaterThan(STALLED / 2);
    const results = await Promise.all([
      timed(`/api/clients/${ACME}`, staff),
      timed(`/api/clients/${ACME}/cycles`, staff),
      timed('/api/clients', admin),
      timed('/api/staff-users', admin),
      timed(`/api/portal/clients/${ACME}/request`, contact),
      timed(`/api/portal/clients/${ACME}/files`, contact),
      timed('/readyz', {}),
    ]);
    process.stdout.write(
      `slow uploads: while ${stillOpen} uploads stall: ${results.map((r) => `${r.url} ${r.status} ${r.ms} ms`).join('; ')}\n`,
    );
    for (const r of results) {
      expect(r.status, `${r.url} answered ${r.status} after ${r.ms} ms`).toBeGreaterThanOrEqual(200);
      expect(r.status, `${r.url} answered ${r.status} after ${r.ms} ms`).toBeLessThan(300);
      expect(r.ms, `${r.url} took ${r.ms} ms`).toBeLessThan(NORMAL_MS);
    }
  }, 30_000);

  it('no spade_app backend is idle in transaction while the uploads stall', async () => {
    const samples: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      samples.push(await idleInTransaction());
      await sleep(100);
    }
    process.stdout.write(`slow uploads: spade_app backends idle in transaction: ${samples.join(', ')}\n`);
    expect(samples).toEqual([0, 0, 0]);
  }, 30_000);

  it(`the server closes the stalled upload sockets after its upload idle timeout (${UPLOAD_IDLE_MS} ms)`, async () => {
    const deadline = stalledAt + UPLOAD_IDLE_MS + 4_000;
    while (Date.now() < deadline && stalled.some((s) => s.closedAt === null)) await sleep(100);
    const open = stalled.filter((s) => s.closedAt === null).length;
    const closeTimes = stalled.filter((s) => s.closedAt !== null).map((s) => (s.closedAt as number) - stalledAt);
    process.stdout.write(
      `slow uploads: ${STALLED - open}/${STALLED} closed by the server; latest after ${closeTimes.length ? Math.max(...closeTimes) : '-'} ms\n`,
    );
    expect(open, `${open} of ${STALLED} stalled uploads still open ${UPLOAD_IDLE_MS + 4_000} ms after they stalled`).toBe(0);
    // Nothing of a stalled upload was stored.
    expect(await t.owner.prisma.file.count({ where: { filename: 'slow.txt' } })).toBe(0);
    // And the pool is whole again afterwards.
    expect(await idleInTransaction()).toBe(0);
  }, 30_000);
});
