import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRecurringScheduler } from '../services/delivery/recurring-scheduler.ts';
import { firstRunOnOrAfter, nextRunAfter, periodOf } from '../services/recurring.ts';
import { type Headers, send } from './support/http.ts';
import { createTestApp, DEMO, login, type TestApp } from './support/test-app.ts';

/** Bulk sends (one tenant unit of work per client, a pollable job) and recurring schedules (idempotent). */

let t: TestApp;
let admin: Headers;
let staff: Headers;
let templateId: string;
const ACME = DEMO.clients.acme;
const BORNEO = DEMO.clients.borneo;

const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, headers: Headers = {}, payload?: object) =>
  send(t.app, method, url, headers, payload);

/** Clients made straight in the database (fast enough for hundreds), each with one contact unless told otherwise. */
async function makeClients(count: number, withContact = true): Promise<string[]> {
  const ids = Array.from({ length: count }, () => randomUUID());
  await t.owner.prisma.client.createMany({
    data: ids.map((id, i) => ({ id, name: `Bulk client ${i} ${randomBytes(3).toString('hex')}` })),
  });
  if (withContact) {
    await t.owner.prisma.contact.createMany({
      data: ids.map((clientId, i) => ({ clientId, name: `Contact ${i}`, email: `c${i}-${clientId.slice(0, 8)}@bulk.example` })),
    });
  }
  return ids;
}

