import type { Database, Prisma } from '@breezycorp/db';
import type { Config } from '../../config.ts';
import { writeAuditEvents } from '../audit-log.ts';
import { cadenceOf, createDocumentRequest, type TemplateItem } from '../document-requests.ts';
import { type Frequency, nextRunAfter, periodOf } from '../recurring.ts';
import { unsafeDueSchedules } from './unsafe-claims.ts';

/**
 * Creates the cycle and request of every due recurring schedule, each in its client's unit
 * of work. Idempotent: the schedule is taken with a compare-and-set on the next_run_on it was
 * found with, in the same unit of work that creates the cycle and request — run twice, or by
 * two workers at once, a period is created once. Returns how many requests it created.
 */
export async function runRecurringScheduler({ db, config }: { db: Database; config: Config }): Promise<number> {
  let created = 0;
  for (const { clientId, scheduleId } of await unsafeDueSchedules(db, 100)) {
    const did = await db.inClientUnit(clientId, async (tx) => {
      const schedule = await tx.recurringSchedule.findFirst({ where: { id: scheduleId, cancelledAt: null } });
      if (!schedule) return false;
      const frequency = schedule.frequency as Frequency;
      const period = periodOf(frequency, schedule.nextRunOn);
      const taken = await tx.recurringSchedule.updateMany({
        where: { id: schedule.id, nextRunOn: schedule.nextRunOn },
        data: { nextRunOn: nextRunAfter(frequency, schedule.nextRunOn, schedule.dayOfMonth), lastPeriod: period, updatedAt: new Date() },
      });
      if (taken.count === 0) return false;
      const template = await tx.requestTemplate.findFirst({ where: { id: schedule.templateId, archivedAt: null } });
      const contact = await tx.contact.findFirst({ where: { id: schedule.contactId, deletedAt: null }, select: { id: true, email: true } });
      // Nothing to send this period (template archived, contact gone): the schedule still moves on.
      if (!template || !contact) return false;
      let cycle = await tx.cycle.findFirst({
        where: { kind: schedule.cycleKind, period },
        select: { id: true, dueDate: true, status: true },
      });
      cycle ??= await tx.cycle.create({
        data: { clientId, kind: schedule.cycleKind, period, title: `${template.name} — ${period}`, createdBy: schedule.createdBy },
        select: { id: true, dueDate: true, status: true },
      });
      if (cycle.status === 'closed') return false;
      const request = await createDocumentRequest(tx, {
        clientId,
        cycle,
        contact,
        items: template.items as unknown as TemplateItem[],
        message: template.message,
        expiresInMs: template.expiresInDays ? template.expiresInDays * 86_400_000 : config.magicLinkTtlMs,
        cadence: cadenceOf(template),
        templateId: template.id,
        createdBy: schedule.createdBy,
        reason: 'recurring',
      });
      const data: Prisma.InputJsonObject = { cycleId: cycle.id, contactId: contact.id, templateId: template.id, scheduleId, period };
      await writeAuditEvents(tx, [
        {
          eventType: 'request.created',
          actorType: 'system',
          actorId: null,
          requestId: null,
          clientId,
          entityType: 'cycle_request',
          entityId: request.requestId,
          eventDataJson: data,
        },
      ]);
      return true;
    });
    if (did) created += 1;
  }
  return created;
}
