import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, DEMO, login, type TestApp } from './support/test-app.ts';

/*
 * Contacts (client-scoped), staff administration (admin only) and the audit trail
 * readers, over a real PostgreSQL database of this file's own, as spade_app.
 * Every response this file sees is checked for password hashes (see `call`).
 */
const ACME = DEMO.clients.acme;
const BORNEO = DEMO.clients.borneo;
const BORNEO_CONTACT = '00000000-0000-4000-8000-00000000b002';
const UNKNOWN = '00000000-0000-4000-8000-0000000000ff';

type Headers = Record<string, string>;
interface Reply {
  status: number;
  body: string;
  // biome-ignore lint/suspicious/noExplicitAny: test responses are inspected field by field
  json: any;
}

let t: TestApp;
let admin: Headers;
let staff: Headers;

/** Whatever a route answers, no password hash (nor its scrypt encoding) may be in it. */
const SECRET_SHAPES = /password_?hash|scrypt\$/i;

async function call(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, headers: Headers, payload?: object): Promise<Reply> {
  const response = await t.app.inject({ method, url, headers, ...(payload !== undefined && { payload }) });
  expect(response.body, `${method} ${url}`).not.toMatch(SECRET_SHAPES);
  let json: unknown = null;
  try {
    json = response.json();
  } catch {
    // not JSON
  }
  return { status: response.statusCode, body: response.body, json };
}

let emailCounter = 0;
const uniqueEmail = (prefix: string) => `${prefix}-${++emailCounter}-${Date.now()}@example.test`;

async function createStaffUser(role: 'admin' | 'staff' = 'staff') {
  const email = uniqueEmail('staff');
  const password = 'a-long-enough-password';
  const r = await call('POST', '/api/staff-users', admin, { email, name: 'Test Staff', role, password });
  expect(r.status).toBe(201);
  return { id: r.json.id as string, email, password };
}

beforeAll(async () => {
  t = await createTestApp();
  admin = (await login(t.app, DEMO.staff.admin)).headers;
  staff = (await login(t.app, DEMO.staff.staff)).headers;
});
afterAll(async () => {
  await t?.close();
});

