import { readFile, writeFile } from 'node:fs/promises';
import {
  digestsFromJsonLines,
  digestsToJsonLines,
  listDigests,
  sealAudit,
  type VerifyReport,
  verifyAuditTrail,
} from '@breezycorp/db/unsafe';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { emit, withExamples, withJson } from '../command-helpers.ts';
import { withUnsafeOwnerDatabase } from '../database.ts';
import { parseDuration } from '../duration.ts';
import { formatFirmTime, parseFirmTime } from '../firm-time.ts';
import { CliError, EXIT, type Io } from '../io.ts';
import { type ActionScope, defineOperatorAction } from '../operator-action.ts';

/** `--since` as a look-back (24h, 7d) or a time (2026-12-30, an ISO time). */
export function sinceOption(value: string): Date {
  if (/^\d+[smhd]$/.test(value.trim())) return new Date(Date.now() - parseDuration(value).ms);
  try {
    return parseFirmTime(value);
  } catch {
    throw new InvalidArgumentError(`"${value}" is neither a duration (24h, 7d) nor a time (2026-12-30, 2026-12-30T15:00)`);
  }
}

export function verifyLines(report: VerifyReport): string[] {
  const rate = `${report.rows} row(s) in ${report.digests} digest(s), ${report.elapsedMs.toFixed(0)} ms (${report.rowsPerSecond.toLocaleString('en')} rows/s); ${report.unsealed} row(s) awaiting the next seal`;
  if (report.ok) return [`audit trail verified: ${rate}`];
  const [first, ...rest] = report.problems;
  return [
    `AUDIT TRAIL DOES NOT VERIFY — first problem: ${first?.kind}: ${first?.detail}`,
    ...rest.slice(0, 19).map((p) => `  also ${p.kind}: ${p.detail}`),
    ...(rest.length > 19 ? [`  … and ${rest.length - 19} more`] : []),
    `checked ${rate}`,
  ];
}

/** Seals a digest now (the API does this on an interval); recorded on the incident's timeline with --incident. */
const sealAuditTrail = defineOperatorAction({
  name: 'audit seal',
  description:
    'write a digest now: chain the sha256 of every audit row not sealed yet to the previous digest (the API does this on an interval)',
  examples: ['pnpm spade audit seal'],
  eventType: 'audit.sealed',
  kind: 'audit.sealed',
  observation: true,
  // sealAudit commits on its own (it takes the chain's lock); the record follows in the skeleton's transaction.
  load: ({ db, operator }: ActionScope<[], object>) => db.withSql((sql) => sealAudit(sql, `cli:${operator()}`)),
  record: (sealed) => ({
    message: sealed ? `Sealed audit digest ${sealed.seq} (${sealed.rowCount} row(s)), hash ${sealed.hash}` : 'Nothing to seal',
    entityType: 'audit_digest',
    entityId: sealed ? String(sealed.seq) : null,
    data: sealed ? { seq: sealed.seq, rowCount: sealed.rowCount, hash: sealed.hash } : { seq: null },
  }),
  print: ({ target: sealed }) => ({
    json: { sealed },
    human: () =>
      sealed
        ? `sealed digest ${sealed.seq}: ${sealed.rowCount} row(s), positions ${sealed.firstPosition}…${sealed.lastPosition}, hash ${sealed.hash}`
        : 'nothing to seal: every audit row is already covered by a digest',
  }),
});

/** Recomputes the digest chain; exit 1 on the first row or digest that was changed. */
const verifyAuditChain = defineOperatorAction({
  name: 'audit verify',
  description: 'recompute the digest chain from the rows; report the first row or digest edited, deleted or inserted out of order (exit 1)',
  examples: ['pnpm spade audit verify', 'pnpm spade audit verify --since 7d --against ./digests-2026-12.jsonl'],
  configure: (command) =>
    command
      .option('--since <time|duration>', 'only digests sealed since then (and their link to the one before)', sinceOption)
      .option('--against <file>', 'also compare with digests exported earlier (audit export-digests)'),
  eventType: 'audit.verified',
  kind: 'audit.verified',
  observation: true,
  async load({ db, options }: ActionScope<[], { since?: Date; against?: string }>) {
    const exported = options.against ? await readExport(options.against) : undefined;
    return db.withSql((sql) => verifyAuditTrail(sql, { ...(options.since && { since: options.since }), ...(exported && { exported }) }));
  },
  record: (report) => ({
    message: verifyLines(report)[0] as string,
    data: { ok: report.ok, digests: report.digests, rows: report.rows, problems: report.problems.slice(0, 20) },
  }),
  print: ({ target: report }) => ({
    json: report,
    human: () => verifyLines(report),
    ...(!report.ok && { failure: new CliError(`the audit trail does not verify (${report.problems.length} problem(s))`, EXIT.failure) }),
  }),
});

/** `spade audit seal | verify | export-digests`: the tamper-evident trail (docs/detection.md). */
export function registerAuditTrailCommands(audit: Command, io: Io) {
  sealAuditTrail.attach(audit, io);
  verifyAuditChain.attach(audit, io);

  withExamples(
    withJson(
      audit
        .command('export-digests')
        .description('write every digest (one JSON line each) to a file, to keep outside the database')
        .requiredOption('--out <file>', 'where to write (never overwritten)'),
    ),
    'pnpm spade audit export-digests --out ./digests-2026-12.jsonl',
  ).action(async (options: { out: string; json?: boolean }) => {
    const digests = await withUnsafeOwnerDatabase(io, (db) => db.withSql((sql) => listDigests(sql)), { requireAllRows: true });
    try {
      await writeFile(options.out, digestsToJsonLines(digests), { flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new CliError(`${options.out} exists; choose a new file`, EXIT.usage);
      throw error;
    }
    const last = digests.at(-1);
    emit(io, options.json, { file: options.out, digests: digests.length, lastSeq: last?.seq ?? null, lastHash: last?.hash ?? null }, () =>
      last
        ? `exported ${digests.length} digest(s) to ${options.out}; latest ${last.seq} sealed ${formatFirmTime(last.sealedAt)}, hash ${last.hash}`
        : `no digests yet; wrote an empty ${options.out}`,
    );
  });
}

async function readExport(file: string) {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new CliError(`Cannot read ${file}`, EXIT.usage);
  }
  try {
    return digestsFromJsonLines(text);
  } catch {
    throw new CliError(`${file} is not a digest export (one JSON digest per line)`, EXIT.usage);
  }
}
