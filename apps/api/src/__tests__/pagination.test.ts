import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cursorScope, declaredPagers, encodeCursor, sampleCursor } from '../routes/pagination.ts';
import { type Headers, multipartFile, type Reply, send } from './support/http.ts';
import { createTestApp, DEMO, login, type TestApp } from './support/test-app.ts';

/*
 * Keyset pagination on every list route (issue 13 item 3): each list answers at most `limit`
 * rows in a stable order and carries the next page in `Link: <…>; rel="next"` and
 * `X-Next-Cursor`; a walk page by page sees every row exactly once even while rows are
 * written between its pages; limits are bounded; cursors are opaque, bound to their list and
 * scope, and a bad one is a 400 in the error shape — never a 500, never another tenant's rows.
 * Real PostgreSQL, as spade_app.
 */

let t: TestApp;
let admin: Headers;
let clientA: string;
let clientB: string;
let contactA: string;
let cycleA: string;
let cycleA2: string;
let requestA: { id: string; items: { id: string }[] };
const TAG = randomBytes(3).toString('hex');

const call = (method: 'GET' | 'POST' | 'DELETE', url: string, headers: Headers = {}, payload?: object | Buffer, extra: Headers = {}) =>
  send(t.app, method, url, headers, payload, extra);

async function ok(reply: Promise<Reply>, status = 200): Promise<Reply> {
  const r = await reply;
  if (r.status !== status) throw new Error(`fixture step answered ${r.status} (expected ${status}): ${r.body}`);
  return r;
}

async function upload(url: string, headers: Headers, name: string) {
  const form = multipartFile(name, 'text/plain', `content of ${name}`);
  return ok(call('POST', url, headers, form.payload, form.headers), 201);
}

const bearer = (token: string): Headers => ({ authorization: `Bearer ${token}` });

interface Walk {
  ids: string[];
  pages: number;
}

/**
 * Follows `Link: rel="next"` from `url` until the last page, checking each page's size and
 * that the two headers agree; `between` runs after every page (concurrent writes).
 */
async function walk(
  url: string,
  key: string,
  headers: Headers,
  limit: number,
  between?: (page: number) => Promise<void>,
  idField = 'id',
): Promise<Walk> {
  const ids: string[] = [];
  let next: string | null = `${url}${url.includes('?') ? '&' : '?'}limit=${limit}`;
  let pages = 0;
  while (next) {
    const r = await call('GET', next, headers);
    expect(r.status, `${next}: ${r.body}`).toBe(200);
    const rows = r.json[key] as Record<string, string>[];
    expect(rows.length).toBeLessThanOrEqual(limit);
    ids.push(...rows.map((row) => row[idField] as string));
    pages += 1;
    const cursor = r.headers['x-next-cursor'] as string | undefined;
    const link = r.headers.link as string | undefined;
    if (cursor === undefined) {
      expect(link).toBeUndefined();
      next = null;
    } else {
      expect(rows.length).toBe(limit);
      const match = /^<([^>]+)>; rel="next"$/.exec(link ?? '');
      expect(match, `Link header: ${link}`).not.toBeNull();
      const linked = new URL(match?.[1] as string, 'http://x');
      expect(linked.searchParams.get('cursor')).toBe(cursor);
      expect(linked.searchParams.get('limit')).toBe(String(limit));
      next = `${linked.pathname}${linked.search}`;
      if (between) await between(pages);
    }
    if (pages > 5_000) throw new Error('walk does not end');
  }
  return { ids, pages };
}

/** All rows of a list in one page (the lists here stay under 500). */
async function everything(url: string, key: string, headers: Headers, idField = 'id'): Promise<string[]> {
  const r = await call('GET', `${url}${url.includes('?') ? '&' : '?'}limit=500`, headers);
  expect(r.status, r.body).toBe(200);
  expect(r.headers['x-next-cursor']).toBeUndefined();
  return (r.json[key] as Record<string, string>[]).map((row) => row[idField] as string);
}

