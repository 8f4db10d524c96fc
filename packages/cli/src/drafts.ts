import type { Clock } from './clocks.ts';
import type { Duration } from './duration.ts';
import { incidentDir, writeNewFile } from './evidence-store.ts';
import { formatFirmTime } from './firm-time.ts';
import {
  bullets,
  clockLine,
  containmentEntries,
  dataClasses,
  formatDuration,
  type IncidentReport,
  timelineBullet,
} from './incident-report.ts';
import type { AffectedClient } from './investigation.ts';
import { cell, loadTemplate, renderTemplate } from './templates.ts';

/**
 * The drafts a person finishes: the disclosure letter to each affected client, the PDPC
 * notification and the post-mortem, filled from docs/templates/ and an IncidentReport.
 * Written under $SPADE_DATA_DIR/incidents/<id>/, never over an earlier draft.
 */
type Env = Record<string, string | undefined>;

const DISCLOSURE_TEMPLATE = 'tenant-leak-disclosure.md';
const PDPC_TEMPLATE = 'pdpc-notification.md';
const POSTMORTEM_TEMPLATE = 'post-mortem.md';

function deadlineText(clock: Clock | undefined): string {
  if (!clock) return '—';
  if (clock.deadline) return `${formatFirmTime(clock.deadline)} (${clock.state.replace('_', ' ')})`;
  return clock.state === 'not_applicable' ? `not applicable — ${clock.note}` : `not started — ${clock.note}`;
}

function clock(report: IncidentReport, name: Clock['name']): Clock | undefined {
  return report.clocks.find((c) => c.name === name);
}

function recordsTable(client: AffectedClient): string {
  const rows = Object.entries(client.byEntityType)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([type, n]) => `| ${cell(type)} | ${n.records} | ${n.events} |`);
  return ['| Kind of record | Records accessed | Accesses |', '|---|---|---|', ...rows].join('\n');
}

function clientSummary(client: AffectedClient): string {
  const counts = Object.entries(client.byEntityType)
    .map(([type, n]) => `${type} ${n.records}`)
    .join(', ');
  return `${client.clientName ?? client.clientId}${client.uen ? ` (UEN ${client.uen})` : ''}: ${counts} record(s) accessed, ${formatFirmTime(client.firstAt)} – ${formatFirmTime(client.lastAt)}`;
}

function lastDetermination(report: IncidentReport): { basis: string | null } {
  const entry = [...report.timeline].reverse().find((e) => e.kind === 'notifiability_determined');
  const basis = (entry?.data as { basis?: unknown } | undefined)?.basis;
  return { basis: typeof basis === 'string' ? basis : null };
}

function regulatoryStatus(report: IncidentReport): string {
  const { incident } = report;
  if (incident.notifiable === null) {
    return (
      "We are assessing this incident under Singapore's Personal Data Protection Act 2012 (PDPA); the assessment " +
      `will be complete by ${deadlineText(clock(report, 'assessment'))}. [Update this paragraph once the assessment is made.]`
    );
  }
  if (incident.notifiable) {
    return (
      'We have assessed that this incident must be notified under the PDPA, and we are notifying the Personal Data ' +
      `Protection Commission (PDPC) by ${deadlineText(clock(report, 'pdpc_notification'))}.`
    );
  }
  return 'We have assessed this incident under the PDPA and determined that it does not require notification to the PDPC. [State the basis.]';
}

function firmValues(env: Env, options: { firm?: string; representative?: string }) {
  return {
    firm_name: options.firm ?? env.SPADE_FIRM_NAME ?? '[firm name]',
    representative:
      options.representative ??
      env.SPADE_DPO_CONTACT ??
      '[name, role, email and phone of the authorised representative / Data Protection Officer]',
  };
}

function slug(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 60) || 'client'
  );
}

