import type { ScopedTx } from '@breezycorp/db';
import { enqueueContactMessage, type MessageReason } from './outbox.ts';
import { type Cadence, firstReminderAt } from './reminders.ts';

/**
 * Creating a document request, shared by the staff route, bulk sends and recurring
 * schedules: the request, its items and its link mail (an outbox row) in the caller's one
 * client unit of work. No link exists yet: the delivery worker mints it when it sends.
 */

export interface TemplateItem {
  label: string;
  description?: string | null;
  required?: boolean;
}

export interface TemplateDefaults {
  id: string;
  message: string | null;
  items: unknown;
  expiresInDays: number | null;
  reminderEveryDays: number | null;
  reminderMax: number;
  reminderStartDaysBeforeDue: number | null;
}

export interface NewRequest {
  clientId: string;
  cycle: { id: string; dueDate: Date | null };
  contact: { id: string; email: string };
  items: TemplateItem[];
  message: string | null;
  expiresInMs: number;
  cadence: Cadence;
  templateId: string | null;
  createdBy: string | null;
  reason: MessageReason;
  /** The bulk job creating it: at most one request per client and job (a unique key). */
  bulkJobId?: string;
}

/** The cadence a template gives a request (no reminders without one). */
export function cadenceOf(template: TemplateDefaults | null): Cadence {
  return {
    everyDays: template?.reminderEveryDays ?? null,
    max: template?.reminderMax ?? 0,
    startDaysBeforeDue: template?.reminderStartDaysBeforeDue ?? null,
  };
}

export async function createDocumentRequest(tx: ScopedTx, input: NewRequest) {
  const now = new Date();
  const request = await tx.cycleRequest.create({
    data: {
      clientId: input.clientId,
      cycleId: input.cycle.id,
      contactId: input.contact.id,
      tokenHash: null,
      expiresAt: new Date(now.getTime() + input.expiresInMs),
      message: input.message,
      createdBy: input.createdBy,
      sentAt: now,
      templateId: input.templateId,
      reminderEveryDays: input.cadence.everyDays,
      reminderMax: input.cadence.max,
      reminderStartDaysBeforeDue: input.cadence.startDaysBeforeDue,
      nextReminderAt: firstReminderAt(input.cadence, now, input.cycle.dueDate),
      bulkJobId: input.bulkJobId ?? null,
    },
    select: { id: true },
  });
  await tx.requestItem.createMany({
    data: input.items.map((item, position) => ({
      clientId: input.clientId,
      cycleRequestId: request.id,
      position,
      label: item.label,
      description: item.description ?? null,
      required: item.required ?? true,
    })),
  });
  // Same unit of work: the mail is queued if and only if the request commits.
  const queued = await enqueueContactMessage(tx, {
    clientId: input.clientId,
    cycleRequestId: request.id,
    contactId: input.contact.id,
    to: input.contact.email,
    kind: 'magic_link',
    reason: input.reason,
  });
  return { requestId: request.id, outboxId: queued.id };
}
