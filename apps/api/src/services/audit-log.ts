import { type AuditRowValues, insertAuditRows, type ScopedTx, type TxClient } from '@breezycorp/db';

/** Every event type Spade writes: these, and the ones a resource declares beside its routes (ResourceAuditEvents). */
export const AUDIT_EVENT_TYPES = [
  'auth.login',
  'auth.login_failed',
  'auth.login_locked',
  'auth.logout',
  'session.revoked',
  'second_factor.enrolment_started',
  'second_factor.enrolled',
  'second_factor.verified',
  'second_factor.recovery_used',
  'second_factor.failed',
  'second_factor.reset',
  'firm_settings.updated',
  'magic_link.created',
  'magic_link.rotated',
  'magic_link.exchanged',
  'magic_link.rejected',
  'magic_link.replayed',
  'magic_link.handed_over',
  'magic_link.requested',
  'message.failed',
  'reminder.sent',
  'reminder.stopped',
  'request.reminders_updated',
  'template.created',
  'template.updated',
  'bulk_request.started',
  'recurring_schedule.created',
  'recurring_schedule.cancelled',
  'client.read',
  'client.created',
  'client.updated',
  'contact.read',
  'contact.created',
  'contact.updated',
  'contact.deleted',
  'staff_user.read',
  'staff_user.created',
  'staff_user.admin_created',
  'assignment.created',
  'assignment.deleted',
  'cycle.read',
  'cycle.created',
  'cycle.updated',
  'request.created',
  'request.read',
  'request.cancelled',
  'item.reviewed',
  'file.uploaded',
  'file.downloaded',
  'file.deleted',
  'cross_tenant_read',
  'tenant_access_denied',
  'authorization_unverified',
  'leak.blocked',
  'access_log.read',
  'incident_console.read',
] as const;
/**
 * The event types a resource declares in its own folder (routes/<x>/schema.ts), so that adding a
 * resource touches no central list; the compiler still refuses an event type nobody declared:
 *
 *   declare module '../../services/audit-log.ts' {
 *     interface ResourceAuditEvents { 'invoice.read': true; 'invoice.created': true }
 *   }
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by module augmentation, one resource at a time
export interface ResourceAuditEvents {}
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number] | Extract<keyof ResourceAuditEvents, string>;

/** One audit_events row as Spade writes it (by a request or by background work): @breezycorp/db's row, typed by event. */
export type AuditRow = AuditRowValues & { eventType: AuditEventType; actorType: 'staff' | 'contact' | 'anonymous' | 'system' };

/**
 * The one writer of audit rows, inside the caller's unit of work (they commit with the work
 * or not at all; RLS's WITH CHECK applies). Requests reach it through `request.audit`;
 * background work (the delivery worker, schedulers, bulk sends, the magic-link exchange)
 * calls it with its own unit's transaction. One parameterised INSERT without RETURNING (whose
 * row a firm-wide event's reader, nobody under RLS, could not see): @breezycorp/db's insertAuditRows.
 */
export async function writeAuditEvents(tx: TxClient | ScopedTx, rows: readonly AuditRow[]): Promise<void> {
  await insertAuditRows(tx, rows);
}
