import type { TxClient } from '@breezycorp/db';
import { type Clock, incidentClocks } from '@breezycorp/db/pdpa-clocks';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import type { Static } from 'typebox';
import { notFound } from '../../errors.ts';
import { firmDb } from '../../plugins/unit-of-work.ts';
import { type ActorType, checked, errors, iso } from '../schemas.ts';
import { alertCommands, type ConsoleCommand, containmentCommands, incidentCommands } from './commands.ts';
import {
  ALERT_FIELDS,
  type AlertKind,
  type AlertRow,
  Detection,
  type FreezeRow,
  INCIDENT_FIELDS,
  IncidentDetail,
  IncidentList,
  IncidentParams,
  type IncidentRow,
  type IncidentSummary,
  type SwitchRow,
} from './schema.ts';

/**
 * The admin incident console (issue 14 item 6): read-only views of what the `spade` CLI
 * records — incidents with their PDPA clocks, timelines and evidence metadata, detection
 * alerts, frozen tenants and routes offline — each with the CLI command to act beside it.
 * Nothing here changes state; the CLI does, and records it on the incident's timeline.
 *
 * Admin only (a non-admin gets the same 404 as for an unknown URL); runs as
 * spade_firm_admin, which may SELECT these tables (migration 0012) and nothing more on them.
 * The answers may name decoy clients (a decoy alert is about one): reading the record of a
 * touch is investigation, not a touch, so the response scan is off (decoyScan: false) and the
 * reads are audited firm-wide, never on a decoy's own trail (which would trip it again).
 */

const RECENTLY_RESOLVED_DAYS = 30;
const TIMELINE_LIMIT = 500;
const ALERT_LIMIT = 200;

/** The command that moves a clock on, while there is one to run. */
function clockCommand(incident: IncidentRow, clock: Clock): ConsoleCommand | null {
  switch (clock.name) {
    case 'assessment':
      return incident.notifiableDeterminedAt === null ? incidentCommands.notifiable(incident.id) : null;
    case 'pdpc_notification':
      return incident.notifiable === true ? incidentCommands.disclosure(incident.id) : null;
    case 'post_mortem':
      return incident.resolvedAt !== null ? incidentCommands.postMortem(incident.id) : null;
  }
}

function clockView(incident: IncidentRow, clock: Clock, now: Date) {
  const remaining = clock.deadline === null || clock.state === 'met' ? null : Math.round((clock.deadline.getTime() - now.getTime()) / 1000);
  return {
    name: clock.name,
    label: clock.label,
    rule: clock.rule,
    deadline: iso(clock.deadline),
    state: clock.state,
    remainingSeconds: remaining,
    note: clock.note,
    command: clockCommand(incident, clock)?.command ?? null,
  };
}

function incidentSummary(incident: IncidentRow, now: Date): Static<typeof IncidentSummary> {
  const clocks = incidentClocks(incident, now);
  const commands: ConsoleCommand[] = [incidentCommands.timeline(incident.id)];
  if (incident.notifiableDeterminedAt === null) {
    commands.push(incidentCommands.notifiable(incident.id), incidentCommands.notNotifiable(incident.id));
  } else if (incident.notifiable) {
    commands.push(incidentCommands.disclosure(incident.id));
  }
  commands.push(incident.status === 'open' ? incidentCommands.resolve(incident.id) : incidentCommands.postMortem(incident.id));
  return {
    id: incident.id,
    title: incident.title,
    reporter: incident.reporter,
    severity: 'critical',
    status: incident.status === 'resolved' ? 'resolved' : 'open',
    openedAt: iso(incident.openedAt),
    openedBy: incident.openedBy,
    channel: incident.channel,
    notifiable: incident.notifiable,
    notifiableDeterminedAt: iso(incident.notifiableDeterminedAt),
    resolvedAt: iso(incident.resolvedAt),
    clocks: clocks.map((clock) => clockView(incident, clock, now)),
    commands,
  };
}

const timelineView = (e: { id: string; occurredAt: Date; kind: string; actor: string; message: string }) => ({
  id: e.id,
  occurredAt: iso(e.occurredAt),
  kind: e.kind,
  actor: e.actor,
  message: e.message,
});

/** Names (and decoy flags) of the clients the console mentions, in one query. */
async function clientNames(db: TxClient, ids: (string | null)[]): Promise<Map<string, { name: string; isDecoy: boolean }>> {
  const unique = [...new Set(ids.filter((id): id is string => id !== null))];
  if (unique.length === 0) return new Map();
  const rows = await db.client.findMany({ where: { id: { in: unique } }, select: { id: true, name: true, isDecoy: true } });
  return new Map(rows.map((row) => [row.id, { name: row.name, isDecoy: row.isDecoy }]));
}

