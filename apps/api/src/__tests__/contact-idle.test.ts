import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Headers, type Reply, send } from './support/http.ts';
import { createTestApp, DEMO, login, type TestApp } from './support/test-app.ts';

/*
 * A contact session lasts until its request's expiry, but also ends after an idle period
 * (SPADE_CONTACT_IDLE_MINUTES; here SPADE_CONTACT_IDLE_SECONDS=2 so the test is short).
 * An idle session is answered exactly like any other dead session.
 */
const ACME = DEMO.clients.acme;
const ALICE = '00000000-0000-4000-8000-00000000a002';
const IDLE_SECONDS = 2;

let t: TestApp;
let staff: Headers;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const call = (method: 'GET' | 'POST', url: string, headers: Headers = {}, payload?: object): Promise<Reply> =>
  send(t.app, method, url, headers, payload);

async function openSession(): Promise<{ sessionToken: string; sessionId: string }> {
  const cycle = await t.owner.prisma.cycle.findFirstOrThrow({ where: { clientId: ACME } });
  const created = await call('POST', `/api/clients/${ACME}/cycles/${cycle.id}/requests`, staff, {
    contactId: ALICE,
    items: [{ label: 'Receipts' }],
  });
  expect(created.status, created.body).toBe(201);
  const token = await t.linkForRequest(created.json.id);
  const exchanged = await call('POST', '/api/portal/exchange', {}, { token });
  expect(exchanged.status, exchanged.body).toBe(200);
  const session = await t.owner.prisma.contactSession.findFirstOrThrow({
    where: { cycleRequestId: created.json.id },
    orderBy: { createdAt: 'desc' },
  });
  return { sessionToken: exchanged.json.sessionToken, sessionId: session.id };
}

/** The 401 without its per-request id: what must not differ between dead sessions. */
const shape = (r: Reply) => ({
  status: r.status,
  code: r.json?.error?.code,
  message: r.json?.error?.message,
  keys: Object.keys(r.json?.error ?? {}).sort(),
});

beforeAll(async () => {
  t = await createTestApp({ env: { SPADE_CONTACT_IDLE_SECONDS: String(IDLE_SECONDS) } });
  staff = (await login(t.app, DEMO.staff.staff)).headers;
});
afterAll(async () => {
  await t?.close();
});

describe('contact session idle timeout', () => {
  it('reads the idle period from the environment (minutes by default, 30)', () => {
    expect(t.config.contactIdleMs).toBe(IDLE_SECONDS * 1_000);
  });

  it('a session in use outlives the idle period; left alone longer than it, it ends with the same 401 as an unknown session', async () => {
    const { sessionToken } = await openSession();
    const request = () => call('GET', `/api/portal/clients/${ACME}/request`, { authorization: `Bearer ${sessionToken}` });
    expect((await request()).status).toBe(200);
    // Active for twice the idle period, a request every 0.7 s: still alive.
    const started = Date.now();
    while (Date.now() - started < IDLE_SECONDS * 2_000) {
      await sleep(700);
      const r = await request();
      expect(r.status, r.body).toBe(200);
    }
    // Idle for longer than the period: ended.
    await sleep(IDLE_SECONDS * 1_000 + 700);
    const idle = await request();
    const unknown = await call('GET', `/api/portal/clients/${ACME}/request`, { authorization: `Bearer cst_${'A'.repeat(43)}` });
    expect(idle.status).toBe(401);
    expect(shape(idle)).toEqual(shape(unknown));
    expect(idle.body).not.toMatch(/idle|expired/i);
    // And it stays ended: activity after the timeout does not revive it.
    expect((await request()).status).toBe(401);
  });

  it('records activity without a write on every request', async () => {
    const { sessionToken, sessionId } = await openSession();
    const lastSeen = async () => (await t.owner.prisma.contactSession.findFirstOrThrow({ where: { id: sessionId } })).lastSeenAt;
    const request = () => call('GET', `/api/portal/clients/${ACME}/files`, { authorization: `Bearer ${sessionToken}` });
    // Touched once the last record is older than a quarter of the idle period (here 0.5 s).
    await sleep(600);
    expect((await request()).status).toBe(200);
    const first = await lastSeen();
    expect(first).not.toBeNull();
    // Several requests in quick succession (within the touch interval) write nothing more.
    const burst = Date.now();
    for (let i = 0; i < 5; i++) expect((await request()).status).toBe(200);
    if (Date.now() - burst < 400) expect(await lastSeen()).toEqual(first);
  });
});
