import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { DEMO } from '@breezycorp/db';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../app.ts';
import { parseConfig } from '../config.ts';
import { createTestApp, login, type TestApp } from './support/test-app.ts';

/** The contracts every client relies on: error shape, request ids, bad input, auth, CSRF, Sentry. */
const ACME = DEMO.clients.acme;

async function boom(app: FastifyInstance) {
  app.get('/api/test-only/boom', { config: { routeScope: 'public' } }, async () => {
    throw new Error('secret internals: password=hunter2 at /srv/spade/db.ts:42');
  });
}

let t: TestApp;
let staff: Record<string, string>;
let cycleId: string;
beforeAll(async () => {
  t = await createTestApp({ extraRoutes: boom });
  staff = (await login(t.app, DEMO.staff.staff)).headers;
  cycleId = (await t.owner.prisma.cycle.findFirstOrThrow({ where: { clientId: ACME } })).id;
});
afterAll(async () => {
  await t?.close();
});

const cycleCount = () => t.owner.prisma.cycle.count();

describe('request ids and the error shape', () => {
  it("every response carries Spade's own x-request-id; a caller's id is only echoed apart, a malformed one dropped", async () => {
    const echoed = await t.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'req-from-proxy-1234' } });
    expect(echoed.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(echoed.headers['x-caller-request-id']).toBe('req-from-proxy-1234');
    const dropped = await t.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'bad id\n<script>' } });
    expect(dropped.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(dropped.headers['x-caller-request-id']).toBeUndefined();
  });

  it('a client cannot plant audit rows under a request id of its choosing', async () => {
    const planted = 'planted-request-id-0001';
    const { headers } = await login(t.app, DEMO.staff.admin);
    const response = await t.app.inject({
      method: 'GET',
      url: `/api/clients/${DEMO.clients.acme}`,
      headers: { ...headers, 'x-request-id': planted },
    });
    expect(response.statusCode).toBe(200);
    expect(await t.owner.prisma.auditEvent.count({ where: { requestId: planted } })).toBe(0);
    expect(await t.owner.prisma.auditEvent.count({ where: { requestId: String(response.headers['x-request-id']) } })).toBeGreaterThan(0);
  });

  it('a 5xx answers { error: { code, message, requestId } } with no internals', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/api/test-only/boom' });
    expect(response.statusCode).toBe(500);
    expect(response.json()).toEqual({
      error: { code: 'internal', message: 'Internal error', requestId: response.headers['x-request-id'] },
    });
    expect(response.body).not.toContain('hunter2');
    expect(response.body).not.toContain('db.ts');
  });

  it("every API response, success or error, carries helmet's security headers and a CSP under which nothing loads or frames it", async () => {
    const { headers } = await login(t.app, DEMO.staff.admin);
    for (const response of [
      await t.app.inject({ method: 'GET', url: `/api/clients/${ACME}/cycles`, headers }),
      await t.app.inject({ method: 'GET', url: '/api/nothing-here' }),
    ]) {
      expect(response.headers['content-security-policy']).toMatch(/default-src 'none'.*frame-ancestors 'none'/);
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      expect(response.headers['x-frame-options']).toBe('SAMEORIGIN');
      expect(response.headers['strict-transport-security']).toMatch(/max-age=\d+/);
      expect(response.headers['x-powered-by']).toBeUndefined();
    }
  });

  it('an unknown route is a 404 in the same shape', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/api/nothing-here' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ error: { code: 'not_found', requestId: response.headers['x-request-id'] } });
  });
});

