import { randomBytes, randomUUID } from 'node:crypto';
import type { Prisma } from '@breezycorp/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recoverStaleBulkJobs, runBulkJob } from '../services/bulk-requests.ts';
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
    if (job.json.status !== 'running') return job.json;
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

describe('a bulk send whose process died', () => {
  const silent = { error() {}, warn() {} };
  /** Rewinds a job to how a crash leaves it: running, a stale heartbeat, a dead process's lease. */
  async function crash(jobId: string, data: Prisma.BulkJobUpdateInput) {
    await t.owner.prisma.bulkJob.update({
      where: { id: jobId },
      data: { status: 'running', finishedAt: null, runner: 'dead-process', heartbeatAt: new Date(Date.now() - 3_600_000), ...data },
    });
  }
  const requestsOf = (jobId: string, clientId: string) =>
    t.owner.prisma.cycleRequest.findMany({ where: { clientId, bulkJobId: jobId }, select: { id: true } });

  it('is resumed by the worker: clients already done are not created twice, the rest are, and the job finishes', async () => {
    const [a, b, c, d] = (await makeClients(4)) as [string, string, string, string];
    const started = await call('POST', '/api/bulk-requests', admin, {
      templateId,
      clientIds: [a, b, c],
      cycle: { ...cycle, period: '2026-11r' },
    });
    expect(started.status, started.body).toBe(202);
    const jobId = started.json.jobId as string;
    const first = await waitForJob(admin, jobId);
    // The crash: a, b and c committed, only a was recorded, d (on the list) was never reached.
    await crash(jobId, { clientIds: [a, b, c, d], total: 4, done: 1, failed: 0, results: [first.results[0]] });
    await t.deliver();
    const job = await waitForJob(admin, jobId);
    expect(job).toMatchObject({ status: 'finished', total: 4, done: 4, failed: 0 });
    expect(job.results).toEqual([
      first.results[0],
      first.results[1],
      first.results[2],
      { clientId: d, outcome: 'created', requestId: expect.any(String) },
    ]);
    for (const clientId of [a, b, c, d]) {
      expect(await requestsOf(jobId, clientId)).toHaveLength(1);
      expect(await t.owner.prisma.outboxMessage.count({ where: { clientId, reason: 'bulk' } })).toBe(1);
    }
    expect((await t.owner.prisma.bulkJob.findUniqueOrThrow({ where: { id: jobId } })).resumed).toBe(1);
  });

  it('of two workers noticing it at once, exactly one takes the job over', async () => {
    const [a] = (await makeClients(1)) as [string];
    const started = await call('POST', '/api/bulk-requests', admin, {
      templateId,
      clientIds: [a],
      cycle: { ...cycle, period: '2026-11s' },
    });
    const jobId = started.json.jobId as string;
    await waitForJob(admin, jobId);
    await crash(jobId, { done: 0, results: [] });
    const [one, two] = await Promise.all([recoverStaleBulkJobs(t.db, t.config, silent), recoverStaleBulkJobs(t.db, t.config, silent)]);
    const taken = [...(one ?? []), ...(two ?? [])].filter((job) => job.jobId === jobId);
    expect(taken.map((job) => job.action)).toEqual(['resumed']);
    await taken[0]?.run;
    expect(await requestsOf(jobId, a)).toHaveLength(1);
  });

  it('a run that lost its lease (a stalled process whose job was taken over) finds what exists and writes nothing', async () => {
    const [a] = (await makeClients(1)) as [string];
    const period = '2026-11v';
    const started = await call('POST', '/api/bulk-requests', admin, { templateId, clientIds: [a], cycle: { ...cycle, period } });
    const jobId = started.json.jobId as string;
    const first = await waitForJob(admin, jobId);
    await t.owner.prisma.bulkJob.update({
      where: { id: jobId },
      data: { status: 'running', finishedAt: null, runner: 'successor', done: 0, results: [] },
    });
    const stalled = await runBulkJob(
      t.db,
      t.config,
      {
        jobId,
        runner: 'stalled',
        templateId,
        clientIds: [a],
        cycle: { kind: 'bookkeeping', period, title: cycle.title, dueDate: null },
        createdBy: DEMO.staff.admin.id,
        httpRequestId: 'stalled-run',
      },
      silent,
      { heartbeatMs: 60_000 },
    );
    expect(stalled).toEqual([first.results[0]]);
    expect(await t.owner.prisma.bulkJob.findUniqueOrThrow({ where: { id: jobId } })).toMatchObject({
      status: 'running',
      runner: 'successor',
      done: 0,
      results: [],
    });
    expect(await requestsOf(jobId, a)).toHaveLength(1);
    await t.owner.prisma.bulkJob.update({ where: { id: jobId }, data: { status: 'finished' } });
  });

  it('a live job (recent heartbeat) is left alone', async () => {
    const [a] = (await makeClients(1)) as [string];
    const started = await call('POST', '/api/bulk-requests', admin, {
      templateId,
      clientIds: [a],
      cycle: { ...cycle, period: '2026-11t' },
    });
    const jobId = started.json.jobId as string;
    await waitForJob(admin, jobId);
    await t.owner.prisma.bulkJob.update({ where: { id: jobId }, data: { status: 'running', runner: 'alive', heartbeatAt: new Date() } });
    expect((await recoverStaleBulkJobs(t.db, t.config, silent)).map((job) => job.jobId)).not.toContain(jobId);
    await t.owner.prisma.bulkJob.update({ where: { id: jobId }, data: { status: 'finished' } });
  });

  it('interrupted too often, or from before its input was kept, it is marked failed with every client reported', async () => {
    const [a, b, c] = (await makeClients(3)) as [string, string, string];
    const started = await call('POST', '/api/bulk-requests', admin, {
      templateId,
      clientIds: [a, b],
      cycle: { ...cycle, period: '2026-11u' },
    });
    const jobId = started.json.jobId as string;
    const first = await waitForJob(admin, jobId);
    // b committed but was not recorded; c was never reached; the job was already resumed the maximum number of times.
    await crash(jobId, { clientIds: [a, b, c], total: 3, done: 1, results: [first.results[0]], resumed: t.config.bulk.maxResumes });
    // A job row from before migration 0011: no input kept.
    const legacy = await t.owner.prisma.bulkJob.create({
      data: { createdBy: DEMO.staff.admin.id, templateId, total: 2, heartbeatAt: new Date(Date.now() - 3_600_000) },
    });
    const recovered = await recoverStaleBulkJobs(t.db, t.config, silent);
    expect(recovered.filter((job) => job.jobId === jobId || job.jobId === legacy.id).map((job) => job.action)).toEqual([
      'failed',
      'failed',
    ]);
    const job = await call('GET', `/api/bulk-requests/${jobId}`, admin);
    expect(job.json).toMatchObject({ status: 'failed', total: 3, done: 3, failed: 1, finishedAt: expect.any(String) });
    expect(job.json.results).toEqual([
      first.results[0],
      first.results[1],
      { clientId: c, outcome: 'failed', error: 'not processed: the bulk send was interrupted' },
    ]);
    expect(await requestsOf(jobId, c)).toHaveLength(0);
    const old = await call('GET', `/api/bulk-requests/${legacy.id}`, admin);
    expect(old.json).toMatchObject({ status: 'failed', results: [] });
  });
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
