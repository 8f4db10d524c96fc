import { incidentClocks } from '../clocks.ts';
import { timeOption } from '../command-helpers.ts';
import { formatFirmTime } from '../firm-time.ts';
import { clockLine } from '../incident-report.ts';
import { incidentActorIds, incidentTimes, loadIncident } from '../incidents.ts';
import { describeActor, resolveActor } from '../investigation.ts';
import { CliError, EXIT } from '../io.ts';
import { requireUuid } from '../operator.ts';
import { type ActionScope, defineOperatorAction } from '../operator-action.ts';

/** What an operator records on an incident after opening it: notes, suspects, the PDPA determination, resolution. */

export const noteIncident = defineOperatorAction({
  name: 'incident note',
  description: 'add a note to the timeline (who was looped in, what was decided)',
  examples: ['pnpm spade incident note 6f1c2d3e-… "Engineering lead joined; root cause: GET /api/… skips assertClientTenant"'],
  configure: (command) => command.argument('<incident-id>').argument('<message...>'),
  eventType: 'incident.noted',
  kind: 'note',
  incident: 'own',
  check: ([, words]: [string, string[]], _options: object) => {
    if (!words.join(' ').trim()) throw new CliError('The note is empty', EXIT.usage);
  },
  load: async ({ db, args: [incidentId, words] }) => ({
    incident: await loadIncident(db.prisma, incidentId),
    note: words.join(' ').trim(),
  }),
  incidentOf: (t) => t.incident.id,
  record: (t) => ({ message: t.note, entityType: 'incident', entityId: t.incident.id }),
  print: ({ target: t }) => ({ json: { incidentId: t.incident.id, note: t.note }, human: () => `noted on incident ${t.incident.id}` }),
});

export const addIncidentActors = defineOperatorAction({
  name: 'incident add-actor',
  description: 'record suspect actors (staff user or contact ids); the disclosure draft reads their audit trail',
  examples: ['pnpm spade incident add-actor 6f1c2d3e-… 00000000-0000-4000-8000-000000000517'],
  configure: (command) => command.argument('<incident-id>').argument('<actor-id...>'),
  eventType: 'incident.actor_added',
  kind: 'actor_added',
  incident: 'own',
  async load({ db, args: [incidentId, actorIds] }: ActionScope<[string, string[]], object>) {
    const incident = await loadIncident(db.prisma, incidentId);
    const actors = await db.withSql((sql) => Promise.all(actorIds.map((a) => resolveActor(sql, a))));
    const existing = incidentActorIds(incident);
    const added = actors.filter((a, i) => !existing.includes(a.id) && actors.findIndex((b) => b.id === a.id) === i);
    return { incident, added, actorIds: [...existing, ...added.map((a) => a.id)] };
  },
  incidentOf: (t) => t.incident.id,
  async run(tx, t) {
    if (t.added.length > 0) await tx.incident.update({ where: { id: t.incident.id }, data: { actorIds: t.actorIds } });
  },
  record: (t) =>
    t.added.map((actor) => ({
      message: `Suspect actor: ${describeActor(actor)}`,
      entityType: 'incident',
      entityId: t.incident.id,
      data: { actorId: actor.id },
    })),
  print: ({ target: t }) => ({
    json: { incidentId: t.incident.id, added: t.added.map((a) => a.id), actorIds: t.actorIds },
    human: () => `added ${t.added.length} actor(s); incident ${t.incident.id} has ${t.actorIds.length}`,
  }),
});

interface NotifiableOptions {
  at?: Date;
  notNotifiable?: boolean;
  basis?: string;
}

export const determineNotifiability = defineOperatorAction({
  name: 'incident notifiable',
  description: 'record the PDPA notifiability determination (starts the PDPC 3-day clock)',
  examples: ['pnpm spade incident notifiable 6f1c2d3e-… --at 2026-12-30 --basis "bank statements of named individuals (prescribed data)"'],
  configure: (command) =>
    command
      .argument('<incident-id>')
      .option('--at <time>', 'when the determination was made (default: now), e.g. 2026-12-30 or 2026-12-30T15:00', timeOption)
      .option('--not-notifiable', 'record that the breach was assessed as NOT notifiable')
      .option('--basis <text>', 'why: significant harm (prescribed data) and/or significant scale (500+ individuals)'),
  eventType: 'incident.notifiability_determined',
  kind: 'notifiability_determined',
  incident: 'own',
  async load({ db, args: [incidentId], options }: ActionScope<[string], NotifiableOptions>) {
    const incident = await loadIncident(db.prisma, incidentId);
    const notifiable = !options.notNotifiable;
    return {
      incident,
      notifiable,
      at: options.at ?? new Date(),
      changed: !(incident.notifiable === notifiable && incident.notifiableDeterminedAt),
    };
  },
  incidentOf: (t) => t.incident.id,
  run: async (tx, t) =>
    t.changed
      ? await tx.incident.update({ where: { id: t.incident.id }, data: { notifiable: t.notifiable, notifiableDeterminedAt: t.at } })
      : t.incident,
  record: (t, _updated, { options }) =>
    t.changed
      ? {
          message: `Determined ${t.notifiable ? 'NOTIFIABLE' : 'not notifiable'} on ${formatFirmTime(t.at)}${options.basis ? `: ${options.basis}` : ''}`,
          entityType: 'incident',
          entityId: t.incident.id,
          data: {
            notifiable: t.notifiable,
            determinedAt: t.at.toISOString(),
            basis: options.basis ?? null,
            previous: t.incident.notifiable,
          },
        }
      : [],
  print: ({ target: t, receipt: incident }) => {
    const pdpc = incidentClocks(incidentTimes(incident), new Date()).find((c) => c.name === 'pdpc_notification')!;
    const what = t.notifiable ? 'notifiable' : 'not notifiable';
    return {
      json: { incidentId: incident.id, changed: t.changed, notifiable: incident.notifiable, pdpc },
      human: () => [
        t.changed
          ? `recorded: ${what} as of ${formatFirmTime(incident.notifiableDeterminedAt!)}`
          : `already recorded as ${what} on ${formatFirmTime(incident.notifiableDeterminedAt!)}; nothing changed`,
        clockLine(pdpc),
      ],
    };
  },
});

