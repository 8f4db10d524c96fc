import type { Database } from '@breezycorp/db';
import { type SealResult, sealAudit, unscoped } from '@breezycorp/db/unsafe';

/**
 * Everything detection needs from the database, in one module (the bypass scanner lists it):
 * the frozen clients and decoy ids (firm-wide tables spade_app may read), and the narrow
 * SECURITY DEFINER functions that seal the audit trail and raise alerts (migration 0009).
 * Nothing here reads or writes a tenant's rows.
 */

export type AlertKind = 'decoy.touched' | 'breadth.staff_clients' | 'breadth.contact_foreign_client' | 'breadth.denied_burst';

export interface AlertInput {
  kind: AlertKind;
  requestId: string | null;
  actorType: 'staff' | 'contact' | 'anonymous' | 'system';
  actorId: string | null;
  address: string | null;
  route: string | null;
  clientId: string | null;
  detectedBy: string;
  details: Record<string, unknown>;
}

export interface RaisedAlert {
  alertId: string;
  incidentId: string | null;
  isNew: boolean;
}

export async function raiseAlert(db: Database, alert: AlertInput): Promise<RaisedAlert> {
  const rows = await unscoped(db).prisma.$queryRaw<{ alert_id: string; incident_id: string | null; is_new: boolean }[]>`
    SELECT alert_id, incident_id, is_new FROM spade_raise_alert(${alert.kind}, ${alert.requestId}, ${alert.actorType},
      ${alert.actorId}::uuid, ${alert.address}, ${alert.route}, ${alert.clientId}::uuid, ${alert.detectedBy},
      ${JSON.stringify(alert.details)}::jsonb)`;
  const row = rows[0];
  if (!row) throw new Error('spade_raise_alert returned nothing');
  return { alertId: row.alert_id, incidentId: row.incident_id, isNew: row.is_new };
}

export interface ClaimedAlert {
  kind: string;
  incidentId: string | null;
  actorType: string;
  actorId: string | null;
  address: string | null;
  route: string | null;
  requestId: string | null;
  detectedBy: string;
}

/** Claims an alert's Slack delivery; null when another instance (or an earlier attempt) has it. */
export async function claimAlertDelivery(db: Database, alertId: string): Promise<ClaimedAlert | null> {
  const rows = await unscoped(db).prisma.$queryRaw<
    {
      kind: string;
      incident_id: string | null;
      actor_type: string;
      actor_id: string | null;
      address: string | null;
      route: string | null;
      request_id: string | null;
      detected_by: string;
    }[]
  >`SELECT * FROM spade_claim_alert_delivery(${alertId}::uuid)`;
  const row = rows[0];
  if (!row) return null;
  return {
    kind: row.kind,
    incidentId: row.incident_id,
    actorType: row.actor_type,
    actorId: row.actor_id,
    address: row.address,
    route: row.route,
    requestId: row.request_id,
    detectedBy: row.detected_by,
  };
}

export async function finishAlertDelivery(
  db: Database,
  alertId: string,
  outcome: { status: 'posted' | 'failed' | 'skipped'; error: string | null; text: string },
): Promise<void> {
  await unscoped(db).prisma
    .$queryRaw`SELECT spade_finish_alert_delivery(${alertId}::uuid, ${outcome.status}, ${outcome.error}, ${outcome.text})`;
}

/** Alerts whose Slack delivery nobody claimed (a notification missed across a reconnect). */
export async function undeliveredAlerts(db: Database): Promise<string[]> {
  const rows = await unscoped(db)
    .prisma.detectionAlert.findMany({ where: { slackStatus: null }, select: { id: true }, take: 50 })
    .catch(() => []);
  return rows.map((row) => row.id);
}

export async function activeFreezes(db: Database): Promise<Set<string>> {
  const rows = await unscoped(db).prisma.tenantFreeze.findMany({ where: { thawedAt: null }, select: { clientId: true } });
  return new Set(rows.map((row) => row.clientId));
}

export interface DecoyIds {
  /** Every planted id (clients, contacts, cycles, requests, items, files) → its decoy client. */
  byId: Map<string, string>;
  clientIds: Set<string>;
}

export async function decoyIds(db: Database): Promise<DecoyIds> {
  const rows = await unscoped(db).prisma.decoyEntity.findMany({ select: { entityId: true, clientId: true, entityType: true } });
  const byId = new Map<string, string>();
  const clientIds = new Set<string>();
  for (const row of rows) {
    byId.set(row.entityId, row.clientId);
    if (row.entityType === 'client') clientIds.add(row.clientId);
  }
  return { byId, clientIds };
}

export function sealAuditTrail(db: Database, sealedBy: string): Promise<SealResult | null> {
  return unscoped(db).withSql((sql) => sealAudit(sql, sealedBy));
}
