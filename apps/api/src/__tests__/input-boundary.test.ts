import { randomUUID } from 'node:crypto';
import { DEMO } from '@breezycorp/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Headers, multipartFile, type Reply, send } from './support/http.ts';
import { errorShapeProblem, type RawResponse, rawHttp } from './support/robustness.ts';
import { createTestApp, login, type TestApp } from './support/test-app.ts';

/*
 * Issue 8, items 5–9: one input boundary. Each test names one class of hostile input and
 * the answer the issue demands: a 4xx in the error shape with x-request-id, never a 5xx,
 * nothing stored, no false incident signal. Real PostgreSQL; the raw-socket cases go
 * through a listening server because no HTTP client would send those bytes.
 */

const ACME = DEMO.clients.acme;
const ACME_UPPER = ACME.toUpperCase();

let t: TestApp;
let admin: Headers;
let port: number;
let acme: { cycleId: string; requestId: string; itemId: string; fileId: string; contactId: string };

function expect4xxShape(r: Reply | RawResponse, label = '') {
  const status = 'status' in r ? r.status : 0;
  expect(status, `${label} status (body: ${r.body.slice(0, 300)})`).toBeGreaterThanOrEqual(400);
  expect(status, `${label} status (body: ${r.body.slice(0, 300)})`).toBeLessThan(500);
  expect(errorShapeProblem(status, r.headers as Record<string, unknown>, r.body), label).toBeNull();
}

function expectStatus(r: Reply, status: number) {
  expect(r.status, r.body.slice(0, 300)).toBe(status);
  expect(errorShapeProblem(r.status, r.headers, r.body)).toBeNull();
}

const fileCount = () => t.owner.prisma.file.count({ where: { clientId: ACME } });

function rawMultipart(parts: string, contentType: string): { payload: Buffer; headers: Headers } {
  return { payload: Buffer.from(parts), headers: { 'content-type': contentType } };
}

const uploadUrl = () => `/api/clients/${ACME}/requests/${acme.requestId}/items/${acme.itemId}/files`;

function part(boundary: string, filename: string, content: string) {
  return `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: text/plain\r\n\r\n${content}\r\n`;
}

beforeAll(async () => {
  t = await createTestApp();
  admin = (await login(t.app, DEMO.staff.admin)).headers;
  const p = t.owner.prisma;
  const request = await p.cycleRequest.findFirstOrThrow({ where: { clientId: ACME } });
  const item = await p.requestItem.findFirstOrThrow({
    where: { clientId: ACME, cycleRequestId: request.id },
    orderBy: { position: 'asc' },
  });
  const file = await p.file.findFirstOrThrow({ where: { clientId: ACME } });
  acme = { cycleId: request.cycleId, requestId: request.id, itemId: item.id, fileId: file.id, contactId: request.contactId };
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  port = (t.app.server.address() as { port: number }).port;
});

afterAll(async () => {
  await t?.close();
});

describe('strings PostgreSQL cannot store are a 400 (item 5)', () => {
  it('a NUL character in a contact name is a 400, not a 500', async () => {
    const r = await send(t.app, 'POST', `/api/clients/${ACME}/contacts`, admin, {
      name: 'Nul\u0000Name',
      email: `nul-${randomUUID()}@x.example`,
    });
    expectStatus(r, 400);
  });

  it('a NUL character in a cycle title is a 400, not a 500', async () => {
    const r = await send(t.app, 'POST', `/api/clients/${ACME}/cycles`, admin, { kind: 'tax', period: '2026', title: 'T\u0000' });
    expectStatus(r, 400);
  });

  it('a lone surrogate in a review comment is a 400', async () => {
    const r = await send(t.app, 'POST', `/api/clients/${ACME}/requests/${acme.requestId}/items/${acme.itemId}/review`, admin, {
      decision: 'reject',
      comment: 'broken \uD800 comment',
    });
    expectStatus(r, 400);
  });

  it('a lone surrogate in a client name is a 400', async () => {
    const r = await send(t.app, 'POST', '/api/clients', admin, { name: 'Lone \uDC00 Pte Ltd' });
    expectStatus(r, 400);
  });
});

