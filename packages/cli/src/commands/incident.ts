import type { Command } from 'commander';
import { incidentClocks } from '../clocks.ts';
import { emit, timeOption, withExamples, withJson } from '../command-helpers.ts';
import { withUnsafeOwnerDatabase } from '../database.ts';
import { FIRM_TIME_ZONE, formatFirmTime } from '../firm-time.ts';
import { clockLine } from '../incident-report.ts';
import { incidentTimes, loadIncident } from '../incidents.ts';
import type { Io } from '../io.ts';
import { formatTable } from '../table.ts';
import { addIncidentActors, determineNotifiability, dismissAlert, noteIncident, resolveIncident } from './incident-actions.ts';
import { openIncident } from './incident-open.ts';

/** `spade incident …`: the actions (incident-open.ts, incident-actions.ts) and the read-only views. */
export function registerIncidentCommands(program: Command, io: Io) {
  const incident = withExamples(
    program.command('incident').description('open, follow and close a suspected tenant-leak incident'),
    'pnpm spade incident open --title "…" --reporter "…"',
    'pnpm spade incident clocks <id>',
  );

  openIncident.attach(incident, io);

  withExamples(
    withJson(
      incident
        .command('list')
        .description('list incidents, newest first, and the incidents the detectors suggest (breadth alerts)')
        .option('--all', 'include resolved incidents'),
    ),
    'pnpm spade incident list',
  ).action(async (options: { all?: boolean; json?: boolean }) => {
    const { incidents, suggested } = await withUnsafeOwnerDatabase(io, async (db) => ({
      incidents: await db.prisma.incident.findMany({ where: options.all ? {} : { status: 'open' }, orderBy: { openedAt: 'desc' } }),
      suggested: await db.prisma.detectionAlert.findMany({ where: { status: 'suggested' }, orderBy: { raisedAt: 'desc' }, take: 200 }),
    }));
    // One list: incidents, then suggestions (status 'suggested', id = the alert's).
    const suggestions = suggested.map((a) => ({
      id: a.id,
      status: 'suggested' as const,
      title: suggestionTitle(a),
      openedAt: a.raisedAt,
      kind: a.kind,
      actorType: a.actorType,
      actorId: a.actorId,
      address: a.address,
      route: a.route,
      requestId: a.requestId,
      details: a.details,
    }));
    emit(io, options.json, [...incidents, ...suggestions], () => [
      incidents.length === 0
        ? 'no incidents'
        : formatTable(
            ['ID', 'OPENED', 'STATUS', 'CHANNEL', 'TITLE'],
            incidents.map((i) => [i.id, formatFirmTime(i.openedAt), i.status, i.channel, i.title]),
          ),
      ...(suggestions.length === 0
        ? []
        : [
            '',
            `suggested by the detectors (${suggestions.length}): pnpm spade incident open --from-alert <alert> --title "…" --reporter "spade detector", or pnpm spade incident dismiss <alert> --reason "…"`,
            formatTable(
              ['ALERT', 'RAISED', 'KIND', 'WHAT'],
              suggestions.map((a) => [a.id, formatFirmTime(a.openedAt), a.kind, a.title]),
            ),
          ]),
    ]);
  });

  dismissAlert.attach(incident, io);

  withExamples(
    withJson(incident.command('timeline').description('the incident’s timeline, evidence and clocks').argument('<incident-id>')),
    'pnpm spade incident timeline 6f1c2d3e-…',
  ).action(async (incidentId: string, options: { json?: boolean }) => {
    const {
      incident: row,
      timeline,
      evidence,
    } = await withUnsafeOwnerDatabase(io, async (db) => {
      const incident = await loadIncident(db.prisma, incidentId);
      const timeline = await db.prisma.incidentTimelineEntry.findMany({
        where: { incidentId: incident.id },
        orderBy: { occurredAt: 'asc' },
      });
      const evidence = await db.prisma.incidentEvidence.findMany({ where: { incidentId: incident.id }, orderBy: { addedAt: 'asc' } });
      return { incident, timeline, evidence };
    });
    emit(io, options.json, { incident: row, timeline, evidence }, () => [
      `incident ${row.id}: ${row.title}`,
      `status ${row.status}; opened ${formatFirmTime(row.openedAt)} by ${row.openedBy}; reporter ${row.reporter}; channel ${row.channel}`,
      '',
      formatTable(
        ['WHEN (SGT)', 'KIND', 'WHO', 'WHAT'],
        timeline.map((t) => [formatFirmTime(t.occurredAt).replace(' SGT', ''), t.kind, t.actor, t.message]),
      ),
      ...(evidence.length > 0
        ? [
            '',
            formatTable(
              ['EVIDENCE', 'SHA256', 'BYTES'],
              evidence.map((e) => [e.storedPath, e.sha256, String(e.size)]),
            ),
          ]
        : []),
    ]);
  });

  noteIncident.attach(incident, io);
  addIncidentActors.attach(incident, io);
  determineNotifiability.attach(incident, io);
  resolveIncident.attach(incident, io);

  withExamples(
    withJson(
      incident
        .command('clocks')
        .description(
          'PDPA and post-mortem deadlines, in Singapore time: assessment (30 days), PDPC (3 days after determination), post-mortem (72 h)',
        )
        .argument('<incident-id>')
        .option('--now <time>', 'evaluate the clocks as of this time (default: now)', timeOption),
    ),
    'pnpm spade incident clocks 6f1c2d3e-…',
  ).action(async (incidentId: string, options: { now?: Date; json?: boolean }) => {
    const found = await withUnsafeOwnerDatabase(io, (db) => loadIncident(db.prisma, incidentId));
    const clocks = incidentClocks(incidentTimes(found), options.now ?? new Date());
    emit(io, options.json, { incidentId: found.id, timeZone: FIRM_TIME_ZONE, clocks }, () => [
      `incident ${found.id}: opened ${formatFirmTime(found.openedAt)}`,
      ...clocks.map(clockLine),
    ]);
  });
}

function suggestionTitle(alert: {
  kind: string;
  actorType: string;
  actorId: string | null;
  address: string | null;
  route: string | null;
  details: unknown;
}): string {
  const who = `${alert.actorType}${alert.actorId ? ` ${alert.actorId}` : ''}${alert.address ? ` from ${alert.address}` : ''}`;
  const details = (alert.details ?? {}) as Record<string, unknown>;
  switch (alert.kind) {
    case 'breadth.staff_clients':
      return `${who} touched ${details.distinctClients} clients in ${details.windowMinutes} min (baseline ${details.baseline})`;
    case 'breadth.contact_foreign_client':
      return `contact session of ${who} named another client${alert.route ? ` on ${alert.route}` : ''}`;
    case 'breadth.denied_burst':
      return `${details.denials} tenant_access_denied in ${details.windowSeconds} s by ${who}`;
    default:
      return `${alert.kind} by ${who}`;
  }
}
