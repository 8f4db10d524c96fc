import type { Command } from 'commander';
import { Option } from 'commander';
import { collect, durationOption, withExamples } from '../command-helpers.ts';
import type { Duration } from '../duration.ts';
import { parseDuration } from '../duration.ts';
import { formatFirmTime } from '../firm-time.ts';
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
import { defineOperatorAction } from '../operator-action.ts';
import { formatCsv, formatTable } from '../table.ts';
import { registerAuditTrailCommands } from './audit-trail.ts';

type Format = 'table' | 'json' | 'csv';

interface ActorOptions {
  since: Duration;
  types?: string;
  allTypes?: boolean;
  format: Format;
}

interface AffectedOptions {
  actor?: string[];
  since: Duration;
  types?: string;
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

/** The runbook's query: an actor's reads, newest first. Recorded on the incident's timeline with --incident. */
const auditActor = defineOperatorAction({
  name: 'audit actor',
  description: "the runbook's query: an actor's cycle.read, file.downloaded and cross_tenant_read events, newest first",
  examples: [
    'pnpm spade audit actor 00000000-0000-4000-8000-000000000517 --since 24h',
    'pnpm spade audit actor 00000000-0000-4000-8000-000000000517 --since 7d --types cycle.read,file.downloaded --format csv > events.csv',
  ],
  configure: (command) =>
    command
      .argument('<actor-id>', 'a staff user or contact id')
      .option('--since <duration>', 'look-back window: Ns, Nm, Nh or Nd', durationOption, parseDuration('24h'))
      .option('--types <list>', `comma-separated event types (default: ${RUNBOOK_EVENT_TYPES.join(',')})`)
      .option('--all-types', 'every event type of the actor')
      .addOption(new Option('--format <format>', 'output format').choices(['table', 'json', 'csv']).default('table')),
  eventType: 'investigation.queried',
  kind: 'investigation.audit_actor',
  observation: true,
  check: (_args: [string], options: ActorOptions) => {
    if (options.types && options.allTypes) throw new CliError('--types and --all-types do not go together', EXIT.usage);
    if (options.types) parseEventTypes(options.types);
  },
  async load({ db, args: [actorId], options }) {
    const types = options.allTypes ? null : options.types ? parseEventTypes(options.types) : [...RUNBOOK_EVENT_TYPES];
    return db.withSql(async (sql) => {
      const actor = await resolveActor(sql, actorId);
      return { actor, types, events: await actorEvents(sql, actor.id, options.since, types) };
    });
  },
  record: ({ actor, types, events }, _receipt, { options }) => ({
    message: `Audit trail of ${describeActor(actor)} over ${options.since.text}: ${events.length} event(s) across ${new Set(events.map((e) => e.accessed_client).filter(Boolean)).size} client(s)`,
    entityType: actor.kind === 'staff' ? 'staff_user' : 'contact',
    entityId: actor.id,
    data: { since: options.since.text, types, events: events.length },
  }),
  print: ({ target: { actor, types, events } }, { options }) => {
    const json = { actor, since: options.since.text, types, events };
    const format: Format = options.json ? 'json' : options.format;
    return {
      json,
      human: () =>
        format === 'json'
          ? JSON.stringify(json, null, 2)
          : format === 'csv'
            ? formatCsv([...COLUMNS], events.map(eventRow))
            : [
                `${describeActor(actor)}: ${events.length} event(s) in the last ${options.since.text} (${types ? types.join(', ') : 'all types'})`,
                ...(events.length === 0
                  ? []
                  : [
                      formatTable(
                        ['OCCURRED (SGT)', 'EVENT', 'CLIENT', 'ENTITY', 'ENTITY ID'],
                        events.map((e) => [formatFirmTime(e.occurred_at), e.event_type, e.accessed_client, e.entity_type, e.entity_id]),
                      ),
                    ]),
              ],
    };
  },
});

/** The disclosure input: which clients' data the actors touched. Recorded with --incident. */
const auditAffected = defineOperatorAction({
  name: 'audit affected',
  description: 'distinct clients whose data the actor(s) touched, with counts per entity type — the disclosure input',
  examples: ['pnpm spade audit affected --actor 00000000-0000-4000-8000-000000000517 --since 24h'],
  configure: (command) =>
    command
      .option('--actor <id>', 'a staff user or contact id (repeatable)', collect)
      .option('--since <duration>', 'look-back window: Ns, Nm, Nh or Nd', durationOption, parseDuration('24h'))
      .option('--types <list>', 'count only these event types (default: every type except refusals such as tenant_access_denied)'),
  eventType: 'investigation.queried',
  kind: 'investigation.audit_affected',
  observation: true,
  check: (_args: [], options: AffectedOptions) => {
    if (!options.actor || options.actor.length === 0) throw new CliError('Name at least one --actor <id>', EXIT.usage);
    if (options.types) parseEventTypes(options.types);
  },
  async load({ db, options }) {
    const types = options.types ? parseEventTypes(options.types) : null;
    return db.withSql(async (sql) => {
      const actors = [];
      for (const id of options.actor ?? []) actors.push(await resolveActor(sql, id));
      return { actors, types, clients: await affectedClients(sql, actors, options.since, types) };
    });
  },
  record: ({ actors, clients }, _receipt, { options }) => {
    const affected = clients.filter((c) => c.affected);
    return {
      message: `Affected clients over ${options.since.text}: ${affected.map((c) => c.clientName ?? c.clientId).join(', ') || 'none'} (${clients.length} touched in all)`,
      data: { since: options.since.text, actorIds: actors.map((a) => a.id), affectedClientIds: affected.map((c) => c.clientId) },
    };
  },
  print: ({ target: { actors, types, clients } }, { options }) => ({
    json: { actors, since: options.since.text, types, clients },
    human: () => [
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
    ],
  }),
});

export function registerAuditCommands(program: Command, io: Io) {
  const audit = withExamples(
    program.command('audit').description('investigate the audit trail (runbook: grep audit events)'),
    'pnpm spade audit actor <staff_user_or_contact_id> --since 24h',
    'pnpm spade audit affected --actor <id> --since 7d',
    'pnpm spade audit verify',
  );
  registerAuditTrailCommands(audit, io);
  auditActor.attach(audit, io);
  auditAffected.attach(audit, io);
}
