import type { TxClient } from '@breezycorp/db';
import type { UnsafeDatabase } from '@breezycorp/db/unsafe';
import type { Command } from 'commander';
import { emit, withExamples, withJson } from './command-helpers.ts';
import { confirmContainment } from './confirm.ts';
import { withUnsafeOwnerDatabase } from './database.ts';
import { type IncidentRow, loadIncident } from './incidents.ts';
import type { CliError, Io } from './io.ts';
import { operatorName, withOperatorOption } from './operator.ts';
import { type ActionRecord, type OperatorEventType, recordAction, recordSlackOutcome } from './record.ts';
import { postToSlack } from './slack.ts';

/**
 * The one skeleton every operator action runs through:
 *
 *   load → preview → dry-run → confirm → transaction (change + record) → announce → print
 *
 * - load: read what the action is about (and write evidence files or drafts to disk — never a
 *   database change). Unknown ids exit 3 here, before anything changes.
 * - preview / dry-run / confirm (containment only): --dry-run prints what would change, with
 *   counts; otherwise a person confirms (--yes, or an answer at the terminal; refused without one).
 * - one transaction: the change (`run`) AND its records — an audit event and, with an incident,
 *   the timeline row (record.ts) — commit together or not at all.
 * - announce: a Slack post in #spade-ops, its outcome on the incident's timeline; never fatal.
 * - print: the result, as JSON (--json) or lines.
 *
 * Command files only declare these steps; every action is in a registry (`operatorActions()`),
 * so a test runs each one and checks it recorded both rows.
 */

/** The options the skeleton adds (--operator, --incident, --json; --dry-run and --yes for containment). */
export interface ActionOptions {
  operator?: string;
  incident?: string;
  json?: boolean;
  dryRun?: boolean;
  yes?: boolean;
}

export interface ActionScope<Args extends unknown[], Opts> {
  io: Io;
  db: UnsafeDatabase;
  args: Args;
  options: Opts & ActionOptions;
  /** The --incident, loaded (exit 3 when it names nothing); null without one. */
  incident: IncidentRow | null;
  /** Who acts; for an observation without an incident, asked for only when needed. */
  operator(): string;
}

/** A record entry: the action's own event type and timeline kind unless it names others. */
export type RecordEntry = Omit<ActionRecord, 'eventType' | 'kind'> & Partial<Pick<ActionRecord, 'eventType' | 'kind'>>;

export interface SlackResult {
  status: 'posted' | 'failed' | 'skipped';
  error?: string;
}

/** What a command prints: JSON with --json, else lines; warnings go to stderr first. */
export interface Output {
  json: unknown;
  human: () => string[] | string;
  warnings?: (string | false | null | undefined)[];
  /** Printed, then exit with this (e.g. `audit verify` finding a problem). */
  failure?: CliError;
}

export interface Printed<Target, Receipt> {
  target: Target;
  receipt: Receipt;
  /** The Slack post's outcome, or null when there was nothing to announce. */
  slack: SlackResult | null;
}

export interface OperatorActionSpec<Args extends unknown[], Opts, Target, Receipt> {
  /** The command path, e.g. 'sessions revoke'; the last word is the subcommand. */
  name: string;
  description: string;
  examples: string[];
  /** The command's arguments and own options (the skeleton adds the common ones). */
  configure?: (command: Command) => Command;
  /** What the action records: its audit event type and timeline kind. */
  eventType: OperatorEventType;
  kind: string;
  /**
   * 'option' (default): the action takes --incident <id>. 'own': it names its incident itself
   * (an argument, a required option, or a new incident) and returns it from `incidentOf`.
   */
  incident?: 'option' | 'own';
  incidentOf?: (target: Target) => string | null;
  /** An investigation read: recorded (and the operator named) only with --incident. */
  observation?: boolean;
  /** A containment action: --dry-run, and confirmation of `summary` (null: nothing to change, nothing to ask). */
  containment?: {
    summary: (target: Target) => string | null;
    dryRun: (target: Target) => Output;
  };
  /** Usage checks that need no database (exit 2 before connecting). */
  check?: (args: Args, options: Opts & ActionOptions) => void | Promise<void>;
  load: (scope: ActionScope<Args, Opts>) => Promise<Target>;
  /** The change, inside the action's transaction. */
  run?: (tx: TxClient, target: Target, scope: ActionScope<Args, Opts>) => Promise<Receipt>;
  /** What to record in the same transaction; [] when nothing happened that is worth a record. */
  record: (target: Target, receipt: Receipt, scope: ActionScope<Args, Opts>) => RecordEntry | RecordEntry[];
  /** The #spade-ops post, or null for none. */
  announce?: (target: Target, receipt: Receipt, scope: ActionScope<Args, Opts>) => string | null;
  print: (result: Printed<Target, Receipt>, scope: ActionScope<Args, Opts>) => Output;
}

