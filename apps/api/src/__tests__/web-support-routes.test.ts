import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Headers, multipartFile, type Reply, send } from './support/http.ts';
import { createTestApp, DEMO, login, type TestApp } from './support/test-app.ts';

/*
 * The routes the web app added: the console's home counts, its CSRF value on reload, safe
 * inline previews, a contact removing their own upload before review, and the SPA pages.
 */
const ACME = DEMO.clients.acme;
const ALICE = '00000000-0000-4000-8000-00000000a002';
let t: TestApp;
let staff: Headers;
let admin: Headers;
let acmeCycle: string;

const call = (method: 'GET' | 'POST' | 'DELETE', url: string, headers: Headers = {}, payload?: object | Buffer, extra: Headers = {}) =>
  send(t.app, method, url, headers, payload, extra);

async function requestWithContact() {
  const created = await call('POST', `/api/clients/${ACME}/cycles/${acmeCycle}/requests`, staff, {
    contactId: ALICE,
    items: [{ label: 'Bank statements' }, { label: 'Invoices' }],
  });
  expect(created.status, created.body).toBe(201);
  const { items } = created.json as { id: string; items: { id: string }[] };
  // The link exists only in the mail the delivery worker sends.
  const token = await t.linkForRequest(created.json.id as string);
  const grant = (await call('POST', '/api/portal/exchange', {}, { token })).json as { sessionToken: string };
  return { id: created.json.id as string, items, contact: { authorization: `Bearer ${grant.sessionToken}` } };
}

async function upload(url: string, headers: Headers, name: string, type: string): Promise<Reply> {
  const form = multipartFile(name, type, Buffer.from('bytes'));
  return call('POST', url, headers, form.payload, form.headers);
}

beforeAll(async () => {
  t = await createTestApp();
  staff = (await login(t.app, DEMO.staff.staff)).headers;
  admin = (await login(t.app, DEMO.staff.admin)).headers;
  acmeCycle = (await t.owner.prisma.cycle.findFirstOrThrow({ where: { clientId: ACME } })).id;
});
afterAll(async () => {
  await t?.close();
});

describe('routes the web app relies on', () => {
  it('the home counts cover only the clients a staff member serves; an admin sees every client', async () => {
    const mine = await call('GET', '/api/outstanding-items', staff);
    expect(mine.status).toBe(200);
    expect((mine.json.clients as { clientId: string }[]).map((c) => c.clientId)).toEqual([ACME]);
    const all = await call('GET', '/api/outstanding-items', admin);
    expect((all.json.clients as { clientId: string }[]).length).toBe(3);
  });

  it('GET /api/auth/me gives the CSRF header value of the calling session, so a reloaded console can write', async () => {
    const session = await call('POST', '/api/auth/login', {}, { email: DEMO.staff.staff.email, password: DEMO.staff.staff.password });
    const me = await call('GET', '/api/auth/me', { authorization: `Bearer ${session.json.token}` });
    expect(me.json.csrfToken).toBe(session.json.csrfToken);
  });

  it('a preview is inline and sandboxed for images, and refused for every other type (those stay download-only)', async () => {
    const { id, items } = await requestWithContact();
    const png = await upload(`/api/clients/${ACME}/requests/${id}/items/${items[0]!.id}/files`, staff, 'scan.png', 'image/png');
    const text = await upload(`/api/clients/${ACME}/requests/${id}/items/${items[0]!.id}/files`, staff, 'notes.txt', 'text/plain');
    const preview = await call('GET', `/api/clients/${ACME}/files/${png.json.id}/preview`, staff);
    expect(preview.status).toBe(200);
    expect(preview.headers['content-disposition']).toMatch(/^inline;/);
    expect(preview.headers['content-security-policy']).toMatch(/sandbox/);
    expect(preview.headers['x-content-type-options']).toBe('nosniff');
    const refused = await call('GET', `/api/clients/${ACME}/files/${text.json.id}/preview`, staff);
    expect(refused.status).toBe(415);
  });

  it("a contact removes their own upload while it awaits review, never after it, and never someone else's", async () => {
    const { items, contact } = await requestWithContact();
    const own = await upload(`/api/portal/clients/${ACME}/items/${items[0]!.id}/files`, contact, 'a.pdf', 'application/pdf');
    expect(own.status, own.body).toBe(201);
    const removed = await call('DELETE', `/api/portal/clients/${ACME}/files/${own.json.id}`, contact);
    expect(removed.status).toBe(200);
    const item = await t.owner.prisma.requestItem.findUniqueOrThrow({ where: { id: items[0]!.id } });
    expect(item.status).toBe('pending');

    const other = await requestWithContact();
    const theirs = await upload(`/api/portal/clients/${ACME}/items/${other.items[0]!.id}/files`, other.contact, 'b.pdf', 'application/pdf');
    expect((await call('DELETE', `/api/portal/clients/${ACME}/files/${theirs.json.id}`, contact)).status).toBe(404);

    const reviewed = await upload(`/api/portal/clients/${ACME}/items/${items[1]!.id}/files`, contact, 'c.pdf', 'application/pdf');
    await t.owner.prisma.requestItem.update({ where: { id: items[1]!.id }, data: { status: 'rejected' } });
    expect((await call('DELETE', `/api/portal/clients/${ACME}/files/${reviewed.json.id}`, contact)).status).toBe(409);
  });

  it('the portal and console pages are served under a CSP without inline script or eval; the API keeps its own URLs', async () => {
    for (const url of ['/portal', '/app', '/app/clients/anything']) {
      const page = await call('GET', url);
      if (page.status === 503) continue; // the web app is not built in this checkout
      expect(page.status).toBe(200);
      const csp = String(page.headers['content-security-policy']);
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
    }
    expect((await call('GET', '/api/nothing-here')).status).toBe(404);
    expect((await call('GET', '/healthz')).status).toBe(200);
  });
});