/**
 * The walk saw each row once, every row that existed before it, in the list's own order
 * (a subsequence of the list as it stands after the walk).
 */
function expectCompleteWalk(walked: string[], before: string[], after: string[]) {
  expect(new Set(walked).size, 'a row came twice').toBe(walked.length);
  for (const id of before) expect(walked, `row ${id} was skipped`).toContain(id);
  const positions = walked.map((id) => after.indexOf(id));
  expect(positions.every((p) => p >= 0)).toBe(true);
  expect(positions, 'the walk is out of the list order').toEqual([...positions].sort((a, b) => a - b));
}

async function createClient(name: string): Promise<string> {
  return (await ok(call('POST', '/api/clients', admin, { name }), 201)).json.id as string;
}

async function createContact(clientId: string, name: string): Promise<string> {
  const email = `${name.replace(/\W+/g, '-').toLowerCase()}-${randomBytes(3).toString('hex')}@page.example`;
  return (await ok(call('POST', `/api/clients/${clientId}/contacts`, admin, { name, email }), 201)).json.id as string;
}

async function createCycle(clientId: string, title: string, dueDate?: string): Promise<string> {
  const body = { kind: 'bookkeeping', period: '2026', title, ...(dueDate && { dueDate }) };
  return (await ok(call('POST', `/api/clients/${clientId}/cycles`, admin, body), 201)).json.id as string;
}

async function createRequest(clientId: string, cycleId: string, contactId: string) {
  const r = await ok(
    call('POST', `/api/clients/${clientId}/cycles/${cycleId}/requests`, admin, { contactId, items: [{ label: 'Statements' }] }),
    201,
  );
  return r.json as { id: string; items: { id: string }[] };
}

const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);

beforeAll(async () => {
  t = await createTestApp();
  admin = (await login(t.app, DEMO.staff.admin)).headers;
  clientA = await createClient(`Paging A ${TAG}`);
  clientB = await createClient(`Paging B ${TAG}`);
  contactA = await createContact(clientA, 'Contact 05');
  for (const n of ['03', '01', '07', '02', '06', '04']) await createContact(clientA, `Contact ${n}`);
  // Same name twice: the id breaks the tie.
  await createContact(clientA, 'Contact 04');
  await createContact(clientB, 'B contact');
  // Cycles: two on one due date, some undated (last), the rest spread out.
  cycleA = await createCycle(clientA, 'c1', inDays(3));
  cycleA2 = await createCycle(clientA, 'c2', inDays(3));
  await createCycle(clientA, 'c3');
  await createCycle(clientA, 'c4', inDays(1));
  await createCycle(clientA, 'c5');
  await createCycle(clientA, 'c6', inDays(10));
  await createCycle(clientB, 'b1', inDays(2));
  requestA = await createRequest(clientA, cycleA, contactA);
  for (let i = 0; i < 4; i++) await createRequest(clientA, cycleA, contactA);
  await createRequest(
    clientB,
    (await t.owner.prisma.cycle.findFirstOrThrow({ where: { clientId: clientB } })).id,
    await createContact(clientB, 'B2'),
  );
  const item = requestA.items[0]?.id as string;
  for (let i = 0; i < 5; i++) await upload(`/api/clients/${clientA}/requests/${requestA.id}/items/${item}/files`, admin, `staff-${i}.txt`);
});
afterAll(async () => {
  await t?.close();
});

