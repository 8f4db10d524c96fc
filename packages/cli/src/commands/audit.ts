import type { Command } from 'commander';
import { Option } from 'commander';
import { collect, durationOption, emit, withActionOptions, withExamples } from '../command-helpers.ts';
import { withUnsafeOwnerDatabase } from '../database.ts';
import type { Duration } from '../duration.ts';
import { parseDuration } from '../duration.ts';
import { formatFirmTime } from '../firm-time.ts';
import { loadIncident } from '../incidents.ts';
import {
  type ActorEvent,
  actorEvents,
  affectedClients,
  describeActor,
  parseEventTypes,
  RUNBOOK_EVENT_TYPES,
  resolveActor,
} from '../investigation.ts';
import { CliError, EXIT, type Io } from '../io.ts';
import { operatorName } from '../operator.ts';
import { recordAction } from '../record.ts';
import { formatCsv, formatTable } from '../table.ts';
import { registerAuditTrailCommands } from './audit-trail.ts';

type Format = 'table' | 'json' | 'csv';

interface ActorOptions {
  since: Duration;
  types?: string;
  allTypes?: boolean;
  format: Format;
  json?: boolean;
  incident?: string;
  operator?: string;
}

interface AffectedOptions {
  actor?: string[];
  since: Duration;
  types?: string;
  json?: boolean;
  incident?: string;
  operator?: string;
}

const COLUMNS = ['occurred_at', 'event_type', 'actor_id', 'accessed_client', 'entity_type', 'entity_id', 'event_data_json'] as const;

function eventRow(event: ActorEvent): string[] {
  return [
    event.occurred_at.toISOString(),
    event.event_type,
    event.actor_id,
    event.accessed_client ?? '',
    event.entity_type ?? '',
    event.entity_id ?? '',
    JSON.stringify(event.event_data_json),
  ];
}

