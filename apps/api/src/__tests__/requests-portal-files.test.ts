import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../app.ts';
import { clientScope } from '../routes/client-route.ts';
import { contentDisposition, safeFilename, storeUpload } from '../services/file-storage.ts';
import { type Headers, multipartFile, type Reply, send } from './support/http.ts';
import { createTestApp, DEMO, login, type TestApp } from './support/test-app.ts';

/*
 * Document requests (staff), the contact portal reached by magic link, and file uploads
 * and downloads — over a real PostgreSQL database of this file's own, as spade_app.
 */
const ACME = DEMO.clients.acme;
const BORNEO = DEMO.clients.borneo;
const ALICE = '00000000-0000-4000-8000-00000000a002';
const BALA = '00000000-0000-4000-8000-00000000b002';
const MAX_BYTES = 4096;

let t: TestApp;
let staff: Headers;
let acmeCycle: string;
let borneoCycle: string;

/** Calls this file's app. */
function call(
  method: 'GET' | 'POST' | 'DELETE',
  url: string,
  headers: Headers = {},
  payload?: object | Buffer,
  extraHeaders: Headers = {},
): Promise<Reply> {
  return send(t.app, method, url, headers, payload, extraHeaders);
}

async function upload(url: string, headers: Headers, filename: string, contentType: string, body: Buffer) {
  const form = multipartFile(filename, contentType, body);
  return call('POST', url, headers, form.payload, form.headers);
}

const bearer = (token: string): Headers => ({ authorization: `Bearer ${token}` });

async function createRequest(labels = ['Bank statements', 'Invoices'], contactId = ALICE) {
  const r = await call('POST', `/api/clients/${ACME}/cycles/${acmeCycle}/requests`, staff, {
    contactId,
    items: labels.map((label) => ({ label })),
    message: 'Please upload',
  });
  expect(r.status, r.body).toBe(201);
  const created = r.json as { id: string; items: { id: string }[]; expiresAt: string };
  // The token exists only in the mail: deliver it and read it there, as the contact would.
  const token = await t.linkForRequest(created.id);
  return { ...created, magicLink: { token, url: `${t.config.publicBaseUrl}/portal#token=${token}`, expiresAt: created.expiresAt } };
}

async function exchange(token: string) {
  const r = await call('POST', '/api/portal/exchange', {}, { token });
  expect(r.status, r.body).toBe(200);
  return r.json as { clientId: string; requestId: string; contactId: string; sessionToken: string; csrfToken: string };
}

async function events(where: { eventType: string; entityId?: string }) {
  return t.owner.prisma.auditEvent.findMany({ where, orderBy: { occurredAt: 'asc' } });
}

/** Every file under the storage directory (final and temporary), relative to it. */
async function filesOnDisk(): Promise<string[]> {
  if (!existsSync(t.config.storageDir)) return [];
  const entries = await readdir(t.config.storageDir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.relative(t.config.storageDir, path.join(e.parentPath, e.name)));
}

beforeAll(async () => {
  t = await createTestApp({ env: { SPADE_UPLOAD_MAX_BYTES: String(MAX_BYTES), SPADE_EXCHANGE_PER_MINUTE: '500' } });
  staff = (await login(t.app, DEMO.staff.staff)).headers;
  acmeCycle = (await t.owner.prisma.cycle.findFirstOrThrow({ where: { clientId: ACME } })).id;
  borneoCycle = (await t.owner.prisma.cycle.findFirstOrThrow({ where: { clientId: BORNEO } })).id;
});
afterAll(async () => {
  await t?.close();
});

