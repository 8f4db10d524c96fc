import type { UnsafeDatabase } from '@breezycorp/db/unsafe';
import { type Clock, incidentClocks } from './clocks.ts';
import type { Duration } from './duration.ts';
import { formatFirmTime } from './firm-time.ts';
import { type IncidentRow, incidentActorIds, incidentTimes, loadIncident } from './incidents.ts';
import { type Actor, type AffectedClient, affectedClients, resolveActor } from './investigation.ts';

type TimelineEntry = Awaited<ReturnType<UnsafeDatabase['prisma']['incidentTimelineEntry']['findMany']>>[number];
type EvidenceRow = Awaited<ReturnType<UnsafeDatabase['prisma']['incidentEvidence']['findMany']>>[number];

/** Everything the disclosure and the post-mortem are drafted from, read once. */
export interface IncidentReport {
  incident: IncidentRow;
  timeline: TimelineEntry[];
  evidence: EvidenceRow[];
  actors: Actor[];
  clients: AffectedClient[];
  contacts: Map<string, { name: string; email: string }[]>;
  clocks: Clock[];
  since: Duration;
  now: Date;
}

export async function loadIncidentReport(db: UnsafeDatabase, incidentId: string, since: Duration, now: Date): Promise<IncidentReport> {
  const incident = await loadIncident(db.prisma, incidentId);
  const timeline = await db.prisma.incidentTimelineEntry.findMany({ where: { incidentId: incident.id }, orderBy: { occurredAt: 'asc' } });
  const evidence = await db.prisma.incidentEvidence.findMany({ where: { incidentId: incident.id }, orderBy: { addedAt: 'asc' } });
  const { actors, clients, contacts } = await db.withSql(async (sql) => {
    const actors: Actor[] = [];
    for (const id of incidentActorIds(incident)) actors.push(await resolveActor(sql, id));
    const clients = await affectedClients(sql, actors, since, null);
    const contactRows = await sql.query<{ client_id: string; name: string; email: string }>(
      'SELECT client_id, name, email FROM contacts WHERE client_id = ANY ($1::uuid[]) AND deleted_at IS NULL ORDER BY name',
      [clients.map((c) => c.clientId)],
    );
    const contacts = new Map<string, { name: string; email: string }[]>();
    for (const row of contactRows)
      contacts.set(row.client_id, [...(contacts.get(row.client_id) ?? []), { name: row.name, email: row.email }]);
    return { actors, clients, contacts };
  });
  return { incident, timeline, evidence, actors, clients, contacts, clocks: incidentClocks(incidentTimes(incident), now), since, now };
}

const DATA_CLASSES: Record<string, string> = {
  cycle: 'engagement records: titles, periods, due dates and status of the work we do for the client',
  file: 'documents the client uploaded (file names and contents, e.g. bank statements, invoices, receipts), which can include names, account numbers and amounts',
  cycle_request: 'document requests: messages and the contact they were sent to',
  request: 'document requests: messages and the contact they were sent to',
  request_item: 'checklist items and review comments',
  contact: 'contact persons: names, email addresses and phone numbers',
  client: 'company details: name and UEN',
};

export function dataClasses(entityTypes: Iterable<string>): string[] {
  return [...new Set(entityTypes)].sort().map((type) => DATA_CLASSES[type] ?? `records of type "${type}"`);
}

/** Containment actions that changed something (a re-run that changed nothing is not an action taken). */
export function containmentEntries(report: IncidentReport): TimelineEntry[] {
  return report.timeline.filter(
    (entry) => entry.kind.startsWith('containment.') && (entry.data as { changed?: unknown } | null)?.changed !== 0,
  );
}

export function bullets(lines: string[], none = '- None recorded.'): string {
  return lines.length === 0 ? none : lines.map((line) => `- ${line}`).join('\n');
}

export function timelineBullet(entry: TimelineEntry): string {
  return `${formatFirmTime(entry.occurredAt)} — ${entry.message} (${entry.actor})`;
}

export function formatDuration(ms: number): string {
  const totalSeconds = Math.max(0, Math.round(ms / 1000));
  const days = Math.floor(totalSeconds / 86_400);
  const hours = Math.floor((totalSeconds % 86_400) / 3_600);
  const minutes = Math.floor((totalSeconds % 3_600) / 60);
  const seconds = totalSeconds % 60;
  return [days ? `${days} d` : '', hours ? `${hours} h` : '', minutes ? `${minutes} min` : '', `${seconds} s`].filter(Boolean).join(' ');
}

export function clockLine(clock: Clock): string {
  const when = clock.deadline ? `by ${formatFirmTime(clock.deadline)}` : '—';
  return `${clock.label}: ${when} [${clock.state.replace('_', ' ')}] (${clock.rule}; ${clock.note})`;
}