function frozenTenantView(row: FreezeRow, names: Map<string, { name: string; isDecoy: boolean }>) {
  const client = names.get(row.clientId);
  return {
    id: row.id,
    clientId: row.clientId,
    clientName: client?.name ?? null,
    isDecoy: client?.isDecoy ?? false,
    incidentId: row.incidentId,
    reason: row.reason,
    createdBy: row.createdBy,
    createdAt: iso(row.createdAt),
    commands: [containmentCommands.thaw(row.clientId, row.incidentId)],
  };
}

function routeOfflineView(row: SwitchRow) {
  return {
    id: row.id,
    method: row.method,
    routePattern: row.routePattern,
    reason: row.reason,
    incidentId: row.incidentId,
    createdBy: row.createdBy,
    createdAt: iso(row.createdAt),
    commands: [containmentCommands.routeOnline(row.method, row.routePattern, row.incidentId)],
  };
}

/** One line on what the detector saw (the CLI's `incident list` words it the same way). */
function alertSummary(alert: AlertRow): string {
  const who = `${alert.actorType}${alert.actorId ? ` ${alert.actorId}` : ''}${alert.address ? ` from ${alert.address}` : ''}`;
  const details = (alert.details ?? {}) as Record<string, unknown>;
  const on = alert.route ? ` on ${alert.route}` : '';
  switch (alert.kind) {
    case 'decoy.touched':
      return `Decoy tenant touched by ${who}${on}`;
    case 'breadth.staff_clients':
      return `${who} touched ${details.distinctClients} clients in ${details.windowMinutes} min (baseline ${details.baseline})`;
    case 'breadth.contact_foreign_client':
      return `Contact session of ${who} named another client${on}`;
    case 'breadth.denied_burst':
      return `${details.denials} tenant_access_denied in ${details.windowSeconds} s by ${who}`;
    default:
      return `${alert.kind} by ${who}${on}`;
  }
}

function alertView(alert: AlertRow, names: Map<string, { name: string; isDecoy: boolean }>) {
  const subject = alert.clientId ? names.get(alert.clientId) : undefined;
  const suggested = alert.status === 'suggested';
  const commands: ConsoleCommand[] = suggested
    ? [alertCommands.open(alert.id), alertCommands.dismiss(alert.id)]
    : [
        ...(alert.incidentId ? [incidentCommands.timeline(alert.incidentId)] : []),
        ...(alert.actorType === 'staff' && alert.actorId ? [alertCommands.revokeStaff(alert.actorId, alert.incidentId)] : []),
      ];
  return {
    id: alert.id,
    raisedAt: iso(alert.raisedAt),
    kind: checked<Static<typeof AlertKind>>(alert.kind),
    status: suggested ? ('suggested' as const) : ('incident' as const),
    summary: alertSummary(alert),
    actorType: checked<Static<typeof ActorType>>(alert.actorType),
    actorId: alert.actorId,
    address: alert.address,
    route: alert.route,
    requestId: alert.requestId,
    subjectClientId: alert.clientId,
    subjectClientName: subject?.name ?? null,
    subjectIsDecoy: subject?.isDecoy ?? alert.kind === 'decoy.touched',
    detectedBy: alert.detectedBy,
    incidentId: alert.incidentId,
    commands,
  };
}

/**
 * The reads are audited like the firm's other admin reads: one firm-wide event per look,
 * and — where a real client's name was returned (a frozen tenant, an alert's subject) — one
 * cross_tenant_read on that client's own trail. A decoy's trail is never written (it holds
 * no real client's data, and an audit row naming it would trip the database's tripwire).
 */
async function auditConsoleRead(
  request: FastifyRequest,
  via: 'incidents' | 'incident' | 'detection',
  entityId: string | null,
  data: Record<string, unknown>,
  names: Map<string, { name: string; isDecoy: boolean }>,
) {
  const route = `GET ${request.routeOptions.url}`;
  await request.auditMany([
    { eventType: 'incident_console.read', entityType: 'incident', entityId, clientId: null, data: { via, ...data } },
    ...[...names]
      .filter(([, client]) => !client.isDecoy)
      .map(([clientId]) => ({
        eventType: 'cross_tenant_read' as const,
        clientId,
        entityType: 'client',
        entityId: clientId,
        data: { route },
      })),
  ]);
}

