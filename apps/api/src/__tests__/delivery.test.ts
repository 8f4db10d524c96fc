import { randomBytes } from 'node:crypto';
import { runCli } from '@breezycorp/cli/program';
import { openDatabase, type UnsafeDatabase } from '@breezycorp/db/unsafe';
import type { ParsedMail } from 'mailparser';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDeliveryWorker } from '../services/delivery/worker.ts';
import { smtpTransport } from '../services/mail-transport.ts';
import { type Headers, type Reply, send } from './support/http.ts';
import { startSmtpServer, type TestSmtpServer } from './support/smtp.ts';
import { createTestApp, DEMO, login, type TestApp } from './support/test-app.ts';

/*
 * The outbox and its delivery worker against a real SMTP server in this process
 * (smtp-server, AUTH required) and a real PostgreSQL: what arrives is parsed with mailparser
 * and its link is used as a contact would use it.
 */

let smtp: TestSmtpServer;
let t: TestApp;
let staff: Headers;
const ACME = DEMO.clients.acme;
let cycleId: string;

const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, headers: Headers = {}, payload?: object) =>
  send(t.app, method, url, headers, payload);

async function newContact(label: string): Promise<{ id: string; email: string }> {
  const email = `${label}-${randomBytes(4).toString('hex')}@acme.example`;
  const r = await call('POST', `/api/clients/${ACME}/contacts`, staff, { name: `${label} contact`, email });
  expect(r.status, r.body).toBe(201);
  return { id: r.json.id, email };
}

async function createRequest(contactId: string, labels = ['Bank statements']): Promise<Reply> {
  const r = await call('POST', `/api/clients/${ACME}/cycles/${cycleId}/requests`, staff, {
    contactId,
    items: labels.map((label) => ({ label })),
  });
  expect(r.status, r.body).toBe(201);
  return r;
}

const mailsTo = (email: string): ParsedMail[] =>
  smtp.received.filter((m) => (Array.isArray(m.to) ? m.to : [m.to]).some((to) => to?.value.some((v) => v.address === email)));

function linkIn(mail: ParsedMail): string {
  const match = /#token=(mlk_[A-Za-z0-9_-]{43})/.exec(mail.text ?? '');
  if (!match) throw new Error('no link in the mail');
  return match[1] as string;
}

async function outboxOf(requestId: string) {
  return t.owner.prisma.outboxMessage.findMany({ where: { cycleRequestId: requestId }, orderBy: { createdAt: 'asc' } });
}

beforeAll(async () => {
  smtp = await startSmtpServer();
  t = await createTestApp({
    env: {
      SMTP_URL: smtp.url,
      SPADE_FIRM_NAME: 'Tan & Partners',
      SPADE_MAIL_FROM: 'portal@tanpartners.example',
      SPADE_MAIL_RETRY_BASE_MS: '1',
      SPADE_MAIL_RETRY_CAP_MS: '5',
      SPADE_MAIL_MAX_ATTEMPTS: '3',
      SMTP_TIMEOUT_MS: '2000',
    },
  });
  staff = (await login(t.app, DEMO.staff.staff)).headers;
  cycleId = (await t.owner.prisma.cycle.findFirstOrThrow({ where: { clientId: ACME } })).id;
});
afterAll(async () => {
  await t?.close();
  await smtp?.stop();
});
beforeEach(() => {
  smtp.rejectRecipients(null);
});