export const resolveIncident = defineOperatorAction({
  name: 'incident resolve',
  description: 'mark the incident resolved (starts the 72-hour post-mortem clock)',
  examples: ['pnpm spade incident resolve 6f1c2d3e-… --summary "patched GET /api/…; regression test added"'],
  configure: (command) =>
    command
      .argument('<incident-id>')
      .option('--at <time>', 'when it was resolved (default: now)', timeOption)
      .option('--summary <text>', 'how it was resolved'),
  eventType: 'incident.resolved',
  kind: 'resolved',
  incident: 'own',
  async load({ db, args: [incidentId], options }: ActionScope<[string], { at?: Date; summary?: string }>) {
    const incident = await loadIncident(db.prisma, incidentId);
    const at = options.at ?? new Date();
    if (incident.status === 'resolved') return { incident, at, changed: false };
    if (at < incident.openedAt) throw new CliError(`--at ${at.toISOString()} is before the incident was opened`, EXIT.usage);
    return { incident, at, changed: true };
  },
  incidentOf: (t) => t.incident.id,
  run: async (tx, t) =>
    t.changed ? await tx.incident.update({ where: { id: t.incident.id }, data: { status: 'resolved', resolvedAt: t.at } }) : t.incident,
  record: (t, _updated, { options }) =>
    t.changed
      ? {
          message: `Resolved ${formatFirmTime(t.at)}${options.summary ? `: ${options.summary}` : ''}`,
          entityType: 'incident',
          entityId: t.incident.id,
          data: { resolvedAt: t.at.toISOString(), summary: options.summary ?? null },
        }
      : [],
  print: ({ target: t, receipt: incident }) => {
    const postMortem = incidentClocks(incidentTimes(incident), new Date()).find((c) => c.name === 'post_mortem')!;
    return {
      json: { incidentId: incident.id, changed: t.changed, resolvedAt: incident.resolvedAt, postMortem },
      human: () => [
        t.changed
          ? `resolved ${formatFirmTime(incident.resolvedAt!)}`
          : `already resolved ${formatFirmTime(incident.resolvedAt!)}; nothing changed`,
        clockLine(postMortem),
      ],
    };
  },
});

/** A detector's suggestion looked at and set aside, with the reason. */
export const dismissAlert = defineOperatorAction({
  name: 'incident dismiss',
  description: 'dismiss a suggested incident (a breadth alert) after looking at it, saying why',
  examples: ['pnpm spade incident dismiss 3f2a… --reason "year-end review: the partner opened every client"'],
  configure: (command) => command.argument('<alert-id>').requiredOption('--reason <text>', 'why it is not an incident'),
  eventType: 'alert.dismissed',
  kind: 'alert.dismissed',
  check: ([alertId]: [string], _options: { reason: string }) => void requireUuid(alertId, 'alert id'),
  async load({ db, args: [alertId] }) {
    const id = requireUuid(alertId, 'alert id');
    const alert = await db.prisma.detectionAlert.findUnique({ where: { id } });
    if (!alert) throw new CliError(`No detection alert ${id}`, EXIT.notFound);
    if (alert.status !== 'suggested') throw new CliError(`Alert ${id} is ${alert.status}, not a suggestion`, EXIT.usage);
    return alert;
  },
  async run(tx, alert) {
    const { count } = await tx.detectionAlert.updateMany({ where: { id: alert.id, status: 'suggested' }, data: { status: 'dismissed' } });
    if (count === 0) throw new CliError(`Alert ${alert.id} is no longer a suggestion`, EXIT.usage);
  },
  record: (alert, _receipt, { options }) => ({
    message: `Dismissed ${alert.kind} alert ${alert.id}: ${options.reason}`,
    entityType: 'detection_alert',
    entityId: alert.id,
    data: { kind: alert.kind, reason: options.reason },
  }),
  print: ({ target: alert }) => ({
    json: { alertId: alert.id, kind: alert.kind, dismissed: true },
    human: () => `dismissed ${alert.kind} alert ${alert.id}`,
  }),
});
