import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { hashPassword, hashToken, newToken } from './secrets.ts';
import type { BasePrisma } from './unit-of-work.ts';

/**
 * Deterministic, idempotent demo data: fixed ids, so a second run finds the first and
 * changes nothing. Runs as the database owner (operations code, not a request).
 */
export const DEMO = Object.freeze({
  clients: {
    acme: '00000000-0000-4000-8000-00000000a001',
    borneo: '00000000-0000-4000-8000-00000000b001',
    cinnamon: '00000000-0000-4000-8000-00000000c001',
  },
  staff: {
    admin: { id: '00000000-0000-4000-8000-000000000a0d', email: 'admin@spade.test', password: 'spade-demo-admin', name: 'Ada Admin' },
    staff: { id: '00000000-0000-4000-8000-000000000517', email: 'staff@spade.test', password: 'spade-demo-staff', name: 'Sam Staff' },
  },
});

export interface SeedReport {
  seeded: boolean;
  logins: { email: string; password: string; role: string }[];
  /** Magic-link tokens of the demo requests, known only on the run that created them. */
  magicLinks: { clientName: string; contactEmail: string; requestId: string; token: string }[];
}

interface DemoClient {
  id: string;
  name: string;
  uen: string;
  contact: { id: string; name: string; email: string };
}

const CLIENTS: DemoClient[] = [
  {
    id: DEMO.clients.acme,
    name: 'Acme Trading Pte Ltd',
    uen: '201912345A',
    contact: { id: '00000000-0000-4000-8000-00000000a002', name: 'Alice Tan', email: 'alice@acme.example' },
  },
  {
    id: DEMO.clients.borneo,
    name: 'Borneo Logistics Pte Ltd',
    uen: '201812345B',
    contact: { id: '00000000-0000-4000-8000-00000000b002', name: 'Bala Kumar', email: 'bala@borneo.example' },
  },
  {
    id: DEMO.clients.cinnamon,
    name: 'Cinnamon Cafe LLP',
    uen: 'T19LL1234C',
    contact: { id: '00000000-0000-4000-8000-00000000c002', name: 'Chloe Lim', email: 'chloe@cinnamon.example' },
  },
];