describe('walking every list page by page', () => {
  it('clients (firm-wide, by name): every client once, in order, while clients are added between pages', async () => {
    for (let i = 0; i < 5; i++) await createClient(`Paging extra ${TAG} ${i}`);
    const before = await everything('/api/clients', 'clients', admin);
    const walked = await walk('/api/clients', 'clients', admin, 2, async (page) => {
      await createClient(`${page % 2 ? 'Aaa' : 'Zzz'} inserted ${TAG} ${page}`);
    });
    expectCompleteWalk(walked.ids, before, await everything('/api/clients', 'clients', admin));
    expect(walked.pages).toBeGreaterThan(3);
  });

  it("contacts (by name, then id): the walk is exactly the list; contacts added before the cursor don't appear", async () => {
    const url = `/api/clients/${clientA}/contacts`;
    const before = await everything(url, 'contacts', admin);
    expect(before.length).toBe(8);
    const walked = await walk(url, 'contacts', admin, 3, async (page) => {
      await createContact(clientA, `Contact 00 inserted ${page}`);
    });
    expect(walked.ids).toEqual(before);
    expectCompleteWalk(walked.ids, before, await everything(url, 'contacts', admin));
  });

  it('cycles (due date, undated last, then creation): every cycle once, in order', async () => {
    const url = `/api/clients/${clientA}/cycles`;
    const before = await everything(url, 'cycles', admin);
    expect(before.length).toBe(6);
    const walked = await walk(url, 'cycles', admin, 2, async (page) => {
      await createCycle(clientA, `early ${page}`, inDays(0));
      await createCycle(clientA, `undated ${page}`);
    });
    expectCompleteWalk(walked.ids, before, await everything(url, 'cycles', admin));
    // The undated cycles added during the walk sort last, after its cursor: the walk sees them.
    expect(walked.ids.length).toBeGreaterThan(before.length);
    // With a filter: only open cycles, paged the same way.
    const open = await everything(`${url}?status=open`, 'cycles', admin);
    expect((await walk(`${url}?status=open`, 'cycles', admin, 4)).ids).toEqual(open);
  });

  it('cycles due soon (firm-wide): every cycle once, in order', async () => {
    const url = '/api/cycles/due-soon?days=30';
    const before = await everything(url, 'cycles', admin);
    expect(before.length).toBeGreaterThanOrEqual(5);
    const walked = await walk(url, 'cycles', admin, 2, async (page) => {
      await createCycle(clientB, `due ${page}`, inDays(0));
    });
    expectCompleteWalk(walked.ids, before, await everything(url, 'cycles', admin));
  });

  it("the console home's counts (clients with an open request, by name): every client once, in order", async () => {
    for (let i = 0; i < 4; i++) {
      const clientId = await createClient(`Outstanding ${TAG} ${i}`);
      await createRequest(clientId, await createCycle(clientId, 'open'), await createContact(clientId, `Outstanding ${i}`));
    }
    const url = '/api/outstanding-items';
    const before = await everything(url, 'clients', admin, 'clientId');
    expect(before.length).toBeGreaterThanOrEqual(6);
    const walked = await walk(
      url,
      'clients',
      admin,
      2,
      async (page) => {
        const clientId = await createClient(`${page % 2 ? 'Aaa' : 'Zzz'} outstanding ${TAG} ${page}`);
        await createRequest(clientId, await createCycle(clientId, 'open'), await createContact(clientId, `Late ${page}`));
      },
      'clientId',
    );
    expectCompleteWalk(walked.ids, before, await everything(url, 'clients', admin, 'clientId'));
  });

  it("a cycle's requests (oldest first): every request once, new ones at the end", async () => {
    const url = `/api/clients/${clientA}/cycles/${cycleA}/requests`;
    const before = await everything(url, 'requests', admin);
    expect(before.length).toBe(5);
    const walked = await walk(url, 'requests', admin, 2, async () => {
      await createRequest(clientA, cycleA, contactA);
    });
    expectCompleteWalk(walked.ids, before, await everything(url, 'requests', admin));
  });

  it("a client's files (oldest first), with and without a filter", async () => {
    const url = `/api/clients/${clientA}/files`;
    const before = await everything(url, 'files', admin);
    expect(before.length).toBe(5);
    const item = requestA.items[0]?.id as string;
    const walked = await walk(url, 'files', admin, 2, async (page) => {
      await upload(`/api/clients/${clientA}/requests/${requestA.id}/items/${item}/files`, admin, `during-${page}.txt`);
    });
    expectCompleteWalk(walked.ids, before, await everything(url, 'files', admin));
    const filtered = `${url}?requestId=${requestA.id}`;
    expect((await walk(filtered, 'files', admin, 3)).ids).toEqual(await everything(filtered, 'files', admin));
  });

  it('files no longer stop at 1,000: 1,005 files come back over three pages of 500', async () => {
    const cycle = await createCycle(clientB, 'many files');
    const contact = await createContact(clientB, 'Many files');
    const request = await createRequest(clientB, cycle, contact);
    const itemId = request.items[0]?.id as string;
    await t.owner.prisma.file.createMany({
      data: Array.from({ length: 1_005 }, (_, i) => ({
        clientId: clientB,
        cycleId: cycle,
        requestItemId: itemId,
        filename: `bulk-${i}.txt`,
        contentType: 'text/plain',
        size: 1n,
        sha256: 'a'.repeat(64),
        storageKey: `bulk/${i}`,
        uploadedByType: 'staff',
        uploadedById: DEMO.staff.admin.id,
      })),
    });
    const url = `/api/clients/${clientB}/files?requestId=${request.id}`;
    // One createMany: the same created_at for every row, so the id alone orders them.
    const walked = await walk(url, 'files', admin, 500);
    expect(walked.pages).toBe(3);
    expect(new Set(walked.ids).size).toBe(1_005);
    // The default page is 100 rows, with a next page.
    const first = await call('GET', url, admin);
    expect(first.json.files.length).toBe(100);
    expect(first.headers['x-next-cursor']).toBeDefined();
  });

  it('files written by SQL within one millisecond (microseconds apart, ids against that order) page without a repeat or a gap', async () => {
    // A cursor carries its time key as a JavaScript Date (milliseconds). Unless the column
    // stores milliseconds only (migration 0015), rows microseconds apart come back twice.
    const cycle = await createCycle(clientB, 'same millisecond');
    const request = await createRequest(clientB, cycle, await createContact(clientB, 'Same ms'));
    const itemId = request.items[0]?.id as string;
    const ids = ['00000000-0000-4000-8000-00000000000d', '00000000-0000-4000-8000-00000000000c', '00000000-0000-4000-8000-00000000000b'];
    await t.owner.withSql(async (sql) => {
      for (const [index, id] of ids.entries()) {
        await sql.query(
          `INSERT INTO files (id, client_id, cycle_id, request_item_id, filename, content_type, size, sha256, storage_key,
                              uploaded_by_type, uploaded_by_id, created_at)
           VALUES ($1, $2, $3, $4, $5, 'text/plain', 1, $6, $7, 'staff', $8, $9)`,
          [
            id,
            clientB,
            cycle,
            itemId,
            `same-ms-${index}.txt`,
            'b'.repeat(64),
            `same-ms/${id}`,
            DEMO.staff.admin.id,
            `2026-11-30 09:00:00.123${index + 1}00+00`,
          ],
        );
      }
    });
    const url = `/api/clients/${clientB}/files?requestId=${request.id}`;
    const walked = await walk(url, 'files', admin, 1);
    expect(walked.ids).toEqual([...ids].sort());
    expect(walked.ids).toEqual(await everything(url, 'files', admin));
  });

  it('every list ordered by an exact instant stores that column to the millisecond (timestamptz(3))', async () => {
    const instants = declaredPagers().flatMap((defined) => defined.keys.flatMap((key) => (key.kind === 'instant' ? [key.column] : [])));
    expect(instants).toContain('files.created_at');
    const precisions = await t.owner.withSql((sql) =>
      sql.query<{ name: string; precision: number | null; type: string }>(
        `SELECT table_name || '.' || column_name AS name, datetime_precision AS precision, data_type AS type
           FROM information_schema.columns WHERE table_schema = 'public' AND table_name || '.' || column_name = ANY($1::text[])`,
        [instants],
      ),
    );
    expect(precisions.map((row) => row.name).sort()).toEqual([...new Set(instants)].sort());
    for (const row of precisions) expect(row, row.name).toMatchObject({ precision: 3, type: 'timestamp with time zone' });
  });

  it("a client's audit trail (newest first): the walk is exactly the trail as it was; newer events don't appear", async () => {
    const url = `/api/clients/${clientA}/audit-events`;
    const before = await everything(url, 'events', admin);
    expect(before.length).toBeGreaterThan(20);
    const walked = await walk(url, 'events', admin, 7, async () => {
      // Writes new (newer) events of this client: they sort before the cursor.
      await ok(call('GET', `/api/clients/${clientA}/cycles/${cycleA}`, admin));
    });
    expect(walked.ids).toEqual(before);
  });

  it('the firm-wide audit trail, filtered: the walk is exactly the trail as it was', async () => {
    const url = '/api/audit-events?eventType=cycle.created,contact.created';
    const before = await everything(url, 'events', admin);
    expect(before.length).toBeGreaterThan(10);
    const walked = await walk(url, 'events', admin, 4, async (page) => {
      await createCycle(clientB, `audit ${page}`);
    });
    expect(walked.ids).toEqual(before);
  });

  it('staff users (by name) and one staff member’s assignments, also when the cursor row is deleted', async () => {
    const staffIds: string[] = [];
    for (let i = 0; i < 4; i++) {
      const user = await ok(
        call('POST', '/api/staff-users', admin, {
          email: `pager-${i}-${TAG}@spade.test`,
          name: `Pager ${i}`,
          role: 'staff',
          password: 'pager-password-123',
        }),
        201,
      );
      staffIds.push(user.json.id as string);
    }
    const before = await everything('/api/staff-users', 'staffUsers', admin);
    const walked = await walk('/api/staff-users', 'staffUsers', admin, 2);
    expect(walked.ids).toEqual(before);

    const staffUserId = staffIds[0] as string;
    const clients = [clientA, clientB];
    for (let i = 0; i < 4; i++) clients.push(await createClient(`Assigned ${TAG} ${i}`));
    for (const clientId of clients) await ok(call('POST', `/api/staff-users/${staffUserId}/assignments`, admin, { clientId }), 201);
    const url = `/api/staff-users/${staffUserId}/assignments`;
    const all = await everything(url, 'assignments', admin);
    expect(all.length).toBe(6);
    // The row the cursor names is removed between pages: the walk carries on from its keys.
    const removed: string[] = [];
    const walkedAssignments = await walk(url, 'assignments', admin, 2, async (page) => {
      if (page !== 1) return;
      const cursorRow = all[1] as string;
      const row = await t.owner.prisma.staffClientAssignment.findUniqueOrThrow({ where: { id: cursorRow } });
      await ok(call('DELETE', `/api/staff-users/${staffUserId}/assignments/${row.clientId}`, admin));
      removed.push(cursorRow);
    });
    expect(removed.length).toBe(1);
    expect(walkedAssignments.ids).toEqual(all);
  });

  it('templates (by name) and recurring schedules (oldest first)', async () => {
    for (const name of ['Tpl C', 'Tpl A', 'Tpl B', 'Tpl A']) {
      await ok(call('POST', '/api/templates', admin, { name: `${name} ${TAG}`, items: [{ label: 'Statement' }] }), 201);
    }
    const templates = await everything('/api/templates', 'templates', admin);
    expect((await walk('/api/templates', 'templates', admin, 2)).ids).toEqual(templates);

    const templateId = templates[0] as string;
    for (const dayOfMonth of [3, 9, 12]) {
      await ok(
        call('POST', `/api/clients/${clientA}/recurring-schedules`, admin, {
          templateId,
          contactId: contactA,
          frequency: 'monthly',
          dayOfMonth,
          cycleKind: 'bookkeeping',
        }),
        201,
      );
    }
    const url = `/api/clients/${clientA}/recurring-schedules`;
    const schedules = await everything(url, 'schedules', admin);
    expect(schedules.length).toBe(3);
    expect((await walk(url, 'schedules', admin, 2)).ids).toEqual(schedules);
  });

  it("the portal's own files (a contact's uploads, oldest first)", async () => {
    const request = await createRequest(clientA, cycleA2, contactA);
    const token = await t.linkForRequest(request.id);
    const session = (await ok(call('POST', '/api/portal/exchange', {}, { token }))).json.sessionToken as string;
    const item = request.items[0]?.id as string;
    for (let i = 0; i < 3; i++) await upload(`/api/portal/clients/${clientA}/items/${item}/files`, bearer(session), `mine-${i}.txt`);
    const url = `/api/portal/clients/${clientA}/files`;
    const mine = await everything(url, 'files', bearer(session));
    expect(mine.length).toBe(3);
    const walked = await walk(url, 'files', bearer(session), 2, async (page) => {
      await upload(`/api/portal/clients/${clientA}/items/${item}/files`, bearer(session), `mine-during-${page}.txt`);
    });
    expectCompleteWalk(walked.ids, mine, await everything(url, 'files', bearer(session)));
  });
});