describe('the transactional outbox', () => {
  it('a request that rolls back sends nothing (an upper-cased client id used to mail a dead link)', async () => {
    const contact = await newContact('rollback');
    const r = await call('POST', `/api/clients/${ACME.toUpperCase()}/cycles/${cycleId}/requests`, staff, {
      contactId: contact.id,
      items: [{ label: 'Receipts' }],
    });
    // Whatever the answer, no request survived and no message was queued for it.
    const requests = await t.owner.prisma.cycleRequest.findMany({ where: { contactId: contact.id } });
    if (r.status === 201) expect(requests).toHaveLength(1);
    else expect(requests).toHaveLength(0);
    await t.deliver();
    expect(mailsTo(contact.email)).toHaveLength(requests.length);
    expect(await t.owner.prisma.outboxMessage.count({ where: { contactId: contact.id } })).toBe(requests.length);
  });

  it('the mail arrives over SMTP with the firm as sender, plain text and HTML, a stable Message-ID, and its link works once', async () => {
    const contact = await newContact('smtp');
    const created = await createRequest(contact.id, ['Bank statements', 'Payslips']);
    expect(created.body).not.toMatch(/mlk_/);
    await t.deliver();
    const [mail] = mailsTo(contact.email);
    expect(mail).toBeDefined();
    expect(mail?.from?.value[0]).toEqual({ name: 'Tan & Partners', address: 'portal@tanpartners.example' });
    expect(mail?.subject).toBe('Documents requested by Tan & Partners');
    expect(mail?.text).toContain('Payslips');
    expect(mail?.html).toContain('Payslips');
    const [row] = await outboxOf(created.json.id);
    expect(mail?.messageId).toBe(`<${row?.id}@tanpartners.example>`);
    expect(row).toMatchObject({ status: 'sent', attempts: 1, lastError: null });
    expect(row?.providerMessageId).toBeTruthy();

    // The link in the mail, used as the contact would: check (GET), then exchange (POST).
    const token = linkIn(mail as ParsedMail);
    expect(mail?.html).toContain(`#token=${token}`);
    expect((await call('GET', `/api/portal/links/${token}`)).status).toBe(200);
    const exchanged = await call('POST', '/api/portal/exchange', {}, { token });
    expect(exchanged.status).toBe(200);
    const portal = await call('GET', `/api/portal/clients/${ACME}/request`, { authorization: `Bearer ${exchanged.json.sessionToken}` });
    expect(portal.status).toBe(200);
    expect(portal.json.items.map((i: { label: string }) => i.label)).toEqual(['Bank statements', 'Payslips']);

    // Staff see the message, never the token.
    const messages = await call('GET', `/api/clients/${ACME}/requests/${created.json.id}/messages`, staff);
    expect(messages.status).toBe(200);
    expect(messages.json.messages).toMatchObject([{ kind: 'magic_link', status: 'sent', attempts: 1, messageId: mail?.messageId }]);
    expect(messages.body).not.toContain(token);
  });

  it('SMTP down: the message waits and retries with backoff, and is delivered once the relay is back — nothing lost', async () => {
    const contact = await newContact('down');
    await smtp.stop();
    try {
      const created = await createRequest(contact.id);
      const first = await t.app.delivery.runOnce();
      expect(first).toMatchObject({ claimed: 1, sent: 0, retried: 1 });
      const [waiting] = await outboxOf(created.json.id);
      expect(waiting).toMatchObject({ status: 'pending', attempts: 1 });
      expect(waiting?.lastError).toMatch(/ECONNECTION|ECONNREFUSED|ESOCKET|connect/i);
      expect(waiting?.nextAttemptAt.getTime()).toBeGreaterThan(waiting?.updatedAt.getTime() as number);
      await smtp.start();
      await new Promise((resolve) => setTimeout(resolve, 20));
      await t.deliver();
      const [sent] = await outboxOf(created.json.id);
      expect(sent).toMatchObject({ status: 'sent', attempts: 2 });
      expect(mailsTo(contact.email)).toHaveLength(1);
      const token = linkIn(mailsTo(contact.email)[0] as ParsedMail);
      expect((await call('POST', '/api/portal/exchange', {}, { token })).status).toBe(200);
    } finally {
      if (smtp.port && smtp.received) await smtp.start().catch(() => undefined);
    }
  });

  it('a permanent 5xx makes the message failed, visible to staff on the request, and is not retried', async () => {
    const contact = await newContact('bounce');
    const created = await createRequest(contact.id);
    smtp.rejectRecipients({ code: 550, message: 'No such mailbox' });
    const report = await t.app.delivery.drain();
    expect(report).toMatchObject({ failed: 1, sent: 0 });
    const messages = await call('GET', `/api/clients/${ACME}/requests/${created.json.id}/messages`, staff);
    expect(messages.json.messages).toMatchObject([{ status: 'failed', attempts: 1 }]);
    expect(messages.json.messages[0].lastError).toMatch(/^SMTP 550/);
    expect(messages.json.events).toMatchObject([{ eventType: 'message.failed' }]);
    // Nothing more is attempted.
    smtp.rejectRecipients(null);
    await t.deliver();
    expect(mailsTo(contact.email)).toHaveLength(0);
  });

  it('a transient failure on every attempt ends failed after SPADE_MAIL_MAX_ATTEMPTS', async () => {
    const contact = await newContact('flaky');
    const created = await createRequest(contact.id);
    smtp.rejectRecipients({ code: 451, message: 'Try again later' });
    for (let i = 0; i < 3; i++) {
      await t.app.delivery.runOnce();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const [row] = await outboxOf(created.json.id);
    expect(row).toMatchObject({ status: 'failed', attempts: 3 });
    expect(row?.lastError).toMatch(/^SMTP 451/);
  });

  it('two workers (two API instances) never send one message twice', async () => {
    const contacts = await Promise.all(Array.from({ length: 4 }, (_, i) => newContact(`pair${i}`)));
    const requests: string[] = [];
    for (let i = 0; i < 60; i++) requests.push((await createRequest((contacts[i % 4] as { id: string }).id)).json.id);
    const before = smtp.received.length;
    const dbs: UnsafeDatabase[] = [];
    try {
      const workers = [];
      for (let i = 0; i < 2; i++) {
        const db = await openDatabase({ kind: 'postgres', url: t.testDb.appUrl, poolMax: 6 });
        dbs.push(db);
        workers.push(
          createDeliveryWorker({
            db,
            config: t.config,
            transport: smtpTransport({ url: smtp.url, tlsRejectUnauthorized: true, timeoutMs: 5_000 }),
            log: { info: () => undefined, warn: () => undefined, error: () => undefined },
            batchSize: 5,
          }),
        );
      }
      const started = performance.now();
      const reports = await Promise.all(workers.map((w) => w.drain()));
      const seconds = (performance.now() - started) / 1000;
      console.log(
        `two workers delivered ${requests.length} messages over SMTP in ${seconds.toFixed(2)} s ` +
          `(${(requests.length / seconds).toFixed(0)} messages/s; per worker ${reports.map((r) => r.sent).join(' + ')})`,
      );
      expect(reports.every((r) => r.sent > 0)).toBe(true);
      expect(reports.reduce((sum, r) => sum + r.sent, 0)).toBe(requests.length);
    } finally {
      for (const db of dbs) await db.close();
    }
    const arrived = smtp.received.slice(before).map((m) => m.messageId);
    expect(arrived).toHaveLength(requests.length);
    expect(new Set(arrived).size).toBe(requests.length);
    const rows = await t.owner.prisma.outboxMessage.findMany({ where: { cycleRequestId: { in: requests } } });
    expect(rows.every((row) => row.status === 'sent' && row.attempts === 1)).toBe(true);
  });

  it('a worker that died mid-send leaves the row to be claimed again after its lease, with the same Message-ID', async () => {
    const contact = await newContact('crash');
    const created = await createRequest(contact.id);
    // A worker claimed the row and died: status sending, lease already run out.
    await t.owner.prisma.outboxMessage.updateMany({
      where: { cycleRequestId: created.json.id },
      data: { status: 'sending', lockedBy: 'worker-dead', lockedUntil: new Date(Date.now() - 1000), attempts: 1 },
    });
    await t.deliver();
    const [row] = await outboxOf(created.json.id);
    expect(row).toMatchObject({ status: 'sent', attempts: 2 });
    expect(mailsTo(contact.email).map((m) => m.messageId)).toEqual([`<${row?.id}@tanpartners.example>`]);
  });

  it('a message queued for a request cancelled before sending is cancelled, not sent', async () => {
    const contact = await newContact('cancelled');
    const created = await createRequest(contact.id);
    expect((await call('POST', `/api/clients/${ACME}/requests/${created.json.id}/cancel`, staff)).status).toBe(200);
    await t.deliver();
    expect(mailsTo(contact.email)).toHaveLength(0);
    expect((await outboxOf(created.json.id))[0]?.status).toBe('cancelled');
  });
});

describe('pnpm spade worker', () => {
  it('delivers, as a separate process would, what the API queued (logged in as spade_app)', async () => {
    const contact = await newContact('cli-worker');
    await createRequest(contact.id);
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(['worker', '--once'], {
      out: (line) => out.push(line),
      err: (line) => err.push(line),
      env: { DATABASE_URL: t.testDb.ownerUrl, SPADE_APP_DATABASE_URL: t.testDb.appUrl, SMTP_URL: smtp.url, LOG_LEVEL: 'silent' },
    });
    expect(err).toEqual([]);
    expect(code).toBe(0);
    expect(out.join('\n')).toMatch(/sent [1-9]\d*, retried 0, failed 0/);
    expect(mailsTo(contact.email)).toHaveLength(1);
  });
});

describe('a link is a one-time key', () => {
  it('a second exchange of the same link gets the invalid-link answer and is recorded as magic_link.replayed for staff', async () => {
    const contact = await newContact('replay');
    const created = await createRequest(contact.id);
    await t.deliver();
    const token = linkIn(mailsTo(contact.email)[0] as ParsedMail);
    expect((await call('POST', '/api/portal/exchange', {}, { token })).status).toBe(200);
    const replay = await call('POST', '/api/portal/exchange', {}, { token });
    const unknown = await call('POST', '/api/portal/exchange', {}, { token: `mlk_${'Q'.repeat(43)}` });
    expect(replay.status).toBe(401);
    expect(replay.json.error).toMatchObject({ code: unknown.json.error.code, message: unknown.json.error.message });
    // Opening the used link says it is no longer valid, and writes nothing.
    expect((await call('GET', `/api/portal/links/${token}`)).status).toBe(401);

    const messages = await call('GET', `/api/clients/${ACME}/requests/${created.json.id}/messages`, staff);
    expect(messages.json.events).toMatchObject([{ eventType: 'magic_link.replayed' }]);
    expect(messages.body).not.toContain(token);
    const view = await call('GET', `/api/clients/${ACME}/requests/${created.json.id}`, staff);
    expect(view.json.linkExchangedAt).not.toBeNull();
  });

  it('two concurrent exchanges of one link open exactly one session', async () => {
    const contact = await newContact('race');
    const created = await createRequest(contact.id);
    await t.deliver();
    const token = linkIn(mailsTo(contact.email)[0] as ParsedMail);
    const answers = await Promise.all(Array.from({ length: 5 }, () => call('POST', '/api/portal/exchange', {}, { token })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 401, 401, 401, 401]);
    expect(await t.owner.prisma.contactSession.count({ where: { cycleRequestId: created.json.id } })).toBe(1);
  });

  it('"email me a new link": one answer for known and unknown addresses; a known one gets a fresh working link', async () => {
    const contact = await newContact('lost');
    await createRequest(contact.id);
    await t.deliver();
    const old = linkIn(mailsTo(contact.email)[0] as ParsedMail);
    expect((await call('POST', '/api/portal/exchange', {}, { token: old })).status).toBe(200);

    const known = await call('POST', '/api/portal/new-link', {}, { email: contact.email.toUpperCase() });
    const unknown = await call('POST', '/api/portal/new-link', {}, { email: `nobody-${randomBytes(3).toString('hex')}@acme.example` });
    const garbage = await call('POST', '/api/portal/new-link', {}, { email: 'not an address' });
    for (const r of [known, unknown, garbage]) {
      expect(r.status).toBe(202);
      expect(r.body).toBe(known.body);
    }
    await t.deliver();
    const mails = mailsTo(contact.email);
    expect(mails).toHaveLength(2);
    const fresh = linkIn(mails[1] as ParsedMail);
    expect(fresh).not.toBe(old);
    expect((await call('POST', '/api/portal/exchange', {}, { token: fresh })).status).toBe(200);
  });

  it('"email me a new link" answers a known and an unknown address identically, and as fast (timing printed)', async () => {
    const known = [];
    for (let i = 0; i < 8; i++) {
      const contact = await newContact(`timing${i}`);
      await createRequest(contact.id);
      known.push(contact.email);
    }
    await t.deliver();
    const ask = async (email: string, ip: string) => {
      const started = performance.now();
      const r = await t.app.inject({ method: 'POST', url: '/api/portal/new-link', payload: { email }, remoteAddress: ip });
      const ms = performance.now() - started;
      // Measured one at a time: the work left behind by one answer does not slow the next.
      await t.app.background.settled();
      return { ms, status: r.statusCode, body: r.body, cache: r.headers['cache-control'] };
    };
    // Warm up both paths, then alternate known and unknown addresses (each from its own IP: 5 a minute per IP).
    await ask(`warm-${randomBytes(3).toString('hex')}@acme.example`, '10.7.0.1');
    const times = { known: [] as number[], unknown: [] as number[] };
    const answers = new Set<string>();
    for (const [i, email] of known.entries()) {
      const k = await ask(email, `10.7.1.${i + 1}`);
      const u = await ask(`nobody-${randomBytes(4).toString('hex')}@acme.example`, `10.7.2.${i + 1}`);
      times.known.push(k.ms);
      times.unknown.push(u.ms);
      for (const r of [k, u]) answers.add(JSON.stringify([r.status, r.body, r.cache]));
    }
    expect([...answers]).toHaveLength(1);
    expect(JSON.parse([...answers][0] as string)[0]).toBe(202);
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    const difference = median(times.known) - median(times.unknown);
    console.log(
      `new-link answer time: known ${median(times.known).toFixed(1)} ms, unknown ${median(times.unknown).toFixed(1)} ms (median of ${known.length}; difference ${difference.toFixed(1)} ms)`,
    );
    // Before the work moved after the answer, this harness measured known 16.8 ms, unknown 3.1 ms
    // (and 33.9 / 7.2 ms without waiting between asks): a 14–27 ms oracle. After: within ±5 ms.
    // A generous bound for a shared, loaded machine; what matters is the printed difference.
    expect(Math.abs(difference)).toBeLessThan(10);
    // Every known address still gets its mail (the work happens after the answer).
    await t.deliver();
    for (const email of known) expect(mailsTo(email)).toHaveLength(2);
  });

  it('"email me a new link" is limited per address (silently) and per IP (429)', async () => {
    const contact = await newContact('limited');
    await createRequest(contact.id);
    await t.deliver();
    const fromIp = (ip: string) =>
      t.app.inject({ method: 'POST', url: '/api/portal/new-link', payload: { email: contact.email }, remoteAddress: ip });
    // Per address: the 4th within the hour is answered the same, but queues nothing.
    for (let i = 0; i < 4; i++) expect((await fromIp(`10.0.0.${i + 1}`)).statusCode).toBe(202);
    await t.app.background.settled();
    expect(await t.owner.prisma.outboxMessage.count({ where: { contactId: contact.id, reason: 'self_service' } })).toBe(3);
    // Per IP: after SPADE_NEW_LINK_PER_IP_PER_MINUTE (5) requests, 429 in the one error shape.
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await fromIp('10.9.9.9')).statusCode);
    expect(statuses).toEqual([202, 202, 202, 202, 202, 429]);
    const limited = await fromIp('10.9.9.9');
    expect(limited.json()).toMatchObject({ error: { code: 'rate_limited', requestId: expect.any(String) } });
  });
});

