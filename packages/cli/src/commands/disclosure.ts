import type { Command } from 'commander';
import { durationOption, withExamples } from '../command-helpers.ts';
import { writeDisclosureDrafts, writePostmortemDraft } from '../drafts.ts';
import { type Duration, parseDuration } from '../duration.ts';
import { formatFirmTime } from '../firm-time.ts';
import { loadIncidentReport } from '../incident-report.ts';
import { CliError, type Io } from '../io.ts';
import { type ActionScope, defineOperatorAction } from '../operator-action.ts';

interface DraftOptions {
  incident: string;
  since: Duration;
  firm?: string;
  representative?: string;
}

/**
 * Fills the disclosure letter for each affected client (from the audit trail of the incident's
 * actors) and the PDPC notification with the PDPA deadlines. Drafts are written, never overwritten.
 */
const draftDisclosure = defineOperatorAction({
  name: 'disclosure draft',
  description:
    "fill docs/templates/tenant-leak-disclosure.md for each affected client (from the audit trail of the incident's actors) and draft the PDPC notification with the PDPA deadlines; writes under $SPADE_DATA_DIR/incidents/<id>/",
  examples: [
    'pnpm spade disclosure draft --incident 6f1c2d3e-… --firm "Example Accounting LLP" --representative "Jane Lim, DPO, dpo@example.sg, +65 6000 0000"',
  ],
  configure: (command) =>
    command
      .requiredOption('--incident <id>', 'the incident')
      .option('--since <duration>', "how far back to read the actors' audit trail", durationOption, parseDuration('30d'))
      .option('--firm <name>', 'the organisation’s name (default: $SPADE_FIRM_NAME)')
      .option('--representative <text>', 'authorised representative’s contact details (default: $SPADE_DPO_CONTACT)'),
  eventType: 'disclosure.drafted',
  kind: 'disclosure.drafted',
  incident: 'own',
  async load({ io, db, options }: ActionScope<[], DraftOptions>) {
    const now = new Date();
    const report = await loadIncidentReport(db, options.incident, options.since, now);
    if (report.actors.length === 0) {
      throw new CliError(
        `Incident ${report.incident.id} names no suspect actor, so the audit trail cannot say who was affected: ` +
          'add them with `spade incident add-actor <incident-id> <actor-id>`',
      );
    }
    return writeDisclosureDrafts(io.env, report, options, now);
  },
  incidentOf: (t) => t.incidentId,
  record: ({ affected, letters, pdpc, incidentId }, _receipt, { options }) => ({
    message: `Disclosure drafted for ${affected.length} affected client(s)${affected.length ? `: ${affected.map((c) => c.name).join(', ')}` : ''}; PDPC notification drafted`,
    entityType: 'incident',
    entityId: incidentId,
    data: { letters, pdpc, since: options.since.text, affectedClientIds: affected.map((c) => c.clientId) },
  }),
  print: ({ target: { affected: _affected, ...result } }, { options }) => ({
    warnings: [
      result.letters.length === 0 &&
        `warning: no affected client found in the audit trail of the incident's actors (last ${options.since.text})`,
    ],
    json: result,
    human: () => [
      ...result.letters.map((l) => `${l.path}  (${l.clientName ?? l.clientId})`),
      `${result.pdpc}  (PDPC notification)`,
      ...(result.reviewed.length
        ? [`not drafted (the actor is entitled to them; review): ${result.reviewed.map((c) => c.clientName ?? c.clientId).join(', ')}`]
        : []),
    ],
  }),
});

/** Fills the blameless post-mortem from the incident's timeline, evidence and audit trail. */
const draftPostmortem = defineOperatorAction({
  name: 'postmortem new',
  description:
    'fill docs/templates/post-mortem.md from the incident timeline, evidence and audit trail; writes under $SPADE_DATA_DIR/incidents/<id>/',
  examples: ['pnpm spade postmortem new --incident 6f1c2d3e-…'],
  configure: (command) =>
    command
      .requiredOption('--incident <id>', 'the incident')
      .option('--since <duration>', "how far back to read the actors' audit trail", durationOption, parseDuration('30d')),
  eventType: 'postmortem.drafted',
  kind: 'postmortem.drafted',
  incident: 'own',
  async load({ io, db, options }: ActionScope<[], { incident: string; since: Duration }>) {
    const report = await loadIncidentReport(db, options.incident, options.since, new Date());
    return writePostmortemDraft(io.env, report, options);
  },
  incidentOf: (t) => t.incidentId,
  record: (t) => ({ message: `Post-mortem drafted: ${t.path}`, entityType: 'incident', entityId: t.incidentId, data: { path: t.path } }),
  print: ({ target: t }) => ({
    json: t,
    human: () => [t.path, `due: ${t.due ? formatFirmTime(t.due) : 'not started — 72 h after resolution'}`],
  }),
});

export function registerDisclosureCommands(program: Command, io: Io) {
  const disclosure = withExamples(
    program.command('disclosure').description('draft the disclosure to affected clients and the PDPC notification'),
    'pnpm spade disclosure draft --incident <id>',
  );
  draftDisclosure.attach(disclosure, io);
  const postmortem = withExamples(
    program.command('postmortem').description('the blameless post-mortem (due 72 h after resolution)'),
    'pnpm spade postmortem new --incident <id>',
  );
  draftPostmortem.attach(postmortem, io);
}
