import type { Database } from '@breezycorp/db';
import { type AuditEventType, writeAuditEvents } from '../audit-log.ts';
import { enqueueContactMessage } from '../outbox.ts';
import { nextReminderAfterSend, reminderDecision } from '../reminders.ts';
import { unsafeDueReminders } from './unsafe-claims.ts';

/**
 * Applies the reminder decision (services/reminders.ts) to every request whose reminder is
 * due, each in its own client's unit of work: queue a reminder (outbox), stop with a
 * reason, or wait (paused, or outside business hours). Safe to run from several workers
 * at once and twice in a row: each request is taken with a compare-and-set on the
 * `next_reminder_at` it was found with, so one reminder is queued once.
 *
 * Returns how many requests it acted on.
 */
export async function runReminderScheduler({ db, now }: { db: Database; now: Date }): Promise<number> {
  const due = await unsafeDueReminders(db, 200);
  let acted = 0;
  for (const { clientId, cycleRequestId } of due) {
    const did = await db.inClientUnit(clientId, async (tx) => {
      const request = await tx.cycleRequest.findFirst({
        where: { id: cycleRequestId },
        select: {
          id: true,
          status: true,
          expiresAt: true,
          contactId: true,
          nextReminderAt: true,
          remindersSent: true,
          reminderMax: true,
          reminderEveryDays: true,
          reminderStartDaysBeforeDue: true,
          remindersPausedUntil: true,
        },
      });
      if (!request?.nextReminderAt || request.nextReminderAt > now) return false;
      const contact = await tx.contact.findFirst({ where: { id: request.contactId }, select: { email: true, deletedAt: true } });
      const items = await tx.requestItem.findMany({ where: { cycleRequestId: request.id }, select: { required: true, status: true } });
      const decision = reminderDecision(
        {
          status: request.status,
          expiresAt: request.expiresAt,
          contactDeleted: !contact || contact.deletedAt !== null,
          items,
          remindersSent: request.remindersSent,
          reminderMax: request.reminderMax,
          pausedUntil: request.remindersPausedUntil,
        },
        now,
      );
      const audit = (eventType: AuditEventType, data: object) =>
        writeAuditEvents(tx, [
          {
            eventType,
            actorType: 'system',
            actorId: null,
            requestId: null,
            clientId,
            entityType: 'cycle_request',
            entityId: request.id,
            eventDataJson: data,
          },
        ]);
      // Compare-and-set: whoever moves next_reminder_at first owns this reminder.
      const take = (data: Parameters<typeof tx.cycleRequest.updateMany>[0]['data']) =>
        tx.cycleRequest.updateMany({ where: { id: request.id, nextReminderAt: request.nextReminderAt }, data });

      if (decision.action === 'stop') {
        if ((await take({ nextReminderAt: null, remindersStoppedReason: decision.reason })).count === 0) return false;
        await audit('reminder.stopped', { reason: decision.reason, remindersSent: request.remindersSent });
        return true;
      }
      if (decision.action === 'wait') {
        if ((await take({ nextReminderAt: decision.until })).count === 0) return false;
        if (decision.reason === 'paused') {
          await audit('reminder.stopped', {
            reason: 'paused',
            resumesAt: decision.until.toISOString(),
            remindersSent: request.remindersSent,
          });
        }
        return true;
      }
      const sent = request.remindersSent + 1;
      const cadence = {
        everyDays: request.reminderEveryDays,
        max: request.reminderMax,
        startDaysBeforeDue: request.reminderStartDaysBeforeDue,
      };
      const next = nextReminderAfterSend(cadence, sent, now);
      const taken = await take({
        remindersSent: sent,
        nextReminderAt: next,
        ...(next === null && { remindersStoppedReason: 'count_reached' }),
      });
      if (taken.count === 0 || !contact) return false;
      const queued = await enqueueContactMessage(tx, {
        clientId,
        cycleRequestId: request.id,
        contactId: request.contactId,
        to: contact.email,
        kind: 'reminder',
        reason: 'reminder',
      });
      await audit('reminder.sent', {
        number: sent,
        of: request.reminderMax,
        outboxId: queued.id,
        nextReminderAt: next?.toISOString() ?? null,
      });
      if (next === null) await audit('reminder.stopped', { reason: 'count_reached', remindersSent: sent });
      return true;
    });
    if (did) acted += 1;
  }
  return acted;
}