describe('bad input gets a clear error and loses nothing', () => {
  const cases: {
    name: string;
    method: 'GET' | 'POST' | 'PATCH';
    url: () => string;
    payload?: unknown;
    headers?: Record<string, string>;
    status: number;
  }[] = [
    { name: 'malformed cycle id', method: 'GET', url: () => `/api/clients/${ACME}/cycles/not-a-uuid`, status: 400 },
    { name: 'missing required fields', method: 'POST', url: () => `/api/clients/${ACME}/cycles`, payload: { kind: 'tax' }, status: 400 },
    {
      name: 'unknown fields',
      method: 'POST',
      url: () => `/api/clients/${ACME}/cycles`,
      payload: { kind: 'tax', period: '2026', title: 'x', clientId: DEMO.clients.borneo },
      status: 400,
    },
    {
      name: 'a value outside the enum',
      method: 'POST',
      url: () => `/api/clients/${ACME}/cycles`,
      payload: { kind: 'magic', period: '2026', title: 'x' },
      status: 400,
    },
    { name: 'an empty PATCH', method: 'PATCH', url: () => `/api/clients/${ACME}/cycles/${cycleId}`, payload: {}, status: 400 },
    { name: 'a huge query string', method: 'GET', url: () => `/api/clients/${ACME}/cycles?status=${'x'.repeat(10_000)}`, status: 400 },
    { name: 'an unknown query parameter', method: 'GET', url: () => `/api/clients/${ACME}/cycles?everything=true`, status: 400 },
    {
      name: 'malformed JSON',
      method: 'POST',
      url: () => `/api/clients/${ACME}/cycles`,
      payload: '{"kind": "tax",',
      headers: { 'content-type': 'application/json' },
      status: 400,
    },
    {
      name: 'a body over the limit',
      method: 'POST',
      url: () => `/api/clients/${ACME}/cycles`,
      payload: { kind: 'tax', period: '2026', title: 'x'.repeat(2 * 1024 * 1024) },
      status: 413,
    },
    {
      name: 'an unsupported content type',
      method: 'POST',
      url: () => `/api/clients/${ACME}/cycles`,
      payload: '<cycle/>',
      headers: { 'content-type': 'application/xml' },
      status: 415,
    },
  ];
  for (const c of cases) {
    it(`${c.name} → ${c.status} with the error shape, nothing written`, async () => {
      const before = await cycleCount();
      const response = await t.app.inject({
        method: c.method,
        url: c.url(),
        headers: { ...staff, ...c.headers },
        ...(c.payload !== undefined && { payload: c.payload as string }),
      });
      expect(response.statusCode, response.body.slice(0, 200)).toBe(c.status);
      expect(response.json()).toMatchObject({
        error: { code: expect.any(String), message: expect.any(String), requestId: response.headers['x-request-id'] },
      });
      expect(await cycleCount()).toBe(before);
    });
  }
});

describe('staff authentication', () => {
  it('a wrong password and an unknown email get the same answer, and both are audited', async () => {
    const wrong = await t.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: DEMO.staff.staff.email, password: 'nope' },
    });
    const unknown = await t.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: 'ghost@spade.test', password: 'nope' },
    });
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    expect(wrong.json().error.message).toBe(unknown.json().error.message);
    const failed = await t.owner.prisma.auditEvent.findMany({
      where: {
        eventType: 'auth.login_failed',
        requestId: { in: [String(wrong.headers['x-request-id']), String(unknown.headers['x-request-id'])] },
      },
    });
    expect(failed).toHaveLength(2);
    expect(JSON.stringify(failed)).not.toContain('nope');
  });

  it('tokens are stored only as hashes', async () => {
    const { token } = await login(t.app, DEMO.staff.staff);
    const rows = await t.owner.prisma.staffSession.findMany();
    expect(JSON.stringify(rows)).not.toContain(token);
  });

  it('logout revokes the session: the next request is 401', async () => {
    const { headers } = await login(t.app, DEMO.staff.staff);
    expect((await t.app.inject({ method: 'POST', url: '/api/auth/logout', headers })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/api/auth/me', headers })).statusCode).toBe(401);
  });

  it('an expired session is 401 like an unknown, malformed or absent one', async () => {
    const { headers, token } = await login(t.app, DEMO.staff.staff);
    await t.owner.prisma.staffSession.updateMany({
      where: { revokedAt: null, staffUserId: DEMO.staff.staff.id },
      data: { expiresAt: new Date(0) },
    });
    const bodies = [];
    for (const h of [headers, { authorization: `Bearer ${token.slice(0, -1)}x` }, { authorization: 'Bearer garbage' }, {}]) {
      const response = await t.app.inject({ method: 'GET', url: `/api/clients/${ACME}/cycles`, headers: h });
      expect(response.statusCode).toBe(401);
      bodies.push(response.json().error.message);
    }
    expect(new Set(bodies).size).toBe(1);
  });

  it('cookie sessions need the CSRF header for state changes', async () => {
    const loggedIn = await t.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: DEMO.staff.staff.email, password: DEMO.staff.staff.password },
    });
    const cookie = String(loggedIn.headers['set-cookie']).split(';')[0] as string;
    expect(String(loggedIn.headers['set-cookie'])).toMatch(/HttpOnly/i);
    expect(String(loggedIn.headers['set-cookie'])).toMatch(/SameSite=Strict/i);
    const csrfToken = loggedIn.json<{ csrfToken: string }>().csrfToken;
    const payload = { kind: 'tax', period: '2026', title: 'csrf' };
    const forged = await t.app.inject({ method: 'POST', url: `/api/clients/${ACME}/cycles`, headers: { cookie }, payload });
    expect(forged.statusCode).toBe(403);
    expect(forged.json()).toMatchObject({ error: { code: 'csrf_failed' } });
    const read = await t.app.inject({ method: 'GET', url: `/api/clients/${ACME}/cycles`, headers: { cookie } });
    expect(read.statusCode).toBe(200);
    const real = await t.app.inject({
      method: 'POST',
      url: `/api/clients/${ACME}/cycles`,
      headers: { cookie, 'x-csrf-token': csrfToken },
      payload,
    });
    expect(real.statusCode).toBe(201);
  });
});

