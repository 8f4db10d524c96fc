import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Prisma } from '@breezycorp/db';
import { collect, timeOption } from '../command-helpers.ts';
import { evidenceDir, type StoredFile, storeFile, writeManifest } from '../evidence-store.ts';
import { formatFirmTime, incidentChannel } from '../firm-time.ts';
import { describeActor, resolveActor } from '../investigation.ts';
import { CliError, EXIT } from '../io.ts';
import { requireUuid } from '../operator.ts';
import { type ActionScope, defineOperatorAction, type RecordEntry } from '../operator-action.ts';

interface OpenOptions {
  title: string;
  reporter: string;
  evidence?: string[];
  actor?: string[];
  at?: Date;
  fromAlert?: string;
}

/**
 * Opens an incident: its id and dated Slack channel, the reporter's evidence stored with its
 * sha256, the suspect actors, and (--from-alert) the detector's suggestion it came from.
 * Every one of those is an audit event and a timeline row.
 */
export const openIncident = defineOperatorAction({
  name: 'incident open',
  description: 'open an incident: prints its id and Slack channel, stores evidence with sha256, posts to Slack',
  examples: [
    'pnpm spade incident open --title "Acme saw Borneo\'s bank statement" --reporter "Alice Tan (Acme)" --evidence ./screenshot.png --actor 00000000-0000-4000-8000-000000000517',
  ],
  configure: (command) =>
    command
      .requiredOption('--title <text>', 'what was reported, in one line')
      .requiredOption('--reporter <who>', 'who reported it (name, client, email)')
      .option('--evidence <file>', 'a file of the reporter’s evidence (repeatable)', collect)
      .option('--actor <id>', 'a suspect staff user or contact id whose audit trail names the affected clients (repeatable)', collect)
      .option('--from-alert <alert-id>', 'open the incident a detector suggested (incident list): the alert joins its timeline')
      .option(
        '--at <time>',
        'when the firm had credible grounds to believe a breach occurred (default: now; starts the 30-day assessment clock)',
        timeOption,
      ),
  eventType: 'incident.opened',
  kind: 'opened',
  incident: 'own',
  async check(_args: [], options: OpenOptions) {
    for (const file of options.evidence ?? []) {
      const info = await stat(file).catch(() => null);
      if (!info?.isFile()) throw new CliError(`Evidence file not found: ${file}`, EXIT.usage);
    }
  },
  async load({ io, db, options }: ActionScope<[], OpenOptions>) {
    const id = randomUUID();
    const openedAt = options.at ?? new Date();
    const alert = options.fromAlert
      ? await db.prisma.detectionAlert.findUnique({ where: { id: requireUuid(options.fromAlert, 'alert id') } })
      : null;
    if (options.fromAlert && !alert) throw new CliError(`No detection alert ${options.fromAlert}`, EXIT.notFound);
    if (alert && alert.status !== 'suggested') throw new CliError(`Alert ${alert.id} is ${alert.status}, not a suggestion`, EXIT.usage);
    const suspects = [...(options.actor ?? []), ...(alert?.actorId ? [alert.actorId] : [])];
    const actors = await db.withSql(async (sql) => Promise.all(suspects.map((actorId) => resolveActor(sql, actorId))));
    // The reporter's evidence, copied and hashed before the incident row exists: a failed open leaves the copies, not a gap.
    const dir = evidenceDir(io.env, id, openedAt);
    const stored: StoredFile[] = [];
    for (const file of options.evidence ?? []) stored.push(await storeFile(dir, path.basename(file), { copyFrom: file }));
    const manifest = stored.length > 0 ? await writeManifest(dir, id, new Date()) : null;
    return {
      id,
      openedAt,
      channel: incidentChannel(openedAt),
      alert,
      actors,
      actorIds: [...new Set(actors.map((a) => a.id))],
      stored,
      manifest,
    };
  },
  incidentOf: (t) => t.id,
  async run(tx, t, { options, operator }) {
    const { title, reporter } = options;
    await tx.incident.create({
      data: { id: t.id, title, reporter, openedAt: t.openedAt, openedBy: operator(), channel: t.channel, actorIds: t.actorIds },
    });
    if (t.alert) {
      const { count } = await tx.detectionAlert.updateMany({
        where: { id: t.alert.id, status: 'suggested' },
        data: { status: 'incident', incidentId: t.id },
      });
      if (count === 0) throw new CliError(`Alert ${t.alert.id} is no longer a suggestion`, EXIT.usage);
    }
    for (const file of t.stored) {
      const { filename, sha256, size, storedPath } = file;
      await tx.incidentEvidence.create({
        data: { incidentId: t.id, filename, sha256, size: BigInt(size), storedPath, addedBy: operator() },
      });
    }
  },
  record: (t, _receipt, { options: { title, reporter } }) => {
    const onIncident = { entityType: 'incident', entityId: t.id };
    const entries: RecordEntry[] = [
      {
        message: `Incident opened: ${title} (reported by ${reporter}); channel ${t.channel}`,
        ...onIncident,
        data: { title, reporter, channel: t.channel, openedAt: t.openedAt.toISOString(), actorIds: t.actorIds },
      },
    ];
    if (t.alert) {
      entries.push({
        eventType: 'alert.escalated',
        kind: t.alert.kind,
        message: `Opened from detection alert ${t.alert.id} (${t.alert.kind}, raised ${t.alert.raisedAt.toISOString()} by ${t.alert.detectedBy})`,
        entityType: 'detection_alert',
        entityId: t.alert.id,
        data: {
          alertId: t.alert.id,
          requestId: t.alert.requestId,
          route: t.alert.route,
          details: t.alert.details as Prisma.InputJsonValue,
        },
      });
    }
    for (const actor of t.actors) {
      entries.push({
        eventType: 'incident.actor_added',
        kind: 'actor_added',
        message: `Suspect actor: ${describeActor(actor)}`,
        ...onIncident,
        data: { actorId: actor.id },
      });
    }
    for (const { filename, sha256, size, storedPath } of t.stored) {
      entries.push({
        eventType: 'evidence.added',
        kind: 'evidence.added',
        message: `Evidence stored: ${filename} (sha256 ${sha256})`,
        ...onIncident,
        data: { filename, sha256, size, storedPath },
      });
    }
    return entries;
  },
  announce: (t, _receipt, { options, operator }) =>
    `:rotating_light: CRITICAL — suspected tenant leak. Incident ${t.id}: "${options.title}" (reported by ${options.reporter}). ` +
    `Open ${t.channel} and loop in the Engineering lead. Opened by ${operator()}.`,
  print: ({ target: t, slack }) => ({
    json: {
      incidentId: t.id,
      channel: t.channel,
      openedAt: t.openedAt.toISOString(),
      evidence: t.stored.map(({ filename, sha256, size, storedPath }) => ({ filename, sha256, size, storedPath })),
      manifest: t.manifest?.path ?? null,
      slack: slack?.status,
    },
    human: () => [
      `incident ${t.id} opened ${formatFirmTime(t.openedAt)}`,
      `channel: ${t.channel}`,
      ...t.stored.map((f) => `evidence: ${f.storedPath}  sha256 ${f.sha256}`),
      `slack: ${slack?.status}`,
    ],
  }),
});
