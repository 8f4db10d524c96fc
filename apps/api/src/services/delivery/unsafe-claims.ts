import type { Database } from '@breezycorp/db';
import { unscoped } from '@breezycorp/db/unsafe';

/**
 * The delivery worker's two scans across tenants — operations work, hence `unsafe`. Each
 * calls one SECURITY DEFINER function (migration 0008) that returns ids only; the worker
 * then reads, renders, sends and records each message in that message's own client unit
 * of work. Listed in the bypass scanner's exceptions (scripts/tenant-bypass-scan.ts).
 */

export interface ClaimedMessage {
  clientId: string;
  id: string;
}

/**
 * Claims up to `limit` due messages for `workerId` for a lease (FOR UPDATE SKIP LOCKED:
 * two workers never claim the same row; a row whose lease ran out is claimed again).
 */
export async function unsafeClaimDueMessages(db: Database, workerId: string, limit: number, leaseMs: number): Promise<ClaimedMessage[]> {
  const leaseSeconds = Math.max(1, Math.ceil(leaseMs / 1000));
  const rows = await unscoped(db).prisma.$queryRaw<{ client_id: string; id: string }[]>`
    SELECT client_id, id FROM spade_unsafe_claim_outbox(${workerId}, ${limit}::int, ${leaseSeconds}::int)`;
  return rows.map((row) => ({ clientId: row.client_id, id: row.id }));
}

/** Requests (open or closed) whose next reminder is due, oldest first. */
export async function unsafeDueReminders(db: Database, limit: number): Promise<{ clientId: string; cycleRequestId: string }[]> {
  const rows = await unscoped(db).prisma.$queryRaw<{ client_id: string; cycle_request_id: string }[]>`
    SELECT client_id, cycle_request_id FROM spade_unsafe_due_reminders(${limit}::int)`;
  return rows.map((row) => ({ clientId: row.client_id, cycleRequestId: row.cycle_request_id }));
}

/** Recurring schedules whose next run is due (today or earlier in Singapore). */
export async function unsafeDueSchedules(db: Database, limit: number): Promise<{ clientId: string; scheduleId: string }[]> {
  const rows = await unscoped(db).prisma.$queryRaw<{ client_id: string; schedule_id: string }[]>`
    SELECT client_id, schedule_id FROM spade_unsafe_due_schedules(${limit}::int)`;
  return rows.map((row) => ({ clientId: row.client_id, scheduleId: row.schedule_id }));
}