/** Derives a stable uuid from a client's id and a label, so every demo row has a fixed id. */
function demoId(clientId: string, label: string): string {
  const hex = createHash('sha256').update(`${clientId}:${label}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export function storagePath(storageDir: string, storageKey: string): string {
  return path.join(storageDir, storageKey);
}

export async function seedDemo(prisma: BasePrisma, options: { storageDir: string }): Promise<SeedReport> {
  const logins = Object.values(DEMO.staff).map((s) => ({
    email: s.email,
    password: s.password,
    role: s.id === DEMO.staff.admin.id ? 'admin' : 'staff',
  }));
  const existing = await prisma.staffUser.findUnique({ where: { id: DEMO.staff.admin.id } });
  if (existing) return { seeded: false, logins, magicLinks: [] };

  const magicLinks: SeedReport['magicLinks'] = [];
  const files: { key: string; body: Buffer }[] = [];
  await prisma.$transaction(async (tx) => {
    for (const s of Object.values(DEMO.staff)) {
      await tx.staffUser.create({
        data: {
          id: s.id,
          email: s.email,
          name: s.name,
          role: s.id === DEMO.staff.admin.id ? 'admin' : 'staff',
          passwordHash: await hashPassword(s.password),
        },
      });
    }
    for (const c of CLIENTS) {
      await tx.client.create({ data: { id: c.id, name: c.name, uen: c.uen } });
      await tx.contact.create({ data: { ...c.contact, clientId: c.id } });
    }
    // The staff member serves Acme only; the admin sees everyone.
    await tx.staffClientAssignment.create({
      data: { id: demoId(DEMO.clients.acme, 'assignment'), clientId: DEMO.clients.acme, staffUserId: DEMO.staff.staff.id },
    });

    // A firm-wide template, and each client's monthly schedule of it (first run next month).
    const templateId = '00000000-0000-4000-8000-0000000007e1';
    await tx.requestTemplate.create({
      data: {
        id: templateId,
        name: 'Monthly bookkeeping',
        message: 'Please upload last month’s statements and receipts.',
        items: [
          { label: 'Bank statements', description: 'Every account, PDF', required: true },
          { label: 'Sales invoices', description: null, required: true },
          { label: 'Purchase receipts', description: null, required: false },
        ],
        expiresInDays: 14,
        reminderEveryDays: 3,
        reminderMax: 3,
        createdBy: DEMO.staff.admin.id,
      },
    });
    const now = new Date();
    const firstOfNextMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
    for (const c of CLIENTS) {
      await tx.recurringSchedule.create({
        data: {
          id: demoId(c.id, 'schedule:monthly'),
          clientId: c.id,
          templateId,
          contactId: c.contact.id,
          frequency: 'monthly',
          dayOfMonth: 1,
          cycleKind: 'bookkeeping',
          nextRunOn: firstOfNextMonth,
          createdBy: DEMO.staff.admin.id,
        },
      });
    }
    for (const c of CLIENTS) {
      const cycleId = demoId(c.id, 'cycle:2026-10');
      await tx.cycle.create({
        data: {
          id: cycleId,
          clientId: c.id,
          kind: 'bookkeeping',
          period: '2026-10',
          title: `2026-10 bookkeeping — ${c.name}`,
          dueDate: new Date('2026-12-15T00:00:00Z'),
          status: 'in_progress',
          createdBy: DEMO.staff.admin.id,
        },
      });
      const requestId = demoId(c.id, 'request:2026-10');
      const token = newToken('magicLink');
      await tx.cycleRequest.create({
        data: {
          id: requestId,
          clientId: c.id,
          cycleId,
          contactId: c.contact.id,
          tokenHash: hashToken(token),
          expiresAt: new Date(Date.now() + 14 * 24 * 3600 * 1000),
          message: 'Please upload October statements and receipts.',
          createdBy: DEMO.staff.admin.id,
        },
      });
      magicLinks.push({ clientName: c.name, contactEmail: c.contact.email, requestId, token });
      // The demo link is printed, not mailed: its outbox row records it as delivered by hand.
      await tx.outboxMessage.create({
        data: {
          clientId: c.id,
          kind: 'magic_link',
          reason: 'seed',
          cycleRequestId: requestId,
          contactId: c.contact.id,
          toAddress: c.contact.email,
          status: 'sent',
          attempts: 0,
          sentAt: new Date(),
        },
      });
      const labels = ['Bank statements (October)', 'Sales invoices', 'Purchase receipts'];
      for (const [position, label] of labels.entries()) {
        const itemId = demoId(c.id, `item:${position}`);
        await tx.requestItem.create({
          data: {
            id: itemId,
            clientId: c.id,
            cycleRequestId: requestId,
            position,
            label,
            status: position === 0 ? 'submitted' : 'pending',
          },
        });
        if (position === 0) {
          const fileId = demoId(c.id, 'file:0');
          const body = Buffer.from(`Demo bank statement for ${c.name}, October 2026.\n`);
          const storageKey = `clients/${c.id}/${fileId}`;
          files.push({ key: storageKey, body });
          await tx.file.create({
            data: {
              id: fileId,
              clientId: c.id,
              cycleId,
              requestItemId: itemId,
              filename: 'bank-statement-2026-10.txt',
              contentType: 'text/plain',
              size: BigInt(body.length),
              sha256: createHash('sha256').update(body).digest('hex'),
              storageKey,
              uploadedByType: 'contact',
              uploadedById: c.contact.id,
            },
          });
          await tx.auditEvent.create({
            data: {
              eventType: 'file.uploaded',
              actorType: 'contact',
              actorId: c.contact.id,
              clientId: c.id,
              entityType: 'file',
              entityId: fileId,
              requestId: 'seed',
              eventDataJson: { filename: 'bank-statement-2026-10.txt', size: body.length },
            },
          });
        }
      }
      await tx.auditEvent.create({
        data: {
          eventType: 'request.created',
          actorType: 'staff',
          actorId: DEMO.staff.admin.id,
          clientId: c.id,
          entityType: 'cycle_request',
          entityId: requestId,
          requestId: 'seed',
          eventDataJson: { contactId: c.contact.id },
        },
      });
    }
  });
  for (const file of files) {
    const target = storagePath(options.storageDir, file.key);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, file.body);
  }
  return { seeded: true, logins, magicLinks };
}
