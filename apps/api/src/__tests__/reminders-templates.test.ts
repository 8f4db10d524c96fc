import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runReminderScheduler } from '../services/delivery/reminder-scheduler.ts';
import { nextBusinessTime } from '../services/reminders.ts';
import { type Headers, send } from './support/http.ts';
import { createTestApp, DEMO, login, type TestApp, tokenInMail } from './support/test-app.ts';

/*
 * Reminders and templates against PostgreSQL: each stop condition is arranged for real
 * (through the API where there is a route for it, else as the runbook's operator would) and
 * the scheduler is run as the worker runs it. "Now" is the next Singapore business moment,
 * so the result does not depend on when the suite runs.
 */

let t: TestApp;
let staff: Headers;
let admin: Headers;
const ACME = DEMO.clients.acme;
let cycleId: string;
const NOW = nextBusinessTime(new Date());

const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, headers: Headers = {}, payload?: object) =>
  send(t.app, method, url, headers, payload);

async function newContact(label: string) {
  const email = `${label}-${randomBytes(4).toString('hex')}@acme.example`;
  const r = await call('POST', `/api/clients/${ACME}/contacts`, staff, { name: `${label} contact`, email });
  expect(r.status, r.body).toBe(201);
  return { id: r.json.id as string, email };
}

async function requestWithReminders(label: string, reminders = { everyDays: 2, max: 2 }, items = ['Statement', 'Payslips', 'Receipts']) {
  const contact = await newContact(label);
  const r = await call('POST', `/api/clients/${ACME}/cycles/${cycleId}/requests`, staff, {
    contactId: contact.id,
    items: items.map((item) => ({ label: item })),
    reminders,
  });
  expect(r.status, r.body).toBe(201);
  expect(r.json.reminders).toMatchObject({ everyDays: reminders.everyDays, max: reminders.max, sent: 0 });
  expect(r.json.reminders.nextAt).not.toBeNull();
  return { contact, request: r.json as { id: string; items: { id: string }[] } };
}

/** The reminder is due: as if its time had come. */
async function due(requestId: string) {
  await t.owner.prisma.cycleRequest.update({ where: { id: requestId }, data: { nextReminderAt: new Date(Date.now() - 60_000) } });
}

// The scheduler's clock at each tick, read then (not at module load): the arrangements write
// wall-clock and database times (expires_at = NOW(), a pause that just ended), and inside
// Singapore business hours a clock read earlier would still be before them.
const tick = () => runReminderScheduler({ db: t.db, now: nextBusinessTime(new Date()) });
const remindersQueued = (requestId: string) =>
  t.owner.prisma.outboxMessage.count({ where: { cycleRequestId: requestId, kind: 'reminder' } });
const reminderEvents = (requestId: string) =>
  t.owner.prisma.auditEvent.findMany({
    where: { entityId: requestId, eventType: { in: ['reminder.sent', 'reminder.stopped'] } },
    orderBy: { occurredAt: 'asc' },
  });

beforeAll(async () => {
  t = await createTestApp();
  staff = (await login(t.app, DEMO.staff.staff)).headers;
  admin = (await login(t.app, DEMO.staff.admin)).headers;
  cycleId = (await t.owner.prisma.cycle.findFirstOrThrow({ where: { clientId: ACME } })).id;
});
afterAll(async () => {
  await t?.close();
});