describe('document requests (staff)', () => {
  it('creating a request returns no token, queues its mail in the same unit of work, and stores only the hash once sent', async () => {
    const response = await call('POST', `/api/clients/${ACME}/cycles/${acmeCycle}/requests`, staff, {
      contactId: ALICE,
      items: [{ label: 'Bank statements' }, { label: 'Invoices' }],
      message: 'Please upload',
    });
    expect(response.status).toBe(201);
    expect(response.body).not.toMatch(/mlk_|token/i);
    const queued = await t.owner.prisma.outboxMessage.findMany({ where: { cycleRequestId: response.json.id } });
    expect(queued).toMatchObject([{ kind: 'magic_link', reason: 'request_created', status: 'pending', toAddress: 'alice@acme.example' }]);
    expect((await t.owner.prisma.cycleRequest.findUniqueOrThrow({ where: { id: response.json.id } })).tokenHash).toBeNull();

    const token = await t.linkForRequest(response.json.id);
    const created = { ...response.json, magicLink: { token } } as { id: string; items: unknown[]; magicLink: { token: string } };
    expect(token).toMatch(/^mlk_[A-Za-z0-9_-]{43}$/);
    const url = `${t.config.publicBaseUrl}/portal#token=${token}`;
    expect(created.items).toHaveLength(2);
    expect(created).not.toHaveProperty('tokenHash');

    const row = await t.owner.prisma.cycleRequest.findUniqueOrThrow({ where: { id: created.id } });
    expect(row.tokenHash).toBe(createHash('sha256').update(token).digest('hex'));
    const mail = t.mails.findLast((m) => m.to === 'alice@acme.example');
    expect(mail?.text).toContain(url);
    expect(mail?.html).toContain(url);
    expect(mail?.from).toEqual({ name: t.config.mail.firmName, address: t.config.mail.fromAddress });
    // Nothing of the token is at rest: not in the outbox row, not anywhere in the request row.
    const sentRow = await t.owner.prisma.outboxMessage.findUniqueOrThrow({ where: { id: queued[0]!.id } });
    expect(sentRow).toMatchObject({ status: 'sent', attempts: 1 });
    expect(JSON.stringify(sentRow)).not.toContain(token);
    expect(JSON.stringify(row)).not.toContain(token);

    const read = await call('GET', `/api/clients/${ACME}/requests/${created.id}`, staff);
    expect(read.status).toBe(200);
    expect(read.body).not.toContain(token);
    expect(read.body).not.toContain(row.tokenHash);
    expect(read.json).not.toHaveProperty('magicLink');
    expect(read.json.items.map((i: { label: string }) => i.label)).toEqual(['Bank statements', 'Invoices']);

    const list = await call('GET', `/api/clients/${ACME}/cycles/${acmeCycle}/requests`, staff);
    expect(list.status).toBe(200);
    expect(list.json.requests.find((r: { id: string }) => r.id === created.id)).toMatchObject({ itemCount: 2, status: 'open' });

    const audited = await t.owner.prisma.auditEvent.findMany({ where: { entityId: created.id } });
    expect(audited.map((e) => e.eventType)).toEqual(expect.arrayContaining(['request.created', 'magic_link.created', 'request.read']));
    for (const event of audited) {
      expect(JSON.stringify(event)).not.toContain(token);
      expect(JSON.stringify(event)).not.toContain(row.tokenHash);
    }
  });

  it("another client's cycle or contact is not found (404), and nothing is created", async () => {
    const before = await t.owner.prisma.cycleRequest.count();
    const foreignCycle = await call('POST', `/api/clients/${ACME}/cycles/${borneoCycle}/requests`, staff, {
      contactId: ALICE,
      items: [{ label: 'x' }],
    });
    expect(foreignCycle.status).toBe(404);
    const foreignContact = await call('POST', `/api/clients/${ACME}/cycles/${acmeCycle}/requests`, staff, {
      contactId: BALA,
      items: [{ label: 'x' }],
    });
    expect(foreignContact.status).toBe(404);
    expect(foreignContact.json.error.code).toBe('not_found');
    // Staff not assigned to Borneo cannot reach its requests at all.
    const unassigned = await call('GET', `/api/clients/${BORNEO}/cycles/${borneoCycle}/requests`, staff);
    expect(unassigned.status).toBe(404);
    expect(await t.owner.prisma.cycleRequest.count()).toBe(before);
  });

  it('rejects bodies outside the schema (no items, too many, unknown fields)', async () => {
    const url = `/api/clients/${ACME}/cycles/${acmeCycle}/requests`;
    expect((await call('POST', url, staff, { contactId: ALICE, items: [] })).status).toBe(400);
    const many = Array.from({ length: 51 }, (_, i) => ({ label: `item ${i}` }));
    expect((await call('POST', url, staff, { contactId: ALICE, items: many })).status).toBe(400);
    expect((await call('POST', url, staff, { contactId: ALICE, items: [{ label: 'a' }], tokenHash: 'x' })).status).toBe(400);
    expect((await call('POST', url, staff, { contactId: ALICE, items: [{ label: 'a' }], expiresInDays: 61 })).status).toBe(400);
  });

  it('review accepts, and rejects only with a comment; items of another request are not found', async () => {
    const request = await createRequest(['A', 'B']);
    const other = await createRequest(['C']);
    const [a, b] = request.items as [{ id: string }, { id: string }];
    const base = `/api/clients/${ACME}/requests/${request.id}/items`;

    const noComment = await call('POST', `${base}/${b.id}/review`, staff, { decision: 'reject' });
    expect(noComment.status).toBe(400);

    const accepted = await call('POST', `${base}/${a.id}/review`, staff, { decision: 'accept' });
    expect(accepted.status).toBe(200);
    expect(accepted.json).toMatchObject({ id: a.id, status: 'accepted', reviewedBy: DEMO.staff.staff.id, reviewComment: null });

    const rejected = await call('POST', `${base}/${b.id}/review`, staff, { decision: 'reject', comment: 'Wrong month' });
    expect(rejected.status).toBe(200);
    expect(rejected.json).toMatchObject({ status: 'rejected', reviewComment: 'Wrong month' });
    expect(rejected.json.reviewedAt).toEqual(expect.any(String));

    const crossed = await call('POST', `${base}/${other.items[0]?.id}/review`, staff, { decision: 'accept' });
    expect(crossed.status).toBe(404);
    expect((await events({ eventType: 'item.reviewed', entityId: b.id })).length).toBe(1);
  });
});