export function registerAuditCommands(program: Command, io: Io) {
  const audit = withExamples(
    program.command('audit').description('investigate the audit trail (runbook: grep audit events)'),
    'pnpm spade audit actor <staff_user_or_contact_id> --since 24h',
    'pnpm spade audit affected --actor <id> --since 7d',
    'pnpm spade audit verify',
  );
  registerAuditTrailCommands(audit, io);

  withExamples(
    withActionOptions(
      audit
        .command('actor')
        .description("the runbook's query: an actor's cycle.read, file.downloaded and cross_tenant_read events, newest first")
        .argument('<actor-id>', 'a staff user or contact id')
        .option('--since <duration>', 'look-back window: Ns, Nm, Nh or Nd', durationOption, parseDuration('24h'))
        .option('--types <list>', `comma-separated event types (default: ${RUNBOOK_EVENT_TYPES.join(',')})`)
        .option('--all-types', 'every event type of the actor')
        .addOption(new Option('--format <format>', 'output format').choices(['table', 'json', 'csv']).default('table'))
        .option('--json', 'same as --format json'),
    ),
    'pnpm spade audit actor 00000000-0000-4000-8000-000000000517 --since 24h',
    'pnpm spade audit actor 00000000-0000-4000-8000-000000000517 --since 7d --types cycle.read,file.downloaded --format csv > events.csv',
  ).action(async (actorId: string, options: ActorOptions) => {
    if (options.types && options.allTypes) throw new CliError('--types and --all-types do not go together', EXIT.usage);
    const types = options.allTypes ? null : options.types ? parseEventTypes(options.types) : [...RUNBOOK_EVENT_TYPES];
    const format: Format = options.json ? 'json' : options.format;
    const operator = options.incident ? operatorName(io, options.operator) : null;
    const { actor, events } = await withUnsafeOwnerDatabase(
      io,
      async (db) => {
        const incident = options.incident ? await loadIncident(db.prisma, options.incident) : null;
        const result = await db.withSql(async (sql) => {
          const actor = await resolveActor(sql, actorId);
          return { actor, events: await actorEvents(sql, actor.id, options.since, types) };
        });
        if (incident && operator) {
          await db.prisma.$transaction((tx) =>
            recordAction(
              tx,
              { operator, incidentId: incident.id },
              {
                eventType: 'investigation.queried',
                kind: 'investigation.audit_actor',
                message: `Audit trail of ${describeActor(result.actor)} over ${options.since.text}: ${result.events.length} event(s) across ${new Set(result.events.map((e) => e.accessed_client).filter(Boolean)).size} client(s)`,
                entityType: result.actor.kind === 'staff' ? 'staff_user' : 'contact',
                entityId: result.actor.id,
                data: { since: options.since.text, types, events: result.events.length },
              },
            ),
          );
        }
        return result;
      },
      { requireAllRows: true },
    );
    if (format === 'json') {
      io.out(JSON.stringify({ actor, since: options.since.text, types, events }, null, 2));
    } else if (format === 'csv') {
      io.out(formatCsv([...COLUMNS], events.map(eventRow)));
    } else {
      io.out(
        `${describeActor(actor)}: ${events.length} event(s) in the last ${options.since.text} (${types ? types.join(', ') : 'all types'})`,
      );
      if (events.length > 0) {
        io.out(
          formatTable(
            ['OCCURRED (SGT)', 'EVENT', 'CLIENT', 'ENTITY', 'ENTITY ID'],
            events.map((e) => [formatFirmTime(e.occurred_at), e.event_type, e.accessed_client, e.entity_type, e.entity_id]),
          ),
        );
      }
    }
  });

  withExamples(
    withActionOptions(
      audit
        .command('affected')
        .description('distinct clients whose data the actor(s) touched, with counts per entity type — the disclosure input')
        .option('--actor <id>', 'a staff user or contact id (repeatable)', collect)
        .option('--since <duration>', 'look-back window: Ns, Nm, Nh or Nd', durationOption, parseDuration('24h'))
        .option('--types <list>', 'count only these event types (default: every type except refusals such as tenant_access_denied)')
        .option('--json', 'print the result as JSON'),
    ),
    'pnpm spade audit affected --actor 00000000-0000-4000-8000-000000000517 --since 24h',
  ).action(async (options: AffectedOptions) => {
    if (!options.actor || options.actor.length === 0) throw new CliError('Name at least one --actor <id>', EXIT.usage);
    const types = options.types ? parseEventTypes(options.types) : null;
    const operator = options.incident ? operatorName(io, options.operator) : null;
    const { actors, clients } = await withUnsafeOwnerDatabase(
      io,
      async (db) => {
        const incident = options.incident ? await loadIncident(db.prisma, options.incident) : null;
        const result = await db.withSql(async (sql) => {
          const actors = [];
          for (const id of options.actor ?? []) actors.push(await resolveActor(sql, id));
          return { actors, clients: await affectedClients(sql, actors, options.since, types) };
        });
        if (incident && operator) {
          const affected = result.clients.filter((c) => c.affected);
          await db.prisma.$transaction((tx) =>
            recordAction(
              tx,
              { operator, incidentId: incident.id },
              {
                eventType: 'investigation.queried',
                kind: 'investigation.audit_affected',
                message: `Affected clients over ${options.since.text}: ${affected.map((c) => c.clientName ?? c.clientId).join(', ') || 'none'} (${result.clients.length} touched in all)`,
                data: {
                  since: options.since.text,
                  actorIds: result.actors.map((a) => a.id),
                  affectedClientIds: affected.map((c) => c.clientId),
                },
              },
            ),
          );
        }
        return result;
      },
      { requireAllRows: true },
    );
    emit(io, options.json, { actors, since: options.since.text, types, clients }, () => [
      `${actors.map(describeActor).join('; ')} — last ${options.since.text}: ${clients.filter((c) => c.affected).length} affected client(s), ${clients.length} touched`,
      ...(clients.length === 0
        ? []
        : [
            formatTable(
              ['CLIENT', 'NAME', 'AFFECTED', 'EVENTS', 'BY ENTITY TYPE (events/records)', 'FIRST (SGT)', 'LAST (SGT)'],
              clients.map((c) => [
                c.clientId,
                c.clientName,
                c.affected ? 'yes' : 'no (entitled)',
                c.events,
                Object.entries(c.byEntityType)
                  .map(([type, n]) => `${type} ${n.events}/${n.records}`)
                  .join(', '),
                formatFirmTime(c.firstAt),
                formatFirmTime(c.lastAt),
              ]),
            ),
          ]),
    ]);
  });
}