describe('a link for hand-over by phone', () => {
  it('is an explicit staff action: audited, replaces the mailed link, works once, and is never cached', async () => {
    const contact = await newContact('handover');
    const created = await createRequest(contact.id);
    await t.deliver();
    const mailed = linkIn(mailsTo(contact.email)[0] as ParsedMail);
    const handed = await call('POST', `/api/clients/${ACME}/requests/${created.json.id}/handover-link`, staff);
    expect(handed.status).toBe(200);
    expect(handed.headers['cache-control']).toBe('no-store');
    const token = /#token=(mlk_[A-Za-z0-9_-]{43})$/.exec(handed.json.url)?.[1] as string;
    expect(token).toBeDefined();
    expect((await call('GET', `/api/portal/links/${mailed}`)).status).toBe(401);
    expect((await call('POST', '/api/portal/exchange', {}, { token })).status).toBe(200);
    expect((await call('POST', '/api/portal/exchange', {}, { token })).status).toBe(401);
    const events = await call('GET', `/api/clients/${ACME}/requests/${created.json.id}/messages`, staff);
    expect(events.json.events.map((e: { eventType: string }) => e.eventType)).toEqual(['magic_link.handed_over', 'magic_link.replayed']);
    const audited = await t.owner.prisma.auditEvent.findFirstOrThrow({
      where: { eventType: 'magic_link.handed_over', entityId: created.json.id },
    });
    expect(audited).toMatchObject({ actorType: 'staff', actorId: DEMO.staff.staff.id, clientId: ACME });
    expect(JSON.stringify(audited)).not.toContain(token);
  });
});