describe('magic links and the contact portal', () => {
  it('opening a link (GET) answers valid and changes nothing', async () => {
    const { id, magicLink } = await createRequest();
    const snapshot = async () => ({
      audit: await t.owner.prisma.auditEvent.count(),
      sessions: await t.owner.prisma.contactSession.count(),
      request: await t.owner.prisma.cycleRequest.findUniqueOrThrow({ where: { id } }),
    });
    const before = await snapshot();
    for (let i = 0; i < 3; i++) {
      const r = await call('GET', `/api/portal/links/${magicLink.token}`);
      expect(r.status).toBe(200);
      // What the landing page shows before Continue: who asks, for what, by when — nothing else.
      expect(Object.keys(r.json).sort()).toEqual(['clientName', 'cycleTitle', 'dueDate', 'expiresAt', 'firmName', 'valid']);
      expect(r.json).toMatchObject({ valid: true, expiresAt: magicLink.expiresAt, clientName: 'Acme Trading Pte Ltd' });
    }
    expect(await snapshot()).toEqual(before);
  });

  it('unknown, malformed and foreign-kind tokens all get the same 401', async () => {
    const answers = [];
    for (const token of [`mlk_${'A'.repeat(43)}`, 'nonsense', `sst_${'A'.repeat(43)}`, `mlk_${'A'.repeat(42)}!`]) {
      const opened = await call('GET', `/api/portal/links/${encodeURIComponent(token)}`);
      const exchanged = await call('POST', '/api/portal/exchange', {}, { token });
      for (const r of [opened, exchanged]) {
        expect(r.status).toBe(401);
        answers.push({ code: r.json.error.code, message: r.json.error.message });
      }
    }
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
  });

  it('exchanging a link opens a contact session bound to that contact and request', async () => {
    const { id, magicLink } = await createRequest(['Receipts']);
    const r = await call('POST', '/api/portal/exchange', {}, { token: magicLink.token });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ clientId: ACME, requestId: id, contactId: ALICE });
    expect(r.json.sessionToken).toMatch(/^cst_/);
    const cookie = String(r.headers['set-cookie']);
    expect(cookie).toContain('spade_portal=');
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);

    const session = await t.owner.prisma.contactSession.findFirstOrThrow({ where: { cycleRequestId: id } });
    expect(session.tokenHash).toBe(createHash('sha256').update(r.json.sessionToken).digest('hex'));
    expect(session.contactId).toBe(ALICE);
    expect(session.expiresAt.getTime()).toBeLessThanOrEqual(Date.now() + t.config.contactSessionTtlMs);

    const own = await call('GET', `/api/portal/clients/${ACME}/request`, bearer(r.json.sessionToken));
    expect(own.status).toBe(200);
    expect(own.json).toMatchObject({ id, clientId: ACME, status: 'open' });
    expect(own.json.items.map((i: { label: string }) => i.label)).toEqual(['Receipts']);
    expect(own.json.items[0]).not.toHaveProperty('reviewedBy');

    const exchanged = await events({ eventType: 'magic_link.exchanged', entityId: id });
    expect(exchanged).toHaveLength(1);
    expect(exchanged[0]).toMatchObject({ actorType: 'contact', actorId: ALICE, clientId: ACME });
    expect(JSON.stringify(exchanged[0])).not.toContain(magicLink.token);

    // The contact session reaches neither staff routes nor another client.
    expect((await call('GET', `/api/clients/${ACME}/requests/${id}`, bearer(r.json.sessionToken))).status).toBe(404);
    expect((await call('GET', `/api/portal/clients/${BORNEO}/request`, bearer(r.json.sessionToken))).status).toBe(404);
  });

  it('a rejected exchange is audited firm-wide without the token', async () => {
    const token = `mlk_${'Z'.repeat(43)}`;
    const r = await call('POST', '/api/portal/exchange', {}, { token });
    expect(r.status).toBe(401);
    const rejected = await t.owner.prisma.auditEvent.findFirstOrThrow({
      where: { eventType: 'magic_link.rejected', requestId: r.json.error.requestId },
    });
    expect(rejected.clientId).toBeNull();
    expect(JSON.stringify(rejected)).not.toContain(token);
    expect(JSON.stringify(rejected)).not.toContain(createHash('sha256').update(token).digest('hex'));
  });

  it('resending rotates the link: the old one is dead, its sessions too, the new one works', async () => {
    const created = await createRequest();
    const oldToken = created.magicLink.token;
    const oldSession = await exchange(oldToken);

    const resent = await call('POST', `/api/clients/${ACME}/requests/${created.id}/resend`, staff);
    expect(resent.status).toBe(200);
    expect(resent.body).not.toMatch(/mlk_|token/i);
    // Dead at once, before the new mail is even sent.
    expect((await call('GET', `/api/portal/links/${oldToken}`)).status).toBe(401);
    const newToken = await t.linkForRequest(created.id);
    expect(newToken).not.toBe(oldToken);

    expect((await call('GET', `/api/portal/links/${oldToken}`)).status).toBe(401);
    expect((await call('POST', '/api/portal/exchange', {}, { token: oldToken })).status).toBe(401);
    expect((await call('GET', `/api/portal/clients/${ACME}/request`, bearer(oldSession.sessionToken))).status).toBe(401);

    expect((await call('GET', `/api/portal/links/${newToken}`)).status).toBe(200);
    const fresh = await exchange(newToken);
    expect((await call('GET', `/api/portal/clients/${ACME}/request`, bearer(fresh.sessionToken))).status).toBe(200);
    expect(await events({ eventType: 'magic_link.rotated', entityId: created.id })).toHaveLength(1);
  });

  it('cancelling a request kills its link and its contact sessions', async () => {
    const created = await createRequest();
    const session = await exchange(created.magicLink.token);
    const cancelled = await call('POST', `/api/clients/${ACME}/requests/${created.id}/cancel`, staff);
    expect(cancelled.status).toBe(200);
    expect(cancelled.json.status).toBe('cancelled');
    expect(await t.owner.prisma.contactSession.count({ where: { cycleRequestId: created.id, revokedAt: null } })).toBe(0);

    expect((await call('GET', `/api/portal/links/${created.magicLink.token}`)).status).toBe(401);
    expect((await call('GET', `/api/portal/clients/${ACME}/request`, bearer(session.sessionToken))).status).toBe(401);
    expect((await call('POST', `/api/clients/${ACME}/requests/${created.id}/cancel`, staff)).status).toBe(409);
    expect((await call('POST', `/api/clients/${ACME}/requests/${created.id}/resend`, staff)).status).toBe(409);
    expect(await events({ eventType: 'request.cancelled', entityId: created.id })).toHaveLength(1);
  });

  it('logout revokes the contact session', async () => {
    const created = await createRequest();
    const session = await exchange(created.magicLink.token);
    const out = await call('POST', `/api/portal/clients/${ACME}/logout`, bearer(session.sessionToken));
    expect(out.status).toBe(200);
    expect((await call('GET', `/api/portal/clients/${ACME}/request`, bearer(session.sessionToken))).status).toBe(401);
  });

  it("the runbook's UPDATE cycle_requests SET expires_at = NOW() ends the contact's session on the very next request", async () => {
    const created = await createRequest();
    const session = await exchange(created.magicLink.token);
    expect((await call('GET', `/api/portal/clients/${ACME}/request`, bearer(session.sessionToken))).status).toBe(200);
    await t.owner.withSql((sql) => sql.query(`UPDATE cycle_requests SET expires_at = NOW() WHERE id = '${created.id}'`));
    const next = await call('GET', `/api/portal/clients/${ACME}/request`, bearer(session.sessionToken));
    expect(next.status).toBe(401);
    expect(next.json.error.code).toBe('unauthenticated');
    expect((await call('GET', `/api/portal/links/${created.magicLink.token}`)).status).toBe(401);
    expect((await call('POST', '/api/portal/exchange', {}, { token: created.magicLink.token })).status).toBe(401);
  });
});