describe('contacts (client-scoped)', () => {
  it('staff of a client create, list, read, update and soft-delete its contacts, each audited', async () => {
    const email = uniqueEmail('contact');
    const created = await call('POST', `/api/clients/${ACME}/contacts`, staff, { name: 'Bob Lee', email, phone: '+65 6123 4567' });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ clientId: ACME, name: 'Bob Lee', email, phone: '+65 6123 4567' });
    const id = created.json.id as string;

    const list = await call('GET', `/api/clients/${ACME}/contacts`, staff);
    expect(list.status).toBe(200);
    expect(list.json.contacts.map((c: { id: string }) => c.id)).toContain(id);
    expect(list.json.contacts.every((c: { clientId: string }) => c.clientId === ACME)).toBe(true);

    const read = await call('GET', `/api/clients/${ACME}/contacts/${id}`, staff);
    expect(read.status).toBe(200);
    expect(Object.keys(read.json).sort()).toEqual(['clientId', 'createdAt', 'email', 'id', 'name', 'phone', 'updatedAt']);

    const patched = await call('PATCH', `/api/clients/${ACME}/contacts/${id}`, staff, { name: 'Robert Lee', phone: null });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ id, name: 'Robert Lee', phone: null, email });

    expect((await call('DELETE', `/api/clients/${ACME}/contacts/${id}`, staff)).status).toBe(200);
    expect((await call('GET', `/api/clients/${ACME}/contacts/${id}`, staff)).status).toBe(404);
    expect((await call('PATCH', `/api/clients/${ACME}/contacts/${id}`, staff, { name: 'Again' })).status).toBe(404);
    expect((await call('DELETE', `/api/clients/${ACME}/contacts/${id}`, staff)).status).toBe(404);
    const after = await call('GET', `/api/clients/${ACME}/contacts`, staff);
    expect(after.json.contacts.map((c: { id: string }) => c.id)).not.toContain(id);

    // The row is kept (soft delete), with deleted_at set.
    const row = await t.owner.prisma.contact.findUniqueOrThrow({ where: { id } });
    expect(row.deletedAt).not.toBeNull();

    const events = await t.owner.prisma.auditEvent.findMany({ where: { entityId: id }, orderBy: { occurredAt: 'asc' } });
    expect(events.map((e) => e.eventType)).toEqual(
      expect.arrayContaining(['contact.created', 'contact.read', 'contact.updated', 'contact.deleted']),
    );
    for (const event of events) {
      expect(event.clientId).toBe(ACME);
      expect(event.actorId).toBe(DEMO.staff.staff.id);
    }
  });

  it('answers 409 for a duplicate email within the client (any case) without echoing the email', async () => {
    const email = uniqueEmail('dup');
    expect((await call('POST', `/api/clients/${ACME}/contacts`, staff, { name: 'First', email })).status).toBe(201);

    const dup = await call('POST', `/api/clients/${ACME}/contacts`, staff, { name: 'Second', email: email.toUpperCase() });
    expect(dup.status).toBe(409);
    expect(dup.json.error.code).toBe('conflict');
    expect(dup.body.toLowerCase()).not.toContain(email.toLowerCase());

    const other = await call('POST', `/api/clients/${ACME}/contacts`, staff, { name: 'Other', email: uniqueEmail('other') });
    const patchDup = await call('PATCH', `/api/clients/${ACME}/contacts/${other.json.id}`, staff, { email });
    expect(patchDup.status).toBe(409);
    expect(patchDup.body.toLowerCase()).not.toContain(email.toLowerCase());

    // The same email at another client is no conflict.
    expect((await call('POST', `/api/clients/${BORNEO}/contacts`, admin, { name: 'Elsewhere', email })).status).toBe(201);
  });

  it('concurrent creates with one email give one 201 and 409s, never a 500', async () => {
    const email = uniqueEmail('race');
    const replies = await Promise.all(
      Array.from({ length: 5 }, (_, i) => call('POST', `/api/clients/${ACME}/contacts`, staff, { name: `Racer ${i}`, email })),
    );
    const statuses = replies.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 409, 409, 409, 409]);
    for (const r of replies.filter((reply) => reply.status === 409)) {
      expect(r.json.error.code).toBe('conflict');
      expect(r.body.toLowerCase()).not.toContain(email.toLowerCase());
    }
    expect(await t.owner.prisma.contact.count({ where: { clientId: ACME, email, deletedAt: null } })).toBe(1);
  });

  it('a soft-deleted contact frees its email for a new contact', async () => {
    const email = uniqueEmail('reuse');
    const first = await call('POST', `/api/clients/${ACME}/contacts`, staff, { name: 'Old', email });
    await call('DELETE', `/api/clients/${ACME}/contacts/${first.json.id}`, staff);
    expect((await call('POST', `/api/clients/${ACME}/contacts`, staff, { name: 'New', email })).status).toBe(201);
  });

  it('rejects unknown body fields and invalid emails', async () => {
    const extra = await call('POST', `/api/clients/${ACME}/contacts`, staff, { name: 'X', email: uniqueEmail('x'), clientId: BORNEO });
    expect(extra.status).toBe(400);
    expect((await call('POST', `/api/clients/${ACME}/contacts`, staff, { name: 'X', email: 'not-an-email' })).status).toBe(400);
    const emptyPatch = await call('PATCH', `/api/clients/${ACME}/contacts/${UNKNOWN}`, staff, {});
    expect(emptyPatch.status).toBe(400);
  });

  it('staff assigned only to Acme get 404 for every Borneo contact route, and nothing changes', async () => {
    const before = await t.owner.prisma.contact.findUniqueOrThrow({ where: { id: BORNEO_CONTACT } });
    const attempts = [
      await call('GET', `/api/clients/${BORNEO}/contacts`, staff),
      await call('GET', `/api/clients/${BORNEO}/contacts/${BORNEO_CONTACT}`, staff),
      await call('POST', `/api/clients/${BORNEO}/contacts`, staff, { name: 'Intruder', email: uniqueEmail('intruder') }),
      await call('PATCH', `/api/clients/${BORNEO}/contacts/${BORNEO_CONTACT}`, staff, { name: 'Hijacked' }),
      await call('DELETE', `/api/clients/${BORNEO}/contacts/${BORNEO_CONTACT}`, staff),
    ];
    for (const r of attempts) {
      expect(r.status).toBe(404);
      expect(r.body).not.toContain(BORNEO_CONTACT);
      expect(r.body).not.toContain('bala@borneo.example');
    }
    const after = await t.owner.prisma.contact.findUniqueOrThrow({ where: { id: BORNEO_CONTACT } });
    expect(after).toEqual(before);
  });

  it("a Borneo contact cannot be reached through Acme's URL, even by an admin", async () => {
    expect((await call('GET', `/api/clients/${ACME}/contacts/${BORNEO_CONTACT}`, admin)).status).toBe(404);
    expect((await call('PATCH', `/api/clients/${ACME}/contacts/${BORNEO_CONTACT}`, admin, { name: 'Moved' })).status).toBe(404);
    expect((await call('DELETE', `/api/clients/${ACME}/contacts/${BORNEO_CONTACT}`, admin)).status).toBe(404);
  });
});