describe('reminders', () => {
  it('a due reminder lists only the outstanding and rejected items, carries a working link and List-Unsubscribe, and is audited', async () => {
    const { contact, request } = await requestWithReminders('remind');
    // The request's own link mail goes first: every mail mints a new link that replaces the
    // previous one, so delivering both together would leave whichever was minted first dead.
    await t.deliver();
    const [statement, payslips] = request.items as [{ id: string }, { id: string }];
    await t.owner.prisma.requestItem.update({ where: { id: statement.id }, data: { status: 'submitted' } });
    const rejected = await call('POST', `/api/clients/${ACME}/requests/${request.id}/items/${payslips.id}/review`, staff, {
      decision: 'reject',
      comment: 'Page 2 is missing',
    });
    expect(rejected.status).toBe(200);
    await due(request.id);
    expect(await tick()).toBe(1);
    await t.deliver();

    const reminder = t.mails.findLast((m) => m.to === contact.email && m.headers['X-Spade-Message-Kind'] === 'reminder');
    expect(reminder).toBeDefined();
    expect(reminder?.text).toContain('Payslips — please upload again: Page 2 is missing');
    expect(reminder?.text).toContain('Receipts');
    expect(reminder?.text).not.toContain('Statement');
    expect(reminder?.headers['List-Unsubscribe']).toMatch(/^<mailto:/);
    const token = tokenInMail(reminder as NonNullable<typeof reminder>);
    expect((await call('POST', '/api/portal/exchange', {}, { token })).status).toBe(200);

    const view = await call('GET', `/api/clients/${ACME}/requests/${request.id}`, staff);
    expect(view.json.reminders.sent).toBe(1);
    expect(new Date(view.json.reminders.nextAt).getTime()).toBeGreaterThan(NOW.getTime());
    expect(await reminderEvents(request.id)).toMatchObject([{ eventType: 'reminder.sent', actorType: 'system', clientId: ACME }]);
  });

  it('running the scheduler twice, or two at once, queues the reminder once', async () => {
    const { request } = await requestWithReminders('idempotent');
    await due(request.id);
    await Promise.all([tick(), tick()]);
    await tick();
    expect(await remindersQueued(request.id)).toBe(1);
  });

  it('outside business hours nothing is sent; the reminder waits for the next opening', async () => {
    const { request } = await requestWithReminders('after-hours');
    await due(request.id);
    const saturdayNight = new Date('2026-12-05T14:00:00Z'); // 22:00 SGT, Saturday
    await runReminderScheduler({ db: t.db, now: saturdayNight });
    expect(await remindersQueued(request.id)).toBe(0);
    const row = await t.owner.prisma.cycleRequest.findUniqueOrThrow({ where: { id: request.id } });
    expect(row.nextReminderAt?.toISOString()).toBe('2026-12-07T01:00:00.000Z'); // Monday 09:00 SGT
  });

  describe('stop conditions: the schedule ends, nothing is queued, reminder.stopped names the reason', () => {
    const cases: [string, (r: { id: string; items: { id: string }[] }, contactId: string) => Promise<void>][] = [
      [
        'all_submitted',
        async (r) => {
          for (const item of r.items) await t.owner.prisma.requestItem.update({ where: { id: item.id }, data: { status: 'accepted' } });
        },
      ],
      [
        'request_cancelled',
        async (r) => {
          expect((await call('POST', `/api/clients/${ACME}/requests/${r.id}/cancel`, staff)).status).toBe(200);
        },
      ],
      [
        'request_completed',
        async (r) => {
          await t.owner.prisma.cycleRequest.update({ where: { id: r.id }, data: { status: 'completed' } });
        },
      ],
      [
        'request_expired',
        async (r) => {
          // The runbook's containment statement.
          await t.owner.withSql((sql) => sql.query(`UPDATE cycle_requests SET expires_at = NOW() WHERE id = '${r.id}'`));
        },
      ],
      [
        'contact_deleted',
        async (_r, contactId) => {
          expect((await call('DELETE', `/api/clients/${ACME}/contacts/${contactId}`, staff)).status).toBe(200);
        },
      ],
    ];
    for (const [reason, arrange] of cases) {
      it(reason, async () => {
        const { contact, request } = await requestWithReminders(reason.replace('_', '-'));
        await arrange(request, contact.id);
        await due(request.id);
        expect(await tick()).toBe(1);
        expect(await remindersQueued(request.id)).toBe(0);
        const row = await t.owner.prisma.cycleRequest.findUniqueOrThrow({ where: { id: request.id } });
        expect(row).toMatchObject({ nextReminderAt: null, remindersStoppedReason: reason });
        expect((await reminderEvents(request.id)).map((e) => [e.eventType, (e.eventDataJson as { reason: string }).reason])).toEqual([
          ['reminder.stopped', reason],
        ]);
      });
    }

    it('count_reached: the last allowed reminder is sent, then the schedule stops', async () => {
      const { request } = await requestWithReminders('count', { everyDays: 1, max: 2 });
      await due(request.id);
      await tick();
      await due(request.id);
      await tick();
      expect(await remindersQueued(request.id)).toBe(2);
      const row = await t.owner.prisma.cycleRequest.findUniqueOrThrow({ where: { id: request.id } });
      expect(row).toMatchObject({ remindersSent: 2, nextReminderAt: null, remindersStoppedReason: 'count_reached' });
      const events = (await reminderEvents(request.id)).map((e) => [e.eventType, (e.eventDataJson as { reason?: string }).reason ?? null]);
      expect(events).toEqual([
        ['reminder.sent', null],
        ['reminder.sent', null],
        ['reminder.stopped', 'count_reached'],
      ]);
    });

    it('paused until a date: nothing is sent while paused, and reminders resume after it', async () => {
      const { request } = await requestWithReminders('paused');
      const until = new Date(NOW.getTime() + 5 * 86_400_000);
      const paused = await call('PATCH', `/api/clients/${ACME}/requests/${request.id}/reminders`, staff, {
        pausedUntil: until.toISOString(),
      });
      expect(paused.status, paused.body).toBe(200);
      expect(paused.json.reminders.pausedUntil).toBe(until.toISOString());
      await due(request.id);
      await tick();
      expect(await remindersQueued(request.id)).toBe(0);
      const row = await t.owner.prisma.cycleRequest.findUniqueOrThrow({ where: { id: request.id } });
      expect(row.nextReminderAt?.getTime()).toBeGreaterThanOrEqual(until.getTime());
      expect((await reminderEvents(request.id)).map((e) => (e.eventDataJson as { reason: string }).reason)).toEqual(['paused']);
      // Once the pause is over, the next due reminder is sent.
      await t.owner.prisma.cycleRequest.update({ where: { id: request.id }, data: { remindersPausedUntil: new Date(Date.now() - 1000) } });
      await due(request.id);
      await tick();
      expect(await remindersQueued(request.id)).toBe(1);
    });
  });
});

