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
import { emit, withActionOptions, withExamples, withJson } from '../command-helpers.ts';
import { withUnsafeOwnerDatabase } from '../database.ts';
import { parseDuration } from '../duration.ts';
import { formatFirmTime, parseFirmTime } from '../firm-time.ts';
import { loadIncident } from '../incidents.ts';
import { CliError, EXIT, type Io } from '../io.ts';
import { operatorName } from '../operator.ts';
import { recordAction } from '../record.ts';

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

/** `spade audit seal | verify | export-digests`: the tamper-evident trail (docs/detection.md). */
export function registerAuditTrailCommands(audit: Command, io: Io) {
  withExamples(
    withActionOptions(
      withJson(
        audit
          .command('seal')
          .description(
            'write a digest now: chain the sha256 of every audit row not sealed yet to the previous digest (the API does this on an interval)',
          ),
      ),
    ),
    'pnpm spade audit seal',
  ).action(async (options: { json?: boolean; incident?: string; operator?: string }) => {
    const operator = operatorName(io, options.operator);
    const sealed = await withUnsafeOwnerDatabase(
      io,
      async (db) => {
        const incident = options.incident ? await loadIncident(db.prisma, options.incident) : null;
        const result = await db.withSql((sql) => sealAudit(sql, `cli:${operator}`));
        if (incident) {
          await db.prisma.$transaction((tx) =>
            recordAction(
              tx,
              { operator, incidentId: incident.id },
              {
                eventType: 'audit.sealed',
                kind: 'audit.sealed',
                message: result ? `Sealed audit digest ${result.seq} (${result.rowCount} row(s)), hash ${result.hash}` : 'Nothing to seal',
                entityType: 'audit_digest',
                entityId: result ? String(result.seq) : null,
                data: result ? { seq: result.seq, rowCount: result.rowCount, hash: result.hash } : { seq: null },
              },
            ),
          );
        }
        return result;
      },
      { requireAllRows: true },
    );
    emit(io, options.json, { sealed }, () =>
      sealed
        ? `sealed digest ${sealed.seq}: ${sealed.rowCount} row(s), positions ${sealed.firstPosition}…${sealed.lastPosition}, hash ${sealed.hash}`
        : 'nothing to seal: every audit row is already covered by a digest',
    );
  });

  withExamples(
    withActionOptions(
      withJson(
        audit
          .command('verify')
          .description(
            'recompute the digest chain from the rows; report the first row or digest edited, deleted or inserted out of order (exit 1)',
          )
          .option('--since <time|duration>', 'only digests sealed since then (and their link to the one before)', sinceOption)
          .option('--against <file>', 'also compare with digests exported earlier (audit export-digests)'),
      ),
    ),
    'pnpm spade audit verify',
    'pnpm spade audit verify --since 7d --against ./digests-2026-12.jsonl',
  ).action(async (options: { since?: Date; against?: string; json?: boolean; incident?: string; operator?: string }) => {
    const exported = options.against ? await readExport(options.against) : undefined;
    const operator = options.incident ? operatorName(io, options.operator) : null;
    const report = await withUnsafeOwnerDatabase(
      io,
      async (db) => {
        const incident = options.incident ? await loadIncident(db.prisma, options.incident) : null;
        const result = await db.withSql((sql) =>
          verifyAuditTrail(sql, { ...(options.since && { since: options.since }), ...(exported && { exported }) }),
        );
        if (incident && operator) {
          await db.prisma.$transaction((tx) =>
            recordAction(
              tx,
              { operator, incidentId: incident.id },
              {
                eventType: 'audit.verified',
                kind: 'audit.verified',
                message: verifyLines(result)[0] as string,
                data: { ok: result.ok, digests: result.digests, rows: result.rows, problems: result.problems.slice(0, 20) },
              },
            ),
          );
        }
        return result;
      },
      { requireAllRows: true },
    );
    emit(io, options.json, report, () => verifyLines(report));
    if (!report.ok) throw new CliError(`the audit trail does not verify (${report.problems.length} problem(s))`, EXIT.failure);
  });

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