function expectErrorShape(r: Reply, status = 400) {
  expect(r.status, r.body).toBe(status);
  expect(Object.keys(r.json)).toEqual(['error']);
  expect(Object.keys(r.json.error).sort()).toEqual(['code', 'message', 'requestId']);
  expect(r.headers['x-next-cursor']).toBeUndefined();
  expect(r.headers.link).toBeUndefined();
}

/** A real cursor: the X-Next-Cursor of the first page (limit 1) of `url`. */
async function realCursor(url: string, headers: Headers = admin): Promise<string> {
  const r = await call('GET', `${url}${url.includes('?') ? '&' : '?'}limit=1`, headers);
  expect(r.status, r.body).toBe(200);
  const cursor = r.headers['x-next-cursor'];
  expect(typeof cursor).toBe('string');
  return cursor as string;
}

describe('limits and cursors', () => {
  it('limit: 1 to 500; 0, 501, a fraction, a word or a negative number is a 400 in the error shape', async () => {
    for (const url of [
      `/api/clients/${clientA}/contacts`,
      '/api/clients',
      '/api/audit-events',
      `/api/staff-users/${DEMO.staff.admin.id}/assignments`,
    ]) {
      for (const limit of ['0', '501', '1.5', 'ten', '-1', '1e3', '']) {
        expectErrorShape(await call('GET', `${url}?limit=${limit}`, admin));
      }
    }
    const max = await call('GET', '/api/audit-events?limit=500', admin);
    expect(max.status).toBe(200);
    expect(max.json.events.length).toBeLessThanOrEqual(500);
  });

  it('a malformed cursor is a 400 in the error shape, never a 500', async () => {
    const url = `/api/clients/${clientA}/contacts`;
    const scope = cursorScope({ clientId: clientA }, null);
    const json = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const bad = [
      'not a cursor!',
      '%00',
      'AAAA',
      'x'.repeat(3_000),
      json(null),
      json([1, 2]),
      json('string'),
      json({}),
      json({ r: 'listContacts', s: scope, k: ['Contact 01'] }),
      json({ r: 'listContacts', s: scope, k: ['Contact 01'], i: 'not-a-uuid' }),
      json({ r: 'listContacts', s: scope, k: [], i: contactA }),
      json({ r: 'listContacts', s: scope, k: [42], i: contactA }),
      json({ r: 'listContacts', s: scope, k: [null], i: contactA }),
      json({ r: 'listContacts', s: scope, k: ['Contact 01', 'extra'], i: contactA }),
      encodeCursor({ r: 'listCycles', s: scope, k: ['2026-13-45', 'yesterday'], i: contactA }),
      // Keys PostgreSQL could not take, behind an id that names no row (so the keys themselves would be compared).
      json({ r: 'listContacts', s: scope, k: ['nul\u0000name'], i: '00000000-0000-4000-8000-0000000000ff' }),
      json({ r: 'listContacts', s: scope, k: ['lone \ud800 surrogate'], i: '00000000-0000-4000-8000-0000000000ff' }),
    ];
    for (const cursor of bad) {
      expectErrorShape(await call('GET', `${url}?cursor=${encodeURIComponent(cursor)}`, admin));
    }
    const nowhere = '00000000-0000-4000-8000-0000000000ff';
    for (const k of [
      ['2026-13-45', null],
      ['0000-01-01', '2026-01-01T00:00:00.000Z'],
      ['2026-01-01', '0000-01-01T00:00:00.000Z'],
      ['2026-01-01', '+275760-09-13T00:00:00.000Z'],
      [null, 'not a time'],
    ]) {
      const cursor = encodeCursor({ r: 'listCycles', s: scope, k, i: nowhere });
      expectErrorShape(await call('GET', `/api/clients/${clientA}/cycles?cursor=${cursor}`, admin));
    }
    // A well-formed cursor of this very list works (the sample sits before the first row).
    const sample = sampleCursor('listContacts', scope) as string;
    const r = await call('GET', `${url}?cursor=${sample}`, admin);
    expect(r.status, r.body).toBe(200);
    expect(r.json.contacts.length).toBeGreaterThan(0);
  });

  it('a cursor minted for client A cannot page client B: 400, and none of B’s rows', async () => {
    const bRows = [
      ...(await everything(`/api/clients/${clientB}/contacts`, 'contacts', admin)),
      ...(await everything(`/api/clients/${clientB}/cycles`, 'cycles', admin)),
    ];
    expect(bRows.length).toBeGreaterThan(0);
    for (const list of ['contacts', 'cycles', 'files', 'audit-events']) {
      const cursor = await realCursor(`/api/clients/${clientA}/${list}`);
      // The same cursor pages client A…
      expect((await call('GET', `/api/clients/${clientA}/${list}?cursor=${cursor}`, admin)).status).toBe(200);
      // …and is refused on client B, whose rows never show.
      const r = await call('GET', `/api/clients/${clientB}/${list}?cursor=${cursor}`, admin);
      expectErrorShape(r);
      for (const id of [...bRows, clientB]) expect(r.body).not.toContain(id);
    }
    // A cursor forged for client B's scope is still refused on client A's list.
    const forged = sampleCursor('listContacts', cursorScope({ clientId: clientB }, null)) as string;
    expectErrorShape(await call('GET', `/api/clients/${clientA}/contacts?cursor=${forged}`, admin));
  });

  it("one list's cursor is refused on another (same client, another cycle, another caller)", async () => {
    const contacts = await realCursor(`/api/clients/${clientA}/contacts`);
    for (const list of ['cycles', 'files', 'audit-events', 'recurring-schedules']) {
      expectErrorShape(await call('GET', `/api/clients/${clientA}/${list}?cursor=${contacts}`, admin));
    }
    const clientAudit = await realCursor(`/api/clients/${clientA}/audit-events`);
    expectErrorShape(await call('GET', `/api/audit-events?cursor=${clientAudit}`, admin));
    const firmAudit = await realCursor('/api/audit-events');
    expectErrorShape(await call('GET', `/api/clients/${clientA}/audit-events?cursor=${firmAudit}`, admin));
    // A cycle's requests: the cursor names its cycle.
    await createRequest(clientA, cycleA2, contactA);
    const requests = await realCursor(`/api/clients/${clientA}/cycles/${cycleA}/requests`);
    expectErrorShape(await call('GET', `/api/clients/${clientA}/cycles/${cycleA2}/requests?cursor=${requests}`, admin));
    // Firm-wide lists: the cursor names the staff member who asked.
    const mine = await realCursor('/api/clients');
    const other = await login(t.app, DEMO.staff.staff);
    expectErrorShape(await call('GET', `/api/clients?cursor=${mine}`, other.headers));
    expect((await call('GET', `/api/clients?cursor=${mine}`, admin)).status).toBe(200);
  });
});