describe('rate limits', () => {
  let limited: App;
  beforeAll(async () => {
    limited = await buildApp(parseConfig({ SPADE_DATA_DIR: t.dataDir, SPADE_LOGIN_PER_MINUTE: '3', SPADE_EXCHANGE_PER_MINUTE: '3' }), {
      db: t.db,
      adminDb: t.adminDb,
      logger: false,
    });
  });
  afterAll(async () => {
    await limited?.close();
  });

  it('login is rate-limited: the 4th attempt in a minute is 429 with the error shape', async () => {
    const statuses = [];
    for (let i = 0; i < 4; i++) {
      const response = await limited.inject({
        method: 'POST',
        url: '/api/auth/login',
        payload: { email: 'x@spade.test', password: 'guess' },
      });
      statuses.push(response.statusCode);
      if (response.statusCode === 429) expect(response.json()).toMatchObject({ error: { code: 'rate_limited' } });
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
  });

  it('token exchange is rate-limited too', async () => {
    const statuses = [];
    for (let i = 0; i < 4; i++) {
      statuses.push(
        (await limited.inject({ method: 'POST', url: '/api/portal/exchange', payload: { token: `mlk_${'a'.repeat(43)}` } })).statusCode,
      );
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
  });
});

describe('Sentry', () => {
  it('a 5xx is sent to Sentry tagged with its request id', async () => {
    const received: string[] = [];
    const receiver = createServer(async (req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      received.push(req.headers['content-encoding'] === 'gzip' ? gunzipSync(body).toString() : body.toString());
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    receiver.listen(0, '127.0.0.1');
    await once(receiver, 'listening');
    const port = (receiver.address() as AddressInfo).port;
    const app = await buildApp(parseConfig({ SPADE_DATA_DIR: t.dataDir, SENTRY_DSN: `http://publickey@127.0.0.1:${port}/42` }), {
      db: t.db,
      adminDb: t.adminDb,
      logger: false,
      extraRoutes: boom,
    });
    try {
      const response = await app.inject({ method: 'GET', url: '/api/test-only/boom' });
      expect(response.statusCode).toBe(500);
      await app.close(); // flushes Sentry
      const requestId = String(response.headers['x-request-id']);
      expect(received.some((body) => body.includes(requestId))).toBe(true);
      expect(received.join('\n')).toContain('request_id');
    } finally {
      receiver.close();
    }
  });
});