/** The letters (one per affected client) and the PDPC notification. */
export async function writeDisclosureDrafts(
  env: Env,
  report: IncidentReport,
  options: { firm?: string; representative?: string },
  now: Date,
) {
  const affected = report.clients.filter((c) => c.affected);
  const dir = incidentDir(env, report.incident.id);
  const firm = firmValues(env, options);
  const common = {
    ...firm,
    incident_id: report.incident.id,
    incident_title: report.incident.title,
    draft_date: formatFirmTime(now),
    aware_at: formatFirmTime(report.incident.openedAt),
    containment_actions: bullets(containmentEntries(report).map(timelineBullet)),
    regulatory_status: regulatoryStatus(report),
  };
  const disclosureTemplate = await loadTemplate(env, DISCLOSURE_TEMPLATE);
  const letters: { clientId: string; clientName: string | null; path: string }[] = [];
  for (const client of affected) {
    const contacts = report.contacts.get(client.clientId) ?? [];
    const text = renderTemplate(disclosureTemplate, {
      ...common,
      client_name: client.clientName ?? client.clientId,
      client_uen: client.uen ?? '—',
      client_contacts: contacts.map((c) => `${c.name} <${c.email}>`).join(', ') || '[contact person]',
      first_access: formatFirmTime(client.firstAt),
      last_access: formatFirmTime(client.lastAt),
      records_table: recordsTable(client),
      data_classes: bullets(dataClasses(Object.keys(client.byEntityType))),
    });
    const file = await writeNewFile(dir, `disclosure-${slug(client.clientName ?? client.clientId)}.md`, text);
    letters.push({ clientId: client.clientId, clientName: client.clientName, path: file });
  }

  const determination = lastDetermination(report);
  const assessment = clock(report, 'assessment');
  const pdpc = clock(report, 'pdpc_notification');
  const contactsAtAffected = affected.reduce((n, c) => n + (report.contacts.get(c.clientId)?.length ?? 0), 0);
  const filesAccessed = affected.reduce((n, c) => n + (c.byEntityType.file?.records ?? 0), 0);
  const routesOffline = containmentEntries(report)
    .filter((e) => e.kind === 'containment.route_offline')
    .map((e) => (e.data as { method?: string; routePattern?: string }) ?? {})
    .filter((d) => d.method && d.routePattern)
    .map((d) => `\`${d.method} ${d.routePattern}\``);
  const evidenceCount = report.evidence.length;
  const late = [assessment, pdpc].filter((c) => c?.state === 'overdue');
  const pdpcText = renderTemplate(await loadTemplate(env, PDPC_TEMPLATE), {
    ...firm,
    incident_id: report.incident.id,
    incident_title: report.incident.title,
    draft_date: formatFirmTime(now),
    notifiability:
      report.incident.notifiable === null
        ? 'not yet determined'
        : `${report.incident.notifiable ? 'notifiable' : 'not notifiable'}, determined ${formatFirmTime(report.incident.notifiableDeterminedAt!)}${determination.basis ? ` — ${determination.basis}` : ''}`,
    assessment_deadline: deadlineText(assessment),
    pdpc_deadline: deadlineText(pdpc),
    aware:
      `The organisation became aware on ${formatFirmTime(report.incident.openedAt)}, when ${report.incident.reporter} reported: ` +
      `"${report.incident.title}". An incident was opened at once (reference ${report.incident.id}); evidence preserved: ` +
      `${evidenceCount} file(s), each with its SHA-256 hash. [Add how the report reached us.]`,
    routes_offline: routesOffline.join(', ') || 'none',
    affected_clients_count: String(affected.length),
    affected_clients_list:
      affected.length === 0 ? '  - none identified in the audit trail' : affected.map((c) => `  - ${clientSummary(c)}`).join('\n'),
    individuals:
      `[TO DETERMINE from the documents accessed] — contact persons on record at the affected clients: ${contactsAtAffected}; ` +
      `documents accessed: ${filesAccessed}. The breach is of significant scale (PDPC notification required) at 500 or more ` +
      'affected individuals; if the number is unknown, notify once there is reason to believe it is 500 or more.',
    data_classes: bullets(dataClasses(affected.flatMap((c) => Object.keys(c.byEntityType)))).replace(/^/gm, '  '),
    potential_harm:
      '[TO ASSESS] Significant harm is deemed when prescribed personal data is involved — for example a full name or ' +
      'identification number together with a bank account number, pay or debts, or an account identifier together with a ' +
      `password, access code or security credential. Documents accessed: ${filesAccessed}; review each for such data.`,
    chronology: bullets(report.timeline.map(timelineBullet)),
    remedial_actions: bullets(containmentEntries(report).map(timelineBullet)),
    individuals_plan:
      `[DECIDE] The affected client organisations are being notified with the letters drafted alongside this notification (${letters.length}). ` +
      'Affected individuals are notified as soon as practicable, at the same time as or after the PDPC (the PDPC first if the ' +
      'breach will draw public attention). They need not be notified if remedial action makes significant harm unlikely, or if ' +
      'the data was protected (e.g. encrypted) — state those grounds here if relied on.',
    late_reasons:
      late.length === 0
        ? 'Not applicable: as of this draft, the deadlines above have not passed.'
        : `[REQUIRED] ${late.map((c) => `${c!.label} deadline ${formatFirmTime(c!.deadline!)} has passed`).join('; ')}. State the reasons for the late notification, with supporting evidence.`,
  });
  const pdpcPath = await writeNewFile(dir, 'pdpc-notification.md', pdpcText);

  return {
    incidentId: report.incident.id,
    letters,
    pdpc: pdpcPath,
    deadlines: { assessment: assessment?.deadline ?? null, pdpcNotification: pdpc?.deadline ?? null },
    reviewed: report.clients.filter((c) => !c.affected).map((c) => ({ clientId: c.clientId, clientName: c.clientName })),
    affected: affected.map((c) => ({ clientId: c.clientId, name: c.clientName ?? c.clientId })),
  };
}