const incidents: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/api/admin/incidents',
    {
      config: { routeScope: 'staff-only', adminOnly: true, decoyScan: false },
      schema: {
        operationId: 'listIncidents',
        summary: 'List open and recently resolved incidents with their PDPA clocks (admin, read-only)',
        response: { 200: IncidentList, ...errors },
      },
    },
    async (request) => {
      const now = new Date();
      const since = new Date(now.getTime() - RECENTLY_RESOLVED_DAYS * 86_400_000);
      const rows = await firmDb(request).incident.findMany({
        where: { OR: [{ status: 'open' }, { resolvedAt: { gte: since } }] },
        select: INCIDENT_FIELDS,
        orderBy: [{ openedAt: 'desc' }, { id: 'desc' }],
        take: 200,
      });
      await auditConsoleRead(request, 'incidents', null, { count: rows.length }, new Map());
      // Open first (newest first), then the recently resolved.
      const ordered = [...rows.filter((r) => r.status === 'open'), ...rows.filter((r) => r.status !== 'open')];
      return { asOf: iso(now), incidents: ordered.map((row) => incidentSummary(row, now)) };
    },
  );

  app.get(
    '/api/admin/incidents/:incidentId',
    {
      config: { routeScope: 'staff-only', adminOnly: true, decoyScan: false },
      schema: {
        operationId: 'getIncident',
        summary: "An incident's clocks, timeline, evidence metadata and containment (admin, read-only)",
        params: IncidentParams,
        response: { 200: IncidentDetail, ...errors },
      },
    },
    async (request) => {
      const db = firmDb(request);
      const now = new Date();
      const { incidentId } = request.params;
      const incident = await db.incident.findUnique({ where: { id: incidentId }, select: INCIDENT_FIELDS });
      if (!incident) throw notFound();
      // One after another: the request's single transaction runs one statement at a time anyway.
      const newest = await db.incidentTimelineEntry.findMany({
        where: { incidentId },
        select: { id: true, occurredAt: true, kind: true, actor: true, message: true },
        orderBy: [{ occurredAt: 'desc' }, { id: 'desc' }],
        take: TIMELINE_LIMIT,
      });
      const timelineTotal = await db.incidentTimelineEntry.count({ where: { incidentId } });
      const evidence = await db.incidentEvidence.findMany({
        where: { incidentId },
        select: { id: true, filename: true, sha256: true, size: true, addedAt: true, addedBy: true },
        orderBy: [{ addedAt: 'asc' }, { id: 'asc' }],
      });
      const freezes = await db.tenantFreeze.findMany({
        where: { incidentId, thawedAt: null },
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      });
      const switches = await db.routeKillSwitch.findMany({
        where: { incidentId, liftedAt: null },
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      });
      const alerts = await db.detectionAlert.findMany({
        where: { incidentId },
        select: ALERT_FIELDS,
        orderBy: [{ raisedAt: 'desc' }, { id: 'desc' }],
        take: ALERT_LIMIT,
      });
      const timeline = newest.reverse().map(timelineView);
      const names = await clientNames(db, [...freezes.map((f) => f.clientId), ...alerts.map((a) => a.clientId)]);
      await auditConsoleRead(request, 'incident', incidentId, { timelineEntries: timeline.length }, names);
      return {
        asOf: iso(now),
        incident: incidentSummary(incident, now),
        timeline,
        timelineTotal,
        evidence: evidence.map((e) => ({
          id: e.id,
          filename: e.filename,
          sha256: e.sha256,
          size: Number(e.size),
          addedAt: iso(e.addedAt),
          addedBy: e.addedBy,
        })),
        containment: timeline.filter((e) => e.kind.startsWith('containment.')),
        frozenTenants: freezes.map((f) => frozenTenantView(f, names)),
        routesOffline: switches.map(routeOfflineView),
        alerts: alerts.map((a) => alertView(a, names)),
      };
    },
  );

  app.get(
    '/api/admin/detection',
    {
      config: { routeScope: 'staff-only', adminOnly: true, decoyScan: false },
      schema: {
        operationId: 'getDetectionState',
        summary: 'Open detection alerts, frozen tenants and routes offline (admin, read-only)',
        response: { 200: Detection, ...errors },
      },
    },
    async (request) => {
      const db = firmDb(request);
      const now = new Date();
      const openIncidents = (await db.incident.findMany({ where: { status: 'open' }, select: { id: true } })).map((i) => i.id);
      // Open: suggestions nobody has opened or dismissed yet, and the alerts of incidents still open.
      const open = await db.detectionAlert.findMany({
        where: { OR: [{ status: 'suggested' }, { status: 'incident', incidentId: { in: openIncidents } }] },
        select: ALERT_FIELDS,
        orderBy: [{ raisedAt: 'desc' }, { id: 'desc' }],
        take: ALERT_LIMIT,
      });
      const freezes = await db.tenantFreeze.findMany({ where: { thawedAt: null }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
      const switches = await db.routeKillSwitch.findMany({ where: { liftedAt: null }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
      const names = await clientNames(db, [...freezes.map((f) => f.clientId), ...open.map((a) => a.clientId)]);
      await auditConsoleRead(
        request,
        'detection',
        null,
        { alerts: open.length, frozenTenants: freezes.length, routesOffline: switches.length },
        names,
      );
      return {
        asOf: iso(now),
        alerts: open.map((a) => alertView(a, names)),
        frozenTenants: freezes.map((f) => frozenTenantView(f, names)),
        routesOffline: switches.map(routeOfflineView),
      };
    },
  );
};

export default incidents;