describe('files', () => {
  it('a staff upload records sha256 and size, and lands under clients/<clientId>/', async () => {
    const request = await createRequest(['Statements']);
    const itemId = request.items[0]?.id as string;
    const body = Buffer.from('date,amount\n2026-10-01,100.00\n');
    const r = await upload(
      `/api/clients/${ACME}/requests/${request.id}/items/${itemId}/files`,
      staff,
      '../../etc/ledger.csv',
      'text/csv',
      body,
    );
    expect(r.status, r.body).toBe(201);
    expect(r.json).toMatchObject({
      clientId: ACME,
      cycleId: acmeCycle,
      requestItemId: itemId,
      filename: 'ledger.csv',
      contentType: 'text/csv',
      size: body.length,
      sha256: createHash('sha256').update(body).digest('hex'),
    });
    const row = await t.owner.prisma.file.findUniqueOrThrow({ where: { id: r.json.id } });
    expect(row.storageKey).toBe(`clients/${ACME}/${r.json.id}`);
    expect(row.uploadedByType).toBe('staff');
    expect(await readFile(path.join(t.config.storageDir, row.storageKey))).toEqual(body);
    expect(await events({ eventType: 'file.uploaded', entityId: r.json.id })).toHaveLength(1);
    expect((await filesOnDisk()).filter((f) => f.startsWith('tmp'))).toEqual([]);
  });

  it('an oversize upload is 413 with the error shape, and leaves no row and no file', async () => {
    const request = await createRequest(['Big']);
    const itemId = request.items[0]?.id as string;
    const rowsBefore = await t.owner.prisma.file.count();
    const diskBefore = await filesOnDisk();
    const r = await upload(
      `/api/clients/${ACME}/requests/${request.id}/items/${itemId}/files`,
      staff,
      'big.pdf',
      'application/pdf',
      Buffer.alloc(MAX_BYTES + 1, 1),
    );
    expect(r.status).toBe(413);
    expect(r.json).toEqual({ error: { code: 'payload_too_large', message: expect.any(String), requestId: expect.any(String) } });
    expect(await t.owner.prisma.file.count()).toBe(rowsBefore);
    expect(await filesOnDisk()).toEqual(diskBefore);
    expect(await events({ eventType: 'file.uploaded', entityId: itemId })).toHaveLength(0);
  });

  it('a disallowed content type is 415 and nothing is written', async () => {
    const request = await createRequest(['Exe']);
    const itemId = request.items[0]?.id as string;
    const rowsBefore = await t.owner.prisma.file.count();
    const diskBefore = await filesOnDisk();
    const r = await upload(
      `/api/clients/${ACME}/requests/${request.id}/items/${itemId}/files`,
      staff,
      'setup.exe',
      'application/x-msdownload',
      Buffer.from('MZ'),
    );
    expect(r.status).toBe(415);
    expect(r.json.error.code).toBe('unsupported_media_type');
    expect(await t.owner.prisma.file.count()).toBe(rowsBefore);
    expect(await filesOnDisk()).toEqual(diskBefore);
  });

  it('uploading to an item of another request, or of another client, is 404', async () => {
    const request = await createRequest(['Mine']);
    const other = await createRequest(['Theirs']);
    const r = await upload(
      `/api/clients/${ACME}/requests/${request.id}/items/${other.items[0]?.id}/files`,
      staff,
      'a.txt',
      'text/plain',
      Buffer.from('a'),
    );
    expect(r.status).toBe(404);
    const borneoItem = await t.owner.prisma.requestItem.findFirstOrThrow({ where: { clientId: BORNEO } });
    const foreign = await upload(
      `/api/clients/${ACME}/requests/${borneoItem.cycleRequestId}/items/${borneoItem.id}/files`,
      staff,
      'a.txt',
      'text/plain',
      Buffer.from('a'),
    );
    expect(foreign.status).toBe(404);
  });

  it('download streams the bytes as an attachment and records file.downloaded', async () => {
    const request = await createRequest(['Doc']);
    const body = Buffer.from('%PDF-1.4 not really\n');
    const up = await upload(
      `/api/clients/${ACME}/requests/${request.id}/items/${request.items[0]?.id}/files`,
      staff,
      'Relevé "octobre".pdf',
      'application/pdf',
      body,
    );
    expect(up.status).toBe(201);
    const r = await call('GET', `/api/clients/${ACME}/files/${up.json.id}/download`, staff);
    expect(r.status).toBe(200);
    expect(r.rawPayload).toEqual(body);
    expect(r.headers['content-type']).toBe('application/pdf');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['content-disposition']).toBe(contentDisposition('Relevé "octobre".pdf'));
    expect(r.headers['content-disposition']).toBe(
      `attachment; filename="Relev_ _octobre_.pdf"; filename*=UTF-8''Relev%C3%A9%20%22octobre%22.pdf`,
    );
    const downloaded = await events({ eventType: 'file.downloaded', entityId: up.json.id });
    expect(downloaded).toHaveLength(1);
    expect(downloaded[0]).toMatchObject({ actorType: 'staff', actorId: DEMO.staff.staff.id, clientId: ACME });

    const listed = await call('GET', `/api/clients/${ACME}/files?requestId=${request.id}`, staff);
    expect(listed.json.files.map((f: { id: string }) => f.id)).toEqual([up.json.id]);
  });

  it('a soft-deleted file is 404 to download and gone from lists', async () => {
    const request = await createRequest(['Doc']);
    const up = await upload(
      `/api/clients/${ACME}/requests/${request.id}/items/${request.items[0]?.id}/files`,
      staff,
      'a.txt',
      'text/plain',
      Buffer.from('bye'),
    );
    const deleted = await call('DELETE', `/api/clients/${ACME}/files/${up.json.id}`, staff);
    expect(deleted.status).toBe(200);
    expect((await t.owner.prisma.file.findUniqueOrThrow({ where: { id: up.json.id } })).deletedAt).not.toBeNull();
    expect((await call('GET', `/api/clients/${ACME}/files/${up.json.id}/download`, staff)).status).toBe(404);
    expect((await call('DELETE', `/api/clients/${ACME}/files/${up.json.id}`, staff)).status).toBe(404);
    const listed = await call('GET', `/api/clients/${ACME}/files?itemId=${request.items[0]?.id}`, staff);
    expect(listed.json.files).toEqual([]);
    expect(await events({ eventType: 'file.deleted', entityId: up.json.id })).toHaveLength(1);
  });

  it("a contact uploads to their own request's items only, and sees and downloads only their own uploads", async () => {
    // Two requests to the same contact: a session is bound to one request, not to the person.
    const mine = await createRequest(['Mine 1', 'Mine 2']);
    const theirs = await createRequest(['Other request']);
    const session = bearer((await exchange(mine.magicLink.token)).sessionToken);
    const otherSession = bearer((await exchange(theirs.magicLink.token)).sessionToken);
    const [item] = mine.items as [{ id: string }];

    const body = Buffer.from('contact upload');
    const up = await upload(`/api/portal/clients/${ACME}/items/${item.id}/files`, session, 'receipt.png', 'image/png', body);
    expect(up.status, up.body).toBe(201);
    const row = await t.owner.prisma.file.findUniqueOrThrow({ where: { id: up.json.id } });
    expect(row).toMatchObject({ uploadedByType: 'contact', uploadedById: ALICE, requestItemId: item.id });
    expect((await t.owner.prisma.requestItem.findUniqueOrThrow({ where: { id: item.id } })).status).toBe('submitted');

    // Same contact, other request's item → 404; another client's URL → 404.
    const crossed = await upload(
      `/api/portal/clients/${ACME}/items/${theirs.items[0]?.id}/files`,
      session,
      'x.txt',
      'text/plain',
      Buffer.from('x'),
    );
    expect(crossed.status).toBe(404);
    expect(
      (await upload(`/api/portal/clients/${BORNEO}/items/${item.id}/files`, session, 'x.txt', 'text/plain', Buffer.from('x'))).status,
    ).toBe(404);

    // A staff upload to the same item and the other request's contact upload stay invisible.
    const staffUp = await upload(
      `/api/clients/${ACME}/requests/${mine.id}/items/${item.id}/files`,
      staff,
      's.txt',
      'text/plain',
      Buffer.from('s'),
    );
    expect(staffUp.status).toBe(201);
    const otherUp = await upload(
      `/api/portal/clients/${ACME}/items/${theirs.items[0]?.id}/files`,
      otherSession,
      'o.txt',
      'text/plain',
      Buffer.from('o'),
    );
    expect(otherUp.status).toBe(201);
    // The seed's file: Alice's own upload, but to another request of hers.
    const seededFile = await t.owner.prisma.file.findFirstOrThrow({
      where: { clientId: ACME, uploadedByType: 'contact', uploadedById: ALICE, item: { cycleRequestId: { notIn: [mine.id, theirs.id] } } },
    });

    const listed = await call('GET', `/api/portal/clients/${ACME}/files`, session);
    expect(listed.status).toBe(200);
    expect(listed.json.files.map((f: { id: string }) => f.id)).toEqual([up.json.id]);

    const own = await call('GET', `/api/portal/clients/${ACME}/files/${up.json.id}/download`, session);
    expect(own.status).toBe(200);
    expect(own.rawPayload).toEqual(body);
    const downloaded = await events({ eventType: 'file.downloaded', entityId: up.json.id });
    expect(downloaded[0]).toMatchObject({ actorType: 'contact', actorId: ALICE, clientId: ACME });

    for (const fileId of [staffUp.json.id, otherUp.json.id, seededFile.id]) {
      expect((await call('GET', `/api/portal/clients/${ACME}/files/${fileId}/download`, session)).status).toBe(404);
    }
    // Contacts never reach the staff file routes.
    expect((await call('GET', `/api/clients/${ACME}/files/${up.json.id}/download`, session)).status).toBe(404);
  });
});