describe('dates and numbers within range (item 5)', () => {
  it('year 0 in since is a 400', async () => {
    expectStatus(await send(t.app, 'GET', `/api/clients/${ACME}/audit-events?since=0000-01-01T00:00:00Z`, admin), 400);
  });

  it('year 99999 in until is a 400', async () => {
    expectStatus(await send(t.app, 'GET', `/api/audit-events?until=99999-01-01T00:00:00Z`, admin), 400);
  });

  it('year 0 as a cycle due date is a 400', async () => {
    const r = await send(t.app, 'POST', `/api/clients/${ACME}/cycles`, admin, {
      kind: 'tax',
      period: '2026',
      title: 'Year zero',
      dueDate: '0000-01-01',
    });
    expectStatus(r, 400);
  });

  it('limit=1e400 is a 400', async () => {
    expectStatus(await send(t.app, 'GET', `/api/clients/${ACME}/audit-events?limit=1e400`, admin), 400);
  });

  it('days=1e400 is a 400', async () => {
    expectStatus(await send(t.app, 'GET', '/api/cycles/due-soon?days=1e400', admin), 400);
  });

  it('a number sent as a string in a JSON body is a 400 (no coercion)', async () => {
    const r = await send(t.app, 'POST', `/api/clients/${ACME}/cycles/${acme.cycleId}/requests`, admin, {
      contactId: acme.contactId,
      items: [{ label: 'Coerced' }],
      expiresInDays: '5',
    });
    expectStatus(r, 400);
  });
});

describe('foreign keys and canonical ids (items 5, 6)', () => {
  it('admin creating a contact under a client id that does not exist is a 404', async () => {
    const r = await send(t.app, 'POST', `/api/clients/${randomUUID()}/contacts`, admin, {
      name: 'Ghost',
      email: `ghost-${randomUUID()}@x.example`,
    });
    expectStatus(r, 404);
  });

  it('admin creating a cycle under a client id that does not exist is a 404', async () => {
    const r = await send(t.app, 'POST', `/api/clients/${randomUUID()}/cycles`, admin, {
      kind: 'tax',
      period: '2026',
      title: 'Ghost cycle',
    });
    expectStatus(r, 404);
  });

  it('an upper-case client id in the URL is served as the canonical id and writes no leak.blocked', async () => {
    const before = await t.owner.prisma.auditEvent.count({ where: { eventType: 'leak.blocked' } });
    const r = await send(t.app, 'GET', `/api/clients/${ACME_UPPER}/cycles`, admin);
    expect(r.status, r.body).toBe(200);
    expect(r.json.cycles.length).toBeGreaterThan(0);
    for (const cycle of r.json.cycles) expect(cycle.clientId).toBe(ACME);
    expect(await t.owner.prisma.auditEvent.count({ where: { eventType: 'leak.blocked' } })).toBe(before);
    // The audit trail records the canonical id.
    const events = await t.owner.prisma.auditEvent.findMany({ where: { requestId: String(r.headers['x-request-id']) } });
    expect(events.length).toBeGreaterThan(0);
    for (const event of events) expect(event.clientId).toBe(ACME);
  });

  it('an upper-case client id on POST …/requests mails a link only if the request is created', async () => {
    // Mails are outbox rows written in the request's own unit of work (delivered later by the worker).
    const outbox = () => t.owner.prisma.outboxMessage.count({ where: { kind: 'magic_link' } });
    const mailsBefore = await outbox();
    const leaksBefore = await t.owner.prisma.auditEvent.count({ where: { eventType: 'leak.blocked' } });
    const r = await send(t.app, 'POST', `/api/clients/${ACME_UPPER}/cycles/${acme.cycleId.toUpperCase()}/requests`, admin, {
      contactId: acme.contactId.toUpperCase(),
      items: [{ label: 'Upper-case ids' }],
    });
    expect(r.status, r.body).toBe(201);
    expect(r.json.clientId).toBe(ACME);
    expect(await outbox()).toBe(mailsBefore + 1);
    expect(await t.owner.prisma.auditEvent.count({ where: { eventType: 'leak.blocked' } })).toBe(leaksBefore);
  });
});

describe('request ids (item 8)', () => {
  it('a client-supplied x-request-id is not stored as the audit request_id', async () => {
    const planted = `planted-${randomUUID()}`;
    const r = await send(t.app, 'GET', `/api/clients/${ACME}`, admin, undefined, { 'x-request-id': planted });
    expect(r.status).toBe(200);
    const own = String(r.headers['x-request-id']);
    expect(own).not.toBe(planted);
    expect(own).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(r.headers['x-caller-request-id']).toBe(planted);
    expect(await t.owner.prisma.auditEvent.count({ where: { requestId: planted } })).toBe(0);
    expect(await t.owner.prisma.auditEvent.count({ where: { requestId: own, eventType: 'client.read' } })).toBe(1);
  });
});