describe('request templates', () => {
  const templateBody = {
    name: `Monthly bookkeeping ${randomBytes(3).toString('hex')}`,
    message: 'Your monthly bookkeeping checklist',
    items: [
      { label: 'Bank statements', description: 'All accounts, PDF' },
      { label: 'Sales invoices' },
      { label: 'Notes for the accountant', required: false },
    ],
    expiresInDays: 10,
    reminderEveryDays: 3,
    reminderMax: 4,
  };

  it('only admins manage templates; staff read them', async () => {
    expect((await call('POST', '/api/templates', staff, templateBody)).status).toBe(404);
    const created = await call('POST', '/api/templates', admin, templateBody);
    expect(created.status, created.body).toBe(201);
    expect((await call('PATCH', `/api/templates/${created.json.id}`, staff, { name: 'hijacked' })).status).toBe(404);
    const listed = await call('GET', '/api/templates', staff);
    expect(listed.status).toBe(200);
    expect(listed.json.templates.map((tpl: { id: string }) => tpl.id)).toContain(created.json.id);
    expect(await t.owner.prisma.auditEvent.count({ where: { eventType: 'template.created', entityId: created.json.id } })).toBe(1);
  });

  it('a request created from a template copies its items and defaults; later template edits change no sent request', async () => {
    const template = (await call('POST', '/api/templates', admin, templateBody)).json;
    const contact = await newContact('templated');
    const created = await call('POST', `/api/clients/${ACME}/cycles/${cycleId}/requests`, staff, {
      contactId: contact.id,
      templateId: template.id,
    });
    expect(created.status, created.body).toBe(201);
    expect(created.json).toMatchObject({
      templateId: template.id,
      message: 'Your monthly bookkeeping checklist',
      reminders: { everyDays: 3, max: 4 },
    });
    expect(created.json.items.map((i: { label: string; required: boolean }) => [i.label, i.required])).toEqual([
      ['Bank statements', true],
      ['Sales invoices', true],
      ['Notes for the accountant', false],
    ]);
    const days = (new Date(created.json.expiresAt).getTime() - new Date(created.json.createdAt).getTime()) / 86_400_000;
    expect(Math.round(days)).toBe(10);

    const edited = await call('PATCH', `/api/templates/${template.id}`, admin, { items: [{ label: 'Something else' }], reminderMax: 0 });
    expect(edited.status).toBe(200);
    const after = await call('GET', `/api/clients/${ACME}/requests/${created.json.id}`, staff);
    expect(after.json.items.map((i: { label: string }) => i.label)).toEqual([
      'Bank statements',
      'Sales invoices',
      'Notes for the accountant',
    ]);
    expect(after.json.reminders.max).toBe(4);
  });

  it('an archived or unknown template is not found', async () => {
    const template = (await call('POST', '/api/templates', admin, templateBody)).json;
    expect((await call('PATCH', `/api/templates/${template.id}`, admin, { archived: true })).status).toBe(200);
    const contact = await newContact('archived');
    const r = await call('POST', `/api/clients/${ACME}/cycles/${cycleId}/requests`, staff, {
      contactId: contact.id,
      templateId: template.id,
    });
    expect(r.status).toBe(404);
    expect((await call('GET', '/api/templates', staff)).json.templates.map((tpl: { id: string }) => tpl.id)).not.toContain(template.id);
  });
});