/** A registered action: what it records, and how to attach it to the program. */
export interface OperatorAction {
  name: string;
  eventType: OperatorEventType;
  kind: string;
  incident: 'option' | 'own';
  observation: boolean;
  containment: boolean;
  attach(parent: Command, io: Io): Command;
}

const registry = new Map<string, OperatorAction>();

/** Every operator action, in the order defined. */
export function operatorActions(): OperatorAction[] {
  return [...registry.values()];
}

export function defineOperatorAction<Args extends unknown[], Opts, Target, Receipt = undefined>(
  spec: OperatorActionSpec<Args, Opts, Target, Receipt>,
): OperatorAction {
  if (registry.has(spec.name)) throw new Error(`operator action "${spec.name}" is defined twice`);
  const action: OperatorAction = {
    name: spec.name,
    eventType: spec.eventType,
    kind: spec.kind,
    incident: spec.incident ?? 'option',
    observation: spec.observation === true,
    containment: spec.containment !== undefined,
    attach: (parent, io) => attach(parent, io, spec),
  };
  registry.set(spec.name, action);
  return action;
}

function attach<Args extends unknown[], Opts, Target, Receipt>(
  parent: Command,
  io: Io,
  spec: OperatorActionSpec<Args, Opts, Target, Receipt>,
): Command {
  let command = parent.command(spec.name.split(' ').at(-1)!).description(spec.description);
  command = withJson(spec.configure ? spec.configure(command) : command);
  if ((spec.incident ?? 'option') === 'option') command.option('--incident <id>', 'record this on the incident’s timeline');
  withOperatorOption(command);
  if (spec.containment) {
    command
      .option('--dry-run', 'print what would change, with counts; change nothing')
      .option('-y, --yes', 'do not ask for confirmation (required without a terminal, e.g. in CI)');
  }
  return withExamples(command, ...spec.examples).action(async (...params: unknown[]) => {
    // commander passes the arguments, then the options, then the command.
    const options = params.at(-2) as Opts & ActionOptions;
    await runOperatorAction(io, spec, params.slice(0, -2) as Args, options);
  });
}

export async function runOperatorAction<Args extends unknown[], Opts, Target, Receipt>(
  io: Io,
  spec: OperatorActionSpec<Args, Opts, Target, Receipt>,
  args: Args,
  options: Opts & ActionOptions,
): Promise<void> {
  await spec.check?.(args, options);
  const recording = !spec.observation || options.incident !== undefined;
  const named = recording ? operatorName(io, options.operator) : null;
  const output = await withUnsafeOwnerDatabase(
    io,
    async (db) => {
      // load
      const incident = spec.incident !== 'own' && options.incident ? await loadIncident(db.prisma, options.incident) : null;
      const scope: ActionScope<Args, Opts> = {
        io,
        db,
        args,
        options,
        incident,
        operator: () => named ?? operatorName(io, options.operator),
      };
      const target = await spec.load(scope);
      // preview → dry-run → confirm
      if (spec.containment) {
        if (options.dryRun) return spec.containment.dryRun(target);
        const summary = spec.containment.summary(target);
        if (summary !== null) await confirmContainment(io, options, summary);
      }
      // one transaction: the change and its records
      const incidentId = spec.incidentOf ? spec.incidentOf(target) : (incident?.id ?? null);
      const receipt =
        spec.run || recording
          ? await db.prisma.$transaction(async (tx) => {
              const receipt = (spec.run ? await spec.run(tx, target, scope) : undefined) as Receipt;
              if (named !== null) {
                const context = { operator: named, incidentId };
                const entries = spec.record(target, receipt, scope);
                for (const entry of Array.isArray(entries) ? entries : [entries]) {
                  await recordAction(tx, context, { eventType: spec.eventType, kind: spec.kind, ...entry });
                }
              }
              return receipt;
            })
          : (undefined as Receipt);
      // announce
      const text = spec.announce?.(target, receipt, scope) ?? null;
      let slack: SlackResult | null = null;
      if (text !== null) {
        const outcome = await postToSlack(io.env, text);
        await recordSlackOutcome(db.prisma, { operator: scope.operator(), incidentId }, outcome);
        slack = outcome.status === 'failed' ? { status: outcome.status, error: outcome.error } : { status: outcome.status };
      }
      // print: warnings and output go out once the database is closed
      const printed = spec.print({ target, receipt, slack }, scope);
      const slackWarning =
        slack?.status === 'failed' &&
        `warning: Slack post failed: ${slack.error}${incidentId ? '; recorded on the timeline (slack_failed)' : ''}; carrying on`;
      return { ...printed, warnings: [slackWarning, ...(printed.warnings ?? [])] };
    },
    { requireAllRows: true },
  );
  for (const warning of output.warnings ?? []) if (warning) io.err(warning);
  emit(io, options.json, output.json, output.human);
  if (output.failure) throw output.failure;
}
