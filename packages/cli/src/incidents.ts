import type { TxClient } from '@breezycorp/db';
import type { BasePrisma } from '@breezycorp/db/unsafe';
import type { IncidentTimes } from './clocks.ts';
import { CliError, EXIT } from './io.ts';
import { requireUuid } from './operator.ts';

export type IncidentRow = NonNullable<Awaited<ReturnType<BasePrisma['incident']['findUnique']>>>;

/** The incident, or exit 3: an operator who mistypes an id must hear so, not act on nothing. */
export async function loadIncident(db: Pick<TxClient, 'incident'>, id: string): Promise<IncidentRow> {
  const incident = await db.incident.findUnique({ where: { id: requireUuid(id, 'incident id') } });
  if (!incident) throw new CliError(`No incident ${id}`, EXIT.notFound);
  return incident;
}

export function incidentActorIds(incident: IncidentRow): string[] {
  return Array.isArray(incident.actorIds) ? incident.actorIds.filter((id): id is string => typeof id === 'string') : [];
}

export function incidentTimes(incident: IncidentRow): IncidentTimes {
  return {
    openedAt: incident.openedAt,
    notifiable: incident.notifiable,
    notifiableDeterminedAt: incident.notifiableDeterminedAt,
    resolvedAt: incident.resolvedAt,
  };
}