describe('staff administration (admin only)', () => {
  it('non-admin staff get 404 on every admin route, and nothing is written', async () => {
    const staffCount = await t.owner.prisma.staffUser.count();
    const assignmentCount = await t.owner.prisma.staffClientAssignment.count();
    const attempts = [
      await call('GET', '/api/staff-users', staff),
      await call('POST', '/api/staff-users', staff, {
        email: uniqueEmail('evil'),
        name: 'Evil',
        role: 'admin',
        password: 'a-long-enough-password',
      }),
      await call('GET', `/api/staff-users/${DEMO.staff.staff.id}/assignments`, staff),
      await call('POST', `/api/staff-users/${DEMO.staff.staff.id}/assignments`, staff, { clientId: BORNEO }),
      await call('DELETE', `/api/staff-users/${DEMO.staff.staff.id}/assignments/${ACME}`, staff),
      await call('POST', `/api/staff-users/${DEMO.staff.admin.id}/sessions/revoke`, staff),
      await call('GET', '/api/audit-events', staff),
    ];
    for (const r of attempts) {
      expect(r.status).toBe(404);
      expect(r.json.error.code).toBe('not_found');
    }
    expect(await t.owner.prisma.staffUser.count()).toBe(staffCount);
    expect(await t.owner.prisma.staffClientAssignment.count()).toBe(assignmentCount);
    // The admin's session survived the attempted revoke.
    expect((await call('GET', '/api/auth/me', admin)).status).toBe(200);
  });

  it('anonymous callers get 401 on admin routes', async () => {
    expect((await call('GET', '/api/staff-users', {})).status).toBe(401);
    expect((await call('GET', '/api/audit-events', {})).status).toBe(401);
  });

  it('an admin lists staff users without any password hash', async () => {
    const r = await call('GET', '/api/staff-users', admin);
    expect(r.status).toBe(200);
    const ids = r.json.staffUsers.map((u: { id: string }) => u.id);
    expect(ids).toEqual(expect.arrayContaining([DEMO.staff.admin.id, DEMO.staff.staff.id]));
    for (const user of r.json.staffUsers) {
      expect(Object.keys(user).sort()).toEqual(['createdAt', 'disabledAt', 'email', 'id', 'name', 'role']);
    }
  });

  it('an admin creates a staff user whose password is stored hashed and who can log in', async () => {
    const email = uniqueEmail('New.Person');
    const password = 'correct horse battery';
    const r = await call('POST', '/api/staff-users', admin, { email, name: 'New Person', role: 'staff', password });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ email: email.toLowerCase(), name: 'New Person', role: 'staff', disabledAt: null });
    expect(r.body).not.toContain(password);

    const row = await t.owner.prisma.staffUser.findUniqueOrThrow({ where: { id: r.json.id } });
    expect(row.passwordHash.startsWith('scrypt$')).toBe(true);
    expect(row.passwordHash).not.toContain(password);

    const session = await login(t.app, { email, password });
    expect((await call('GET', '/api/auth/me', session.headers)).json.staffUser.id).toBe(r.json.id);

    const event = await t.owner.prisma.auditEvent.findFirstOrThrow({ where: { eventType: 'staff_user.created', entityId: r.json.id } });
    expect(event.actorId).toBe(DEMO.staff.admin.id);
    expect(event.clientId).toBeNull();
    expect(JSON.stringify(event.eventDataJson)).not.toContain(password);
  });

  it('refuses short passwords, unknown roles and extra fields; a duplicate email is a 409 that does not echo it', async () => {
    const base = { email: uniqueEmail('v'), name: 'V', role: 'staff', password: 'a-long-enough-password' };
    expect((await call('POST', '/api/staff-users', admin, { ...base, password: 'elevenchars' })).status).toBe(400);
    expect((await call('POST', '/api/staff-users', admin, { ...base, role: 'root' })).status).toBe(400);
    expect((await call('POST', '/api/staff-users', admin, { ...base, passwordHash: 'scrypt$x' })).status).toBe(400);

    const dup = await call('POST', '/api/staff-users', admin, { ...base, email: DEMO.staff.staff.email.toUpperCase() });
    expect(dup.status).toBe(409);
    expect(dup.body.toLowerCase()).not.toContain(DEMO.staff.staff.email);
  });

  it('assignments: an admin assigns, lists and removes; access follows on the next request; each change is audited on that client', async () => {
    const user = await createStaffUser();
    const session = (await login(t.app, user)).headers;
    expect((await call('GET', `/api/clients/${BORNEO}/contacts`, session)).status).toBe(404);

    const assigned = await call('POST', `/api/staff-users/${user.id}/assignments`, admin, { clientId: BORNEO });
    expect(assigned.status).toBe(201);
    expect(assigned.json).toMatchObject({ clientId: BORNEO, staffUserId: user.id });
    expect((await call('GET', `/api/clients/${BORNEO}/contacts`, session)).status).toBe(200);

    const list = await call('GET', `/api/staff-users/${user.id}/assignments`, admin);
    expect(list.status).toBe(200);
    expect(list.json.assignments.map((a: { clientId: string }) => a.clientId)).toEqual([BORNEO]);

    const again = await call('POST', `/api/staff-users/${user.id}/assignments`, admin, { clientId: BORNEO });
    expect(again.status).toBe(409);

    expect((await call('DELETE', `/api/staff-users/${user.id}/assignments/${BORNEO}`, admin)).status).toBe(200);
    expect((await call('GET', `/api/clients/${BORNEO}/contacts`, session)).status).toBe(404);
    expect((await call('DELETE', `/api/staff-users/${user.id}/assignments/${BORNEO}`, admin)).status).toBe(404);

    const events = await t.owner.prisma.auditEvent.findMany({
      where: { eventType: { in: ['assignment.created', 'assignment.deleted'] }, entityId: assigned.json.id },
    });
    expect(events.map((e) => e.eventType).sort()).toEqual(['assignment.created', 'assignment.deleted']);
    for (const event of events) {
      expect(event.clientId).toBe(BORNEO);
      expect(event.actorId).toBe(DEMO.staff.admin.id);
      expect(event.eventDataJson).toMatchObject({ staffUserId: user.id });
    }
  });

  it('assignments to an unknown client or for an unknown staff user are 404', async () => {
    const user = await createStaffUser();
    expect((await call('POST', `/api/staff-users/${user.id}/assignments`, admin, { clientId: UNKNOWN })).status).toBe(404);
    expect((await call('POST', `/api/staff-users/${UNKNOWN}/assignments`, admin, { clientId: ACME })).status).toBe(404);
    expect((await call('GET', `/api/staff-users/${UNKNOWN}/assignments`, admin)).status).toBe(404);
    expect((await call('DELETE', `/api/staff-users/${UNKNOWN}/assignments/${ACME}`, admin)).status).toBe(404);
    expect((await call('POST', `/api/staff-users/${UNKNOWN}/sessions/revoke`, admin)).status).toBe(404);
    expect(await t.owner.prisma.staffClientAssignment.count({ where: { staffUserId: user.id } })).toBe(0);
  });

  it("revoking a staff user's sessions ends every one of them on the next request and audits the count", async () => {
    const user = await createStaffUser();
    const first = (await login(t.app, user)).headers;
    const second = (await login(t.app, user)).headers;
    expect((await call('GET', '/api/auth/me', first)).status).toBe(200);

    const r = await call('POST', `/api/staff-users/${user.id}/sessions/revoke`, admin);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ revoked: 2, secondFactorReset: false });
    expect((await call('GET', '/api/auth/me', first)).status).toBe(401);
    expect((await call('GET', '/api/auth/me', second)).status).toBe(401);

    const sessions = await t.owner.prisma.staffSession.findMany({ where: { staffUserId: user.id } });
    expect(sessions).toHaveLength(2);
    for (const s of sessions) expect(s.revokedReason).toBe('admin_revoked');

    const event = await t.owner.prisma.auditEvent.findFirstOrThrow({ where: { eventType: 'session.revoked', entityId: user.id } });
    expect(event.eventDataJson).toMatchObject({ count: 2 });
    expect(event.actorId).toBe(DEMO.staff.admin.id);

    // Already revoked sessions are not counted again; other users' sessions are untouched.
    expect((await call('POST', `/api/staff-users/${user.id}/sessions/revoke`, admin)).json).toEqual({
      revoked: 0,
      secondFactorReset: false,
    });
    expect((await call('GET', '/api/auth/me', staff)).status).toBe(200);
  });
});

