import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { incidentClocks } from '../clocks.ts';
import { collect, emit, timeOption, withExamples, withJson } from '../command-helpers.ts';
import { withUnsafeOwnerDatabase } from '../database.ts';
import { evidenceDir, type StoredFile, storeFile, writeManifest } from '../evidence-store.ts';
import { formatFirmTime, incidentChannel } from '../firm-time.ts';
import { clockLine } from '../incident-report.ts';
import { incidentActorIds, incidentTimes, loadIncident } from '../incidents.ts';
import { describeActor, resolveActor } from '../investigation.ts';
import { CliError, EXIT, type Io } from '../io.ts';
import { operatorName, withOperatorOption } from '../operator.ts';
import { type ActionContext, recordAction, recordSlackOutcome } from '../record.ts';
import { postToSlack } from '../slack.ts';
import { formatTable } from '../table.ts';

interface OpenOptions {
  title: string;
  reporter: string;
  evidence?: string[];
  actor?: string[];
  at?: Date;
  operator?: string;
  json?: boolean;
}

export function registerIncidentCommands(program: Command, io: Io) {
  const incident = withExamples(
    program.command('incident').description('open, follow and close a suspected tenant-leak incident'),
    'pnpm spade incident open --title "…" --reporter "…"',
    'pnpm spade incident clocks <id>',
  );

  withExamples(
    withOperatorOption(
      withJson(
        incident
          .command('open')
          .description('open an incident: prints its id and Slack channel, stores evidence with sha256, posts to Slack')
          .requiredOption('--title <text>', 'what was reported, in one line')
          .requiredOption('--reporter <who>', 'who reported it (name, client, email)')
          .option('--evidence <file>', 'a file of the reporter’s evidence (repeatable)', collect)
          .option('--actor <id>', 'a suspect staff user or contact id whose audit trail names the affected clients (repeatable)', collect)
          .option(
            '--at <time>',
            'when the firm had credible grounds to believe a breach occurred (default: now; starts the 30-day assessment clock)',
            timeOption,
          ),
      ),
    ),
    'pnpm spade incident open --title "Acme saw Borneo\'s bank statement" --reporter "Alice Tan (Acme)" --evidence ./screenshot.png --actor 00000000-0000-4000-8000-000000000517',
  ).action(async (options: OpenOptions) => {
    const operator = operatorName(io, options.operator);
    const evidenceFiles = await checkReadableFiles(options.evidence ?? []);
    const id = randomUUID();
    const openedAt = options.at ?? new Date();
    const channel = incidentChannel(openedAt);
    const context: ActionContext = { operator, incidentId: id };
    const result = await withUnsafeOwnerDatabase(
      io,
      async (db) => {
        const actors = await db.withSql(async (sql) => Promise.all((options.actor ?? []).map((actorId) => resolveActor(sql, actorId))));
        const actorIds = [...new Set(actors.map((a) => a.id))];
        const dir = evidenceDir(io.env, id, openedAt);
        const stored: StoredFile[] = [];
        for (const file of evidenceFiles) stored.push(await storeFile(dir, path.basename(file), { copyFrom: file }));
        await db.prisma.$transaction(async (tx) => {
          await tx.incident.create({
            data: { id, title: options.title, reporter: options.reporter, openedAt, openedBy: operator, channel, actorIds },
          });
          await recordAction(tx, context, {
            eventType: 'incident.opened',
            kind: 'opened',
            message: `Incident opened: ${options.title} (reported by ${options.reporter}); channel ${channel}`,
            entityType: 'incident',
            entityId: id,
            data: { title: options.title, reporter: options.reporter, channel, openedAt: openedAt.toISOString(), actorIds },
          });
          for (const actor of actors) {
            await tx.incidentTimelineEntry.create({
              data: {
                incidentId: id,
                kind: 'actor_added',
                actor: operator,
                message: `Suspect actor: ${describeActor(actor)}`,
                data: { actorId: actor.id },
              },
            });
          }
          for (const file of stored) {
            await tx.incidentEvidence.create({
              data: {
                incidentId: id,
                filename: file.filename,
                sha256: file.sha256,
                size: BigInt(file.size),
                storedPath: file.storedPath,
                addedBy: operator,
              },
            });
            await tx.incidentTimelineEntry.create({
              data: {
                incidentId: id,
                kind: 'evidence.added',
                actor: operator,
                message: `Evidence stored: ${file.filename} (sha256 ${file.sha256})`,
                data: { filename: file.filename, sha256: file.sha256, size: file.size, storedPath: file.storedPath },
              },
            });
          }
        });
        const manifest = stored.length > 0 ? await writeManifest(dir, id, new Date()) : null;
        const slack = await postToSlack(
          io.env,
          `:rotating_light: CRITICAL — suspected tenant leak. Incident ${id}: "${options.title}" (reported by ${options.reporter}). ` +
            `Open ${channel} and loop in the Engineering lead. Opened by ${operator}.`,
        );
        await recordSlackOutcome(db.prisma, context, slack);
        return { stored, manifest, slack };
      },
      { requireAllRows: true },
    );
    if (result.slack.status === 'failed') io.err(`warning: ${result.slack.error}; recorded on the timeline (slack_failed), carrying on`);
    emit(
      io,
      options.json,
      {
        incidentId: id,
        channel,
        openedAt: openedAt.toISOString(),
        evidence: result.stored.map(({ filename, sha256, size, storedPath }) => ({ filename, sha256, size, storedPath })),
        manifest: result.manifest?.path ?? null,
        slack: result.slack.status,
      },
      () => [
        `incident ${id} opened ${formatFirmTime(openedAt)}`,
        `channel: ${channel}`,
        ...result.stored.map((f) => `evidence: ${f.storedPath}  sha256 ${f.sha256}`),
        `slack: ${result.slack.status}`,
      ],
    );
  });

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
            `suggested by the detectors (${suggestions.length}); open one with: pnpm spade incident open --title "…" --reporter "spade detector" --actor <actor>`,
            formatTable(
              ['ALERT', 'RAISED', 'KIND', 'WHAT'],
              suggestions.map((a) => [a.id, formatFirmTime(a.openedAt), a.kind, a.title]),
            ),
          ]),
    ]);
  });

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

  withExamples(
    withOperatorOption(
      withJson(
        incident
          .command('note')
          .description('add a note to the timeline (who was looped in, what was decided)')
          .argument('<incident-id>')
          .argument('<message...>'),
      ),
    ),
    'pnpm spade incident note 6f1c2d3e-… "Engineering lead joined; root cause: GET /api/… skips assertClientTenant"',
  ).action(async (incidentId: string, words: string[], options: { json?: boolean; operator?: string }) => {
    const operator = operatorName(io, options.operator);
    const message = words.join(' ').trim();
    if (!message) throw new CliError('The note is empty', EXIT.usage);
    const incidentRow = await withUnsafeOwnerDatabase(io, (db) =>
      db.prisma.$transaction(async (tx) => {
        const found = await loadIncident(tx, incidentId);
        await recordAction(
          tx,
          { operator, incidentId: found.id },
          {
            eventType: 'incident.noted',
            kind: 'note',
            message,
            entityType: 'incident',
            entityId: found.id,
          },
        );
        return found;
      }),
    );
    emit(io, options.json, { incidentId: incidentRow.id, note: message }, () => `noted on incident ${incidentRow.id}`);
  });

  withExamples(
    withOperatorOption(
      withJson(
        incident
          .command('add-actor')
          .description('record suspect actors (staff user or contact ids); the disclosure draft reads their audit trail')
          .argument('<incident-id>')
          .argument('<actor-id...>'),
      ),
    ),
    'pnpm spade incident add-actor 6f1c2d3e-… 00000000-0000-4000-8000-000000000517',
  ).action(async (incidentId: string, actorIds: string[], options: { json?: boolean; operator?: string }) => {
    const operator = operatorName(io, options.operator);
    const result = await withUnsafeOwnerDatabase(
      io,
      async (db) => {
        const found = await loadIncident(db.prisma, incidentId);
        const actors = await db.withSql((sql) => Promise.all(actorIds.map((a) => resolveActor(sql, a))));
        const existing = incidentActorIds(found);
        const added = actors.filter((a, i) => !existing.includes(a.id) && actors.findIndex((b) => b.id === a.id) === i);
        if (added.length > 0) {
          await db.prisma.$transaction(async (tx) => {
            await tx.incident.update({ where: { id: found.id }, data: { actorIds: [...existing, ...added.map((a) => a.id)] } });
            for (const actor of added) {
              await recordAction(
                tx,
                { operator, incidentId: found.id },
                {
                  eventType: 'incident.actor_added',
                  kind: 'actor_added',
                  message: `Suspect actor: ${describeActor(actor)}`,
                  entityType: 'incident',
                  entityId: found.id,
                  data: { actorId: actor.id },
                },
              );
            }
          });
        }
        return { incidentId: found.id, added: added.map((a) => a.id), actorIds: [...existing, ...added.map((a) => a.id)] };
      },
      { requireAllRows: true },
    );
    emit(
      io,
      options.json,
      result,
      () => `added ${result.added.length} actor(s); incident ${result.incidentId} has ${result.actorIds.length}`,
    );
  });

  withExamples(
    withOperatorOption(
      withJson(
        incident
          .command('notifiable')
          .description('record the PDPA notifiability determination (starts the PDPC 3-day clock)')
          .argument('<incident-id>')
          .option('--at <time>', 'when the determination was made (default: now), e.g. 2026-12-30 or 2026-12-30T15:00', timeOption)
          .option('--not-notifiable', 'record that the breach was assessed as NOT notifiable')
          .option('--basis <text>', 'why: significant harm (prescribed data) and/or significant scale (500+ individuals)'),
      ),
    ),
    'pnpm spade incident notifiable 6f1c2d3e-… --at 2026-12-30 --basis "bank statements of named individuals (prescribed data)"',
  ).action(
    async (incidentId: string, options: { at?: Date; notNotifiable?: boolean; basis?: string; json?: boolean; operator?: string }) => {
      const operator = operatorName(io, options.operator);
      const notifiable = !options.notNotifiable;
      const at = options.at ?? new Date();
      const result = await withUnsafeOwnerDatabase(io, (db) =>
        db.prisma.$transaction(async (tx) => {
          const found = await loadIncident(tx, incidentId);
          if (found.notifiable === notifiable && found.notifiableDeterminedAt) {
            return { changed: false, incident: found };
          }
          const updated = await tx.incident.update({ where: { id: found.id }, data: { notifiable, notifiableDeterminedAt: at } });
          await recordAction(
            tx,
            { operator, incidentId: found.id },
            {
              eventType: 'incident.notifiability_determined',
              kind: 'notifiability_determined',
              message: `Determined ${notifiable ? 'NOTIFIABLE' : 'not notifiable'} on ${formatFirmTime(at)}${options.basis ? `: ${options.basis}` : ''}`,
              entityType: 'incident',
              entityId: found.id,
              data: { notifiable, determinedAt: at.toISOString(), basis: options.basis ?? null, previous: found.notifiable },
            },
          );
          return { changed: true, incident: updated };
        }),
      );
      const clocks = incidentClocks(incidentTimes(result.incident), new Date());
      const pdpc = clocks.find((c) => c.name === 'pdpc_notification')!;
      emit(
        io,
        options.json,
        { incidentId: result.incident.id, changed: result.changed, notifiable: result.incident.notifiable, pdpc },
        () => [
          result.changed
            ? `recorded: ${notifiable ? 'notifiable' : 'not notifiable'} as of ${formatFirmTime(result.incident.notifiableDeterminedAt!)}`
            : `already recorded as ${notifiable ? 'notifiable' : 'not notifiable'} on ${formatFirmTime(result.incident.notifiableDeterminedAt!)}; nothing changed`,
          clockLine(pdpc),
        ],
      );
    },
  );

  withExamples(
    withOperatorOption(
      withJson(
        incident
          .command('resolve')
          .description('mark the incident resolved (starts the 72-hour post-mortem clock)')
          .argument('<incident-id>')
          .option('--at <time>', 'when it was resolved (default: now)', timeOption)
          .option('--summary <text>', 'how it was resolved'),
      ),
    ),
    'pnpm spade incident resolve 6f1c2d3e-… --summary "patched GET /api/…; regression test added"',
  ).action(async (incidentId: string, options: { at?: Date; summary?: string; json?: boolean; operator?: string }) => {
    const operator = operatorName(io, options.operator);
    const at = options.at ?? new Date();
    const result = await withUnsafeOwnerDatabase(io, (db) =>
      db.prisma.$transaction(async (tx) => {
        const found = await loadIncident(tx, incidentId);
        if (found.status === 'resolved') return { changed: false, incident: found };
        if (at < found.openedAt) throw new CliError(`--at ${at.toISOString()} is before the incident was opened`, EXIT.usage);
        const updated = await tx.incident.update({ where: { id: found.id }, data: { status: 'resolved', resolvedAt: at } });
        await recordAction(
          tx,
          { operator, incidentId: found.id },
          {
            eventType: 'incident.resolved',
            kind: 'resolved',
            message: `Resolved ${formatFirmTime(at)}${options.summary ? `: ${options.summary}` : ''}`,
            entityType: 'incident',
            entityId: found.id,
            data: { resolvedAt: at.toISOString(), summary: options.summary ?? null },
          },
        );
        return { changed: true, incident: updated };
      }),
    );
    const postMortem = incidentClocks(incidentTimes(result.incident), new Date()).find((c) => c.name === 'post_mortem')!;
    emit(
      io,
      options.json,
      { incidentId: result.incident.id, changed: result.changed, resolvedAt: result.incident.resolvedAt, postMortem },
      () => [
        result.changed
          ? `resolved ${formatFirmTime(result.incident.resolvedAt!)}`
          : `already resolved ${formatFirmTime(result.incident.resolvedAt!)}; nothing changed`,
        clockLine(postMortem),
      ],
    );
  });

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
    emit(io, options.json, { incidentId: found.id, timeZone: 'Asia/Singapore', clocks }, () => [
      `incident ${found.id}: opened ${formatFirmTime(found.openedAt)}`,
      ...clocks.map(clockLine),
    ]);
  });
}

async function checkReadableFiles(files: string[]): Promise<string[]> {
  for (const file of files) {
    const info = await stat(file).catch(() => null);
    if (!info?.isFile()) throw new CliError(`Evidence file not found: ${file}`, EXIT.usage);
  }
  return files;
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