describe('staff notifications', () => {
  it('one digest to the assigned staff when the contact has submitted every required item, not one per file', async () => {
    const contact = await newContact('digest');
    const created = await call('POST', `/api/clients/${ACME}/cycles/${cycleId}/requests`, staff, {
      contactId: contact.id,
      items: [{ label: 'Statement' }, { label: 'Payslips' }, { label: 'Optional notes', required: false }],
    });
    expect(created.status).toBe(201);
    await t.deliver();
    const token = linkIn(mailsTo(contact.email)[0] as ParsedMail);
    const session = { authorization: `Bearer ${(await call('POST', '/api/portal/exchange', {}, { token })).json.sessionToken}` };
    const upload = async (itemId: string) => {
      const boundary = `----spade-${randomBytes(4).toString('hex')}`;
      const payload = Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4 x\r\n--${boundary}--\r\n`,
      );
      const r = await t.app.inject({
        method: 'POST',
        url: `/api/portal/clients/${ACME}/items/${itemId}/files`,
        headers: { ...session, 'content-type': `multipart/form-data; boundary=${boundary}` },
        payload,
      });
      expect(r.statusCode, r.body).toBe(201);
    };
    const [statement, payslips] = created.json.items as { id: string }[];
    await upload(statement?.id as string);
    await upload(statement?.id as string);
    expect(await t.owner.prisma.outboxMessage.count({ where: { cycleRequestId: created.json.id, kind: 'staff_digest' } })).toBe(0);
    await upload(payslips?.id as string);
    await upload(payslips?.id as string);
    await t.deliver();
    const digests = mailsTo(DEMO.staff.staff.email).filter((m) => m.subject?.includes('all required documents submitted'));
    expect(digests).toHaveLength(1);
    expect(digests[0]?.text).toContain('Statement: submitted (2 files)');
    expect(digests[0]?.text).toContain(`/app/clients/${ACME}/requests/${created.json.id}`);
  });
});