/** The blameless post-mortem, due 72 h after resolution. */
export async function writePostmortemDraft(env: Env, report: IncidentReport, options: { since: Duration }) {
  const { incident } = report;
  const opened = report.timeline.find((e) => e.kind === 'opened');
  const contained = containmentEntries(report)
    .filter((e) => e.kind !== 'containment.route_online')
    .at(-1);
  const affected = report.clients.filter((c) => c.affected);
  const firstAccess = affected.length ? new Date(Math.min(...affected.map((c) => c.firstAt.getTime()))) : null;
  const postMortemClock = clock(report, 'post_mortem');
  const text = renderTemplate(await loadTemplate(env, POSTMORTEM_TEMPLATE), {
    incident_id: incident.id,
    incident_title: incident.title,
    status: incident.status,
    reporter: cell(incident.reporter),
    opened_at: formatFirmTime(incident.openedAt),
    contained_at: contained ? formatFirmTime(contained.occurredAt) : 'not contained yet',
    time_to_contain: contained && opened ? formatDuration(contained.occurredAt.getTime() - opened.occurredAt.getTime()) : '—',
    resolved_at: incident.resolvedAt ? formatFirmTime(incident.resolvedAt) : 'not resolved yet',
    postmortem_due: deadlineText(postMortemClock),
    channel: incident.channel,
    first_access: firstAccess ? formatFirmTime(firstAccess) : 'unknown',
    impact:
      affected.length === 0
        ? `No affected client found in the audit trail of the recorded actors (last ${options.since.text}).`
        : bullets(affected.map(clientSummary)),
    timeline: [
      '| Time (SGT) | What | Who |',
      '|---|---|---|',
      ...report.timeline.map((e) => `| ${formatFirmTime(e.occurredAt).replace(' SGT', '')} | ${cell(e.message)} | ${cell(e.actor)} |`),
    ].join('\n'),
    containment: bullets(containmentEntries(report).map(timelineBullet)),
    evidence:
      report.evidence.length === 0
        ? 'None attached.'
        : [
            '| File | SHA-256 | Bytes |',
            '|---|---|---|',
            ...report.evidence.map((e) => `| ${cell(e.storedPath)} | \`${e.sha256}\` | ${e.size} |`),
          ].join('\n'),
    clocks: bullets(report.clocks.map(clockLine)),
  });
  const file = await writeNewFile(incidentDir(env, incident.id), 'post-mortem.md', text);
  return { incidentId: incident.id, path: file, due: postMortemClock?.deadline ?? null };
}
