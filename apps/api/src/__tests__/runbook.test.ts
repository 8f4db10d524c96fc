import { DEMO } from '@breezycorp/db';
import { RUNBOOK_SQL } from '@breezycorp/db/runbook-sql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, login, type TestApp } from './support/test-app.ts';

/**
 * The runbook end to end: a staff member reads and downloads, a contact works in the
 * portal; then the on-call runs the runbook's SQL verbatim (@breezycorp/db/runbook-sql, proven
 * to be the spec's text; only the <placeholders> are filled in) and every promise of the runbook holds on the very next
 * request.
 */
const { revokeStaffSessions: REVOKE_STAFF_SESSIONS, expireRequest: EXPIRE_REQUEST, auditActor: AUDIT_QUERY } = RUNBOOK_SQL;

const ACME = DEMO.clients.acme;
const ALICE = '00000000-0000-4000-8000-00000000a002';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

/** The on-call's psql: the owner connection, running the statement text as given. */
const psql = {
  execute: (text: string) => t.owner.prisma.$executeRawUnsafe(text),
  query: (text: string) => t.owner.prisma.$queryRawUnsafe<Record<string, unknown>[]>(text),
};

describe('the suspected-tenant-leak runbook, end to end', () => {
  it('revoking sessions, expiring the link and the audit query do what the runbook says', async () => {
    const staff = await login(t.app, DEMO.staff.staff);
    const cycle = await t.owner.prisma.cycle.findFirstOrThrow({ where: { clientId: ACME } });
    const file = await t.owner.prisma.file.findFirstOrThrow({ where: { clientId: ACME } });

    // A contact gets a link and opens a portal session.
    const created = await t.app.inject({
      method: 'POST',
      url: `/api/clients/${ACME}/cycles/${cycle.id}/requests`,
      headers: staff.headers,
      payload: { contactId: ALICE, items: [{ label: 'Payroll summary' }] },
    });
    expect(created.statusCode, created.body).toBe(201);
    const request = created.json<{ id: string }>();
    const token = await t.linkForRequest(request.id);
    const exchanged = await t.app.inject({ method: 'POST', url: '/api/portal/exchange', payload: { token } });
    expect(exchanged.statusCode, exchanged.body).toBe(200);
    const contact = { authorization: `Bearer ${exchanged.json<{ sessionToken: string }>().sessionToken}` };
    const portalUrl = `/api/portal/clients/${ACME}/request`;
    expect((await t.app.inject({ method: 'GET', url: portalUrl, headers: contact })).statusCode).toBe(200);

    // The suspect staff member's reads: a list across clients, a cycle, a download.
    const reads = [
      await t.app.inject({ method: 'GET', url: '/api/clients', headers: staff.headers }),
      await t.app.inject({ method: 'GET', url: `/api/clients/${ACME}/cycles/${cycle.id}`, headers: staff.headers }),
      await t.app.inject({ method: 'GET', url: `/api/clients/${ACME}/files/${file.id}/download`, headers: staff.headers }),
    ];
    for (const read of reads) expect(read.statusCode, read.body).toBe(200);
    const readRequestIds = reads.map((read) => String(read.headers['x-request-id']));

    // Containment, verbatim.
    const alreadyRevoked = await t.owner.prisma.staffSession.create({
      data: {
        staffUserId: DEMO.staff.admin.id,
        tokenHash: 'already-revoked',
        expiresAt: new Date(Date.now() + 3600_000),
        revokedAt: new Date('2026-01-01T00:00:00Z'),
        revokedReason: 'logout',
      },
    });
    expect(await psql.execute(REVOKE_STAFF_SESSIONS)).toBeGreaterThanOrEqual(1);
    expect(await psql.execute(EXPIRE_REQUEST.replace('<suspected-request-id>', request.id))).toBe(1);

    // The very next requests are refused, with the same clear 401.
    const staffNext = await t.app.inject({ method: 'GET', url: `/api/clients/${ACME}/cycles/${cycle.id}`, headers: staff.headers });
    expect(staffNext.statusCode).toBe(401);
    expect(staffNext.json()).toMatchObject({ error: { code: 'unauthenticated', requestId: staffNext.headers['x-request-id'] } });
    const contactNext = await t.app.inject({ method: 'GET', url: portalUrl, headers: contact });
    expect(contactNext.statusCode).toBe(401);
    expect(contactNext.body).toBe(contactNext.body.replace(ACME, ''));

    // Sessions: every active one revoked for the investigation; the old one untouched.
    const sessions = await t.owner.prisma.staffSession.findMany();
    for (const session of sessions) {
      if (session.id === alreadyRevoked.id) expect(session.revokedReason).toBe('logout');
      else expect(session.revokedReason).toBe('tenant_leak_investigation');
    }

    // Investigation: exactly the reads just performed, newest first, with their request ids.
    const audit = await psql.query(AUDIT_QUERY.replace('<staff_user_or_contact_id>', DEMO.staff.staff.id));
    expect(audit.map((row) => row.event_type)).toEqual(['file.downloaded', 'cycle.read', 'cross_tenant_read']);
    expect(audit.map((row) => row.entity_id)).toEqual([file.id, cycle.id, ACME]);
    expect(audit.every((row) => row.accessed_client === ACME)).toBe(true);
    const withRequestIds = await t.owner.prisma.auditEvent.findMany({
      where: { actorId: DEMO.staff.staff.id, eventType: { in: ['cycle.read', 'file.downloaded', 'cross_tenant_read'] } },
      orderBy: { occurredAt: 'desc' },
    });
    expect(withRequestIds.map((event) => event.requestId)).toEqual([...readRequestIds].reverse());
  });
});