describe('audit trail readers', () => {
  it('staff read their client’s events newest first, only that client’s, filtered by type', async () => {
    await call('POST', `/api/clients/${ACME}/contacts`, staff, { name: 'Audited', email: uniqueEmail('audited') });
    const r = await call('GET', `/api/clients/${ACME}/audit-events?limit=50`, staff);
    expect(r.status).toBe(200);
    const events = r.json.events as { occurredAt: string; clientId: string; eventType: string }[];
    expect(events.length).toBeGreaterThan(0);
    expect(events.length).toBeLessThanOrEqual(50);
    for (const e of events) expect(e.clientId).toBe(ACME);
    const times = events.map((e) => Date.parse(e.occurredAt));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    expect(Object.keys(events[0] as object).sort()).toEqual(
      ['actorId', 'actorType', 'clientId', 'data', 'entityId', 'entityType', 'eventType', 'id', 'occurredAt', 'requestId'].sort(),
    );

    const filtered = await call('GET', `/api/clients/${ACME}/audit-events?eventType=contact.created`, staff);
    expect(filtered.json.events.length).toBeGreaterThan(0);
    for (const e of filtered.json.events) expect(e.eventType).toBe('contact.created');

    const one = await call('GET', `/api/clients/${ACME}/audit-events?limit=1`, staff);
    expect(one.json.events).toHaveLength(1);
  });

  it('reading the audit trail writes nothing to it', async () => {
    const before = await t.owner.prisma.auditEvent.count();
    expect((await call('GET', `/api/clients/${ACME}/audit-events`, staff)).status).toBe(200);
    expect((await call('GET', '/api/audit-events', admin)).status).toBe(200);
    expect(await t.owner.prisma.auditEvent.count()).toBe(before);
  });

  it('staff assigned only to Acme get 404 for Borneo’s audit events', async () => {
    const r = await call('GET', `/api/clients/${BORNEO}/audit-events`, staff);
    expect(r.status).toBe(404);
    expect(r.body).not.toContain(BORNEO_CONTACT);
    expect(r.json.error.code).toBe('not_found');
  });

  it('the firm-wide list filters by actor, type (one or a comma list) and time, and includes firm-wide events', async () => {
    // A firm-wide event (client_id NULL) by the demo staff member: a denied tenant access.
    await call('GET', `/api/clients/${BORNEO}/contacts`, staff);
    const user = await createStaffUser();
    await call('POST', `/api/staff-users/${user.id}/sessions/revoke`, admin);

    const byActor = await call('GET', `/api/audit-events?actorId=${DEMO.staff.staff.id}&limit=500`, admin);
    expect(byActor.status).toBe(200);
    expect(byActor.json.events.length).toBeGreaterThan(0);
    for (const e of byActor.json.events) expect(e.actorId).toBe(DEMO.staff.staff.id);
    const denied = byActor.json.events.find((e: { eventType: string }) => e.eventType === 'tenant_access_denied');
    expect(denied).toMatchObject({ clientId: null, actorType: 'staff' });
    expect(denied.data).toMatchObject({ requestedClientId: BORNEO });

    const byTypes = await call('GET', '/api/audit-events?eventType=staff_user.created, session.revoked&limit=500', admin);
    const types = new Set(byTypes.json.events.map((e: { eventType: string }) => e.eventType));
    expect(types).toEqual(new Set(['staff_user.created', 'session.revoked']));
    const created = byTypes.json.events.find(
      (e: { entityId: string; eventType: string }) => e.entityId === user.id && e.eventType === 'staff_user.created',
    );
    expect(created).toMatchObject({ clientId: null, actorId: DEMO.staff.admin.id });

    // Several clients' events, all visible to the admin.
    const all = await call('GET', '/api/audit-events?limit=500', admin);
    const clients = new Set(all.json.events.map((e: { clientId: string | null }) => e.clientId));
    expect(clients).toContain(ACME);
    expect(clients).toContain(BORNEO);
    expect(clients).toContain(null);

    // since is inclusive, until exclusive, both on occurredAt.
    const at = created.occurredAt as string;
    const plus1 = new Date(Date.parse(at) + 1).toISOString();
    const q = (extra: string) => call('GET', `/api/audit-events?eventType=staff_user.created&limit=500&${extra}`, admin);
    const ids = (r: Reply) => r.json.events.map((e: { id: string }) => e.id);
    expect(ids(await q(`since=${encodeURIComponent(at)}`))).toContain(created.id);
    expect(ids(await q(`since=${encodeURIComponent(plus1)}`))).not.toContain(created.id);
    expect(ids(await q(`until=${encodeURIComponent(plus1)}`))).toContain(created.id);
    expect(ids(await q(`until=${encodeURIComponent(at)}`))).not.toContain(created.id);
    expect(ids(await q(`since=${encodeURIComponent(at)}&until=${encodeURIComponent(plus1)}`))).toEqual([created.id]);
  });

  it('the firm-wide list is newest first, honours limit and refuses bad filters', async () => {
    const r = await call('GET', '/api/audit-events?limit=5', admin);
    expect(r.json.events).toHaveLength(5);
    const times = r.json.events.map((e: { occurredAt: string }) => Date.parse(e.occurredAt));
    expect([...times].sort((a: number, b: number) => b - a)).toEqual(times);
    for (const bad of ['limit=0', 'limit=501', 'actorId=nope', 'since=yesterday', 'eventType=%27%3B%20drop', 'extra=1']) {
      expect((await call('GET', `/api/audit-events?${bad}`, admin)).status, bad).toBe(400);
    }
  });
});