async function waitForJob(headers: Headers, jobId: string, timeoutMs = 240_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await call('GET', `/api/bulk-requests/${jobId}`, headers);
    expect(job.status, job.body).toBe(200);
    if (job.json.status === 'finished') return job.json;
    if (Date.now() > deadline) throw new Error(`job not finished: ${job.body}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const cycle = { kind: 'bookkeeping', period: '2026-11', title: 'November bookkeeping', dueDate: '2026-12-10' };

beforeAll(async () => {
  t = await createTestApp();
  admin = (await login(t.app, DEMO.staff.admin)).headers;
  staff = (await login(t.app, DEMO.staff.staff)).headers;
  const template = await call('POST', '/api/templates', admin, {
    name: `Bulk template ${randomBytes(3).toString('hex')}`,
    message: 'November, please',
    items: [{ label: 'Bank statements' }, { label: 'Notes', required: false }],
    reminderEveryDays: 3,
    reminderMax: 2,
  });
  expect(template.status).toBe(201);
  templateId = template.json.id;
});
afterAll(async () => {
  await t?.close();
});

describe('bulk sends', () => {
  it('one template to a list of clients: each gets its own request and link mail; a client without a contact fails alone', async () => {
    const [withContact1, withContact2] = await makeClients(2);
    const [noContact] = await makeClients(1, false);
    const started = await call('POST', '/api/bulk-requests', admin, {
      templateId,
      clientIds: [withContact1, noContact, withContact2],
      cycle,
    });
    expect(started.status, started.body).toBe(202);
    expect(started.json.total).toBe(3);
    const job = await waitForJob(admin, started.json.jobId);
    expect(job).toMatchObject({ total: 3, done: 3, failed: 1 });
    expect(job.results).toEqual([
      { clientId: withContact1, outcome: 'created', requestId: expect.any(String) },
      { clientId: noContact, outcome: 'failed', error: 'the client has no contact' },
      { clientId: withContact2, outcome: 'created', requestId: expect.any(String) },
    ]);
    for (const result of job.results.filter((r: { outcome: string }) => r.outcome === 'created')) {
      const request = await t.owner.prisma.cycleRequest.findUniqueOrThrow({
        where: { id: result.requestId },
        include: { items: true, cycle: true },
      });
      expect(request.clientId).toBe(result.clientId);
      expect(request.cycle).toMatchObject({ clientId: result.clientId, period: '2026-11', kind: 'bookkeeping' });
      expect(request.items.map((i) => [i.label, i.required])).toEqual([
        ['Bank statements', true],
        ['Notes', false],
      ]);
      expect(await t.owner.prisma.outboxMessage.count({ where: { cycleRequestId: request.id, reason: 'bulk' } })).toBe(1);
    }
    // Every audit row of the job names exactly the client whose unit wrote it.
    const audited = await t.owner.prisma.auditEvent.findMany({
      where: { eventType: 'request.created', requestId: started.headers['x-request-id'] as string },
    });
    expect(audited.map((e) => e.clientId).sort()).toEqual([withContact1, withContact2].sort());
  });

  it('a staff member cannot bulk-send to a client they do not serve: 404, no job', async () => {
    const before = await t.owner.prisma.bulkJob.count();
    const refused = await call('POST', '/api/bulk-requests', staff, { templateId, clientIds: [ACME, BORNEO], cycle });
    expect(refused.status).toBe(404);
    expect(await t.owner.prisma.bulkJob.count()).toBe(before);
  });

  it('"all my clients" for a staff member is exactly the clients they serve; another staff member cannot poll the job', async () => {
    const started = await call('POST', '/api/bulk-requests', staff, {
      templateId,
      allMyClients: true,
      cycle: { ...cycle, period: '2026-11b' },
    });
    expect(started.status, started.body).toBe(202);
    expect(started.json.total).toBe(1);
    const job = await waitForJob(staff, started.json.jobId);
    expect(job.results.map((r: { clientId: string }) => r.clientId)).toEqual([ACME]);
    const other = await call('POST', '/api/staff-users', admin, {
      email: `other-${randomBytes(3).toString('hex')}@spade.test`,
      name: 'Other',
      role: 'staff',
      password: 'correct horse battery staple',
    });
    const otherHeaders = (await login(t.app, { email: other.json.email, password: 'correct horse battery staple' })).headers;
    expect((await call('GET', `/api/bulk-requests/${started.json.jobId}`, otherHeaders)).status).toBe(404);
  });

  it('500 clients: every client gets its request, each in its own unit of work (time printed)', async () => {
    const clients = await makeClients(500);
    const started = performance.now();
    const job = await call('POST', '/api/bulk-requests', admin, {
      templateId,
      clientIds: clients,
      cycle: { ...cycle, period: '2026-11c' },
    });
    expect(job.status).toBe(202);
    const finished = await waitForJob(admin, job.json.jobId);
    const seconds = (performance.now() - started) / 1000;
    console.log(`bulk send to 500 clients: ${seconds.toFixed(1)} s (${(500 / seconds).toFixed(0)} clients/s)`);
    expect(finished).toMatchObject({ total: 500, done: 500, failed: 0 });
    expect(await t.owner.prisma.cycleRequest.count({ where: { clientId: { in: clients } } })).toBe(500);
    expect(await t.owner.prisma.outboxMessage.count({ where: { clientId: { in: clients }, reason: 'bulk' } })).toBe(500);
  }, 300_000);
});

describe('recurring schedules', () => {
  it('periods and next runs for monthly, quarterly and yearly schedules', () => {
    const run = new Date('2026-11-05T00:00:00Z');
    expect([periodOf('monthly', run), periodOf('quarterly', run), periodOf('yearly', run)]).toEqual(['2026-11', '2026-Q4', '2026']);
    expect(nextRunAfter('monthly', run, 5).toISOString().slice(0, 10)).toBe('2026-12-05');
    expect(nextRunAfter('quarterly', run, 5).toISOString().slice(0, 10)).toBe('2027-02-05');
    expect(nextRunAfter('yearly', run, 5).toISOString().slice(0, 10)).toBe('2027-11-05');
    expect(firstRunOnOrAfter(new Date('2026-11-06T00:00:00Z'), 5).toISOString().slice(0, 10)).toBe('2026-12-05');
    expect(firstRunOnOrAfter(new Date('2026-11-05T00:00:00Z'), 5).toISOString().slice(0, 10)).toBe('2026-11-05');
  });

  it('creates the cycle and request on the day, once: running the scheduler twice (or twice at once) creates nothing twice', async () => {
    const [clientId] = await makeClients(1);
    const contact = await t.owner.prisma.contact.findFirstOrThrow({ where: { clientId } });
    const created = await call('POST', `/api/clients/${clientId}/recurring-schedules`, admin, {
      templateId,
      contactId: contact.id,
      frequency: 'monthly',
      dayOfMonth: 3,
      cycleKind: 'payroll',
      startOn: '2026-11-01',
    });
    expect(created.status, created.body).toBe(201);
    expect(created.json.nextRunOn).toBe('2026-11-03');
    await Promise.all([runRecurringScheduler({ db: t.db, config: t.config }), runRecurringScheduler({ db: t.db, config: t.config })]);
    await runRecurringScheduler({ db: t.db, config: t.config });
    const cycles = await t.owner.prisma.cycle.findMany({ where: { clientId, kind: 'payroll' } });
    // 2026-11-03 and every month after it up to today are each created once (catch-up), never twice.
    expect(new Set(cycles.map((c) => c.period)).size).toBe(cycles.length);
    expect(cycles.map((c) => c.period)).toContain('2026-11');
    const requests = await t.owner.prisma.cycleRequest.findMany({ where: { clientId } });
    expect(requests).toHaveLength(cycles.length);
    expect(await t.owner.prisma.outboxMessage.count({ where: { clientId, reason: 'recurring' } })).toBe(cycles.length);
    const schedule = await call('GET', `/api/clients/${clientId}/recurring-schedules`, admin);
    expect(new Date(`${schedule.json.schedules[0].nextRunOn}T00:00:00Z`).getTime()).toBeGreaterThan(Date.now() - 86_400_000);

    // Cancelled: nothing more is created, even when due.
    expect((await call('POST', `/api/clients/${clientId}/recurring-schedules/${created.json.id}/cancel`, admin)).status).toBe(200);
    await t.owner.prisma.recurringSchedule.update({
      where: { id: created.json.id },
      data: { nextRunOn: new Date('2026-01-01T00:00:00Z') },
    });
    await runRecurringScheduler({ db: t.db, config: t.config });
    expect(await t.owner.prisma.cycleRequest.count({ where: { clientId } })).toBe(cycles.length);
  });
});
