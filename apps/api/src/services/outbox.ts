import type { ScopedTx } from '@breezycorp/db';

/**
 * Writing to the transactional outbox. Every outgoing message is a row written in the unit
 * of work of the change that causes it, so it commits with that change or not at all; the
 * delivery worker (services/delivery) sends it later. No token and no rendered body is
 * stored: the worker renders from the request's state and mints the link when it sends.
 */

export type ContactMessageKind = 'magic_link' | 'reminder';
export type MessageReason = 'request_created' | 'resend' | 'self_service' | 'reminder' | 'all_submitted' | 'bulk' | 'recurring';

export async function enqueueContactMessage(
  tx: ScopedTx,
  message: { clientId: string; cycleRequestId: string; contactId: string; to: string; kind: ContactMessageKind; reason: MessageReason },
): Promise<{ id: string }> {
  return tx.outboxMessage.create({
    data: {
      clientId: message.clientId,
      kind: message.kind,
      reason: message.reason,
      cycleRequestId: message.cycleRequestId,
      contactId: message.contactId,
      toAddress: message.to,
    },
    select: { id: true },
  });
}

/**
 * One digest to each staff member assigned to the client: the contact has submitted every
 * required item. Returns how many were queued (none when nobody is assigned).
 */
export async function enqueueStaffDigest(tx: ScopedTx, message: { clientId: string; cycleRequestId: string }): Promise<number> {
  const assignments = await tx.staffClientAssignment.findMany({ select: { staffUserId: true } });
  if (assignments.length === 0) return 0;
  const staff = await tx.staffUser.findMany({
    where: { id: { in: assignments.map((a) => a.staffUserId) }, disabledAt: null },
    select: { id: true, email: true },
  });
  for (const member of staff) {
    await tx.outboxMessage.create({
      data: {
        clientId: message.clientId,
        kind: 'staff_digest',
        reason: 'all_submitted',
        cycleRequestId: message.cycleRequestId,
        staffUserId: member.id,
        toAddress: member.email,
      },
      select: { id: true },
    });
  }
  return staff.length;
}