describe('answers outside the error shape (item 7)', () => {
  it('/api/clients/%ZZ answers 400 in the error shape with x-request-id', async () => {
    const r = await send(t.app, 'GET', '/api/clients/%ZZ', admin);
    expectStatus(r, 400);
  });

  it('a path parameter over the length limit answers 4xx in the error shape without echoing the URL', async () => {
    const long = 'q'.repeat(1_000);
    const r = await send(t.app, 'GET', `/api/clients/${long}/cycles`, admin);
    expect4xxShape(r);
    expect(r.body).not.toContain(long.slice(0, 100));
  });

  const rawCases: [string, string][] = [
    [
      'a malformed Content-Length',
      'POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 12abc\r\n\r\n{}',
    ],
    [
      'Content-Length together with Transfer-Encoding',
      'POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n',
    ],
    ['a NUL byte in the path', 'GET /api/clients/\u0000 HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['a missing Host header', 'GET /healthz HTTP/1.1\r\n\r\n'],
  ];
  for (const [name, bytes] of rawCases) {
    it(`${name} answers a 4xx with the JSON error body and x-request-id`, async () => {
      const r = await rawHttp(port, Buffer.from(bytes, 'latin1'));
      expect4xxShape(r, name);
    });
  }

  it('oversize headers answer 431 with the JSON error body and x-request-id', async () => {
    const r = await rawHttp(port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`);
    expect(r.status, r.raw.slice(0, 300)).toBe(431);
    expect4xxShape(r, '431');
  });

  it('OPTIONS and TRACE answer 405', async () => {
    for (const method of ['OPTIONS', 'TRACE']) {
      const r = await rawHttp(port, `${method} /api/clients HTTP/1.1\r\nHost: x\r\nAuthorization: ${admin.authorization}\r\n\r\n`);
      expect(r.status, `${method}: ${r.raw.slice(0, 300)}`).toBe(405);
      expect4xxShape(r, method);
    }
  });
});

describe('names, uploads and downloads (item 9)', () => {
  it('a name of only spaces is a 400', async () => {
    const r = await send(t.app, 'POST', `/api/clients/${ACME}/contacts`, admin, { name: '   ', email: `spaces-${randomUUID()}@x.example` });
    expectStatus(r, 400);
  });

  it('multipart with no boundary is a 400', async () => {
    const before = await fileCount();
    const b = `----b${randomUUID()}`;
    const form = rawMultipart(`${part(b, 'a.txt', 'x')}--${b}--\r\n`, 'multipart/form-data');
    expectStatus(await send(t.app, 'POST', uploadUrl(), admin, form.payload, form.headers), 400);
    expect(await fileCount()).toBe(before);
  });

  it('multipart with a wrong boundary is a 400', async () => {
    const before = await fileCount();
    const b = `----b${randomUUID()}`;
    const form = rawMultipart(`${part(b, 'a.txt', 'x')}--${b}--\r\n`, 'multipart/form-data; boundary=not-the-boundary');
    expectStatus(await send(t.app, 'POST', uploadUrl(), admin, form.payload, form.headers), 400);
    expect(await fileCount()).toBe(before);
  });

  it('multipart with an unterminated part is a 400', async () => {
    const before = await fileCount();
    const b = `----b${randomUUID()}`;
    const form = rawMultipart(
      `--${b}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nno end`,
      `multipart/form-data; boundary=${b}`,
    );
    expectStatus(await send(t.app, 'POST', uploadUrl(), admin, form.payload, form.headers), 400);
    expect(await fileCount()).toBe(before);
  });

  it('two files in one upload body is a 400 and stores nothing', async () => {
    const before = await fileCount();
    const b = `----b${randomUUID()}`;
    const form = rawMultipart(`${part(b, 'one.txt', 'one')}${part(b, 'two.txt', 'two')}--${b}--\r\n`, `multipart/form-data; boundary=${b}`);
    expectStatus(await send(t.app, 'POST', uploadUrl(), admin, form.payload, form.headers), 400);
    expect(await fileCount()).toBe(before);
  });

  it('a 0-byte file is a 400 (policy: empty files are refused)', async () => {
    const before = await fileCount();
    const form = multipartFile('empty.txt', 'text/plain', '');
    expectStatus(await send(t.app, 'POST', uploadUrl(), admin, form.payload, form.headers), 400);
    expect(await fileCount()).toBe(before);
  });

  it('HEAD on a download route writes no file.downloaded audit event', async () => {
    const downloaded = () => t.owner.prisma.auditEvent.count({ where: { eventType: 'file.downloaded', entityId: acme.fileId } });
    const before = await downloaded();
    const r = await send(t.app, 'HEAD', `/api/clients/${ACME}/files/${acme.fileId}/download`, admin);
    expect(r.status).toBeLessThan(500);
    expect(await downloaded()).toBe(before);
    // A GET still audits.
    expect((await send(t.app, 'GET', `/api/clients/${ACME}/files/${acme.fileId}/download`, admin)).status).toBe(200);
    expect(await downloaded()).toBe(before + 1);
  });
});