describe('what must never stay behind', () => {
  it('a unit of work that rolls back after an upload leaves neither the row nor the file', async () => {
    let stored: { id: string; storageKey: string } | null = null;
    const app = await buildApp(t.config, {
      db: t.db,
      adminDb: t.adminDb,
      logger: false,
      extraRoutes: async (instance) => {
        instance.post(
          '/api/test/clients/:clientId/items/:itemId/upload-then-fail',
          { config: { routeScope: 'client-scoped', upload: true } },
          async (request) => {
            const { clientId, itemId } = request.params as { clientId: string; itemId: string };
            const db = clientScope(request).db;
            const item = await db.requestItem.findFirstOrThrow({
              where: { id: itemId },
              select: { request: { select: { cycleId: true } } },
            });
            stored = await storeUpload(request, db, t.config, {
              clientId,
              cycleId: item.request.cycleId,
              requestItemId: itemId,
              uploadedBy: { type: 'staff', id: DEMO.staff.staff.id },
            });
            expect(existsSync(path.join(t.config.storageDir, stored.storageKey))).toBe(true);
            throw new Error('failure after the file was stored');
          },
        );
      },
    });
    try {
      const request = await createRequest(['Rolled back']);
      const form = multipartFile('a.txt', 'text/plain', Buffer.from('never kept'));
      const r = await app.inject({
        method: 'POST',
        url: `/api/test/clients/${ACME}/items/${request.items[0]?.id}/upload-then-fail`,
        headers: { ...staff, ...form.headers },
        payload: form.payload,
      });
      expect(r.statusCode).toBe(500);
      expect(stored).not.toBeNull();
      const { id, storageKey } = stored as unknown as { id: string; storageKey: string };
      expect(await t.owner.prisma.file.findUnique({ where: { id } })).toBeNull();
      expect(existsSync(path.join(t.config.storageDir, storageKey))).toBe(false);
      expect((await filesOnDisk()).filter((f) => f.startsWith('tmp'))).toEqual([]);
    } finally {
      await app.close();
    }
  });

  it('magic-link and session tokens never reach the logs', async () => {
    const lines: string[] = [];
    const app = await buildApp(t.config, {
      db: t.db,
      adminDb: t.adminDb,
      logger: { level: 'trace', stream: { write: (line: string) => lines.push(line) } },
    });
    try {
      const created = await createRequest();
      const token = created.magicLink.token;
      expect((await app.inject({ method: 'GET', url: `/api/portal/links/${token}` })).statusCode).toBe(200);
      const exchanged = await app.inject({ method: 'POST', url: '/api/portal/exchange', payload: { token } });
      expect(exchanged.statusCode).toBe(200);
      const sessionToken = exchanged.json<{ sessionToken: string }>().sessionToken;
      const own = await app.inject({ method: 'GET', url: `/api/portal/clients/${ACME}/request`, headers: bearer(sessionToken) });
      expect(own.statusCode).toBe(200);
      await app.inject({ method: 'POST', url: '/api/portal/exchange', payload: { token: `${token.slice(0, -1)}x` } });

      const log = lines.join('');
      expect(log).toContain('/api/portal/exchange');
      for (const secret of [token, sessionToken, token.slice(4), sessionToken.slice(4)]) {
        expect(log).not.toContain(secret);
        expect(log).not.toContain(createHash('sha256').update(secret).digest('hex'));
      }
    } finally {
      await app.close();
    }
  });
});

describe('file names', () => {
  it('keeps the basename only, without control or bidi characters, at most 255 characters', () => {
    expect(safeFilename('../../etc/passwd')).toBe('passwd');
    expect(safeFilename('C:\\Users\\me\\invoice.pdf')).toBe('invoice.pdf');
    expect(safeFilename('in\u0000voi\u001fce\u202Efdp.exe')).toBe('invoicefdp.exe');
    expect(safeFilename('..')).toBe('file');
    expect(safeFilename('')).toBe('file');
    expect(Array.from(safeFilename(`${'é'.repeat(300)}.pdf`))).toHaveLength(255);
  });
});
