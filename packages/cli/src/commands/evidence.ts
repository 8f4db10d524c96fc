import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { digestsCovering, sealAudit, verifyAuditTrail } from '@breezycorp/db/unsafe';
import type { Command } from 'commander';
import { emit, withActionOptions, withExamples, withJson } from '../command-helpers.ts';
import { withUnsafeOwnerDatabase } from '../database.ts';
import { evidenceDir, type StoredFile, safeFilename, storeFile, writeManifest } from '../evidence-store.ts';
import { loadIncident } from '../incidents.ts';
import { CliError, EXIT, type Io } from '../io.ts';
import { operatorName } from '../operator.ts';
import { recordAction } from '../record.ts';

/** Request ids as the API accepts them (x-request-id) or makes them (uuid). */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

interface EvidenceOptions {
  incident?: string;
  operator?: string;
  logFile?: string;
  json?: boolean;
}

interface LogScan {
  file: string | null;
  lines: string[];
  scanned: number;
  unparsable: number;
  missing: boolean;
}

/** The API's pino JSON lines that carry this request id (`reqId`), read as a stream. */
async function scanLog(file: string | null, requestId: string): Promise<LogScan> {
  if (!file) return { file: null, lines: [], scanned: 0, unparsable: 0, missing: false };
  const info = await stat(file).catch(() => null);
  if (!info?.isFile()) return { file, lines: [], scanned: 0, unparsable: 0, missing: true };
  const lines: string[] = [];
  let scanned = 0;
  let unparsable = 0;
  const reader = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of reader) {
    if (line.trim() === '') continue;
    scanned += 1;
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      unparsable += 1;
      continue;
    }
    const record = entry as { reqId?: unknown; requestId?: unknown };
    if (record.reqId === requestId || record.requestId === requestId) lines.push(line);
  }
  return { file, lines, scanned, unparsable, missing: false };
}

export function registerEvidenceCommands(program: Command, io: Io) {
  const evidence = withExamples(
    program.command('evidence').description('capture evidence into a hashed bundle (runbook: preserve evidence)'),
    'pnpm spade evidence request <x-request-id> --incident <id>',
  );
  withExamples(
    withActionOptions(
      withJson(
        evidence
          .command('request')
          .description(
            'bundle every audit event and API log line (SPADE_LOG_FILE) of one request id into $SPADE_DATA_DIR/evidence/<incident>/ with a sha256 manifest, attached to the incident',
          )
          .argument('<request-id>', 'the x-request-id from the response or the reporter’s evidence')
          .option('--log-file <path>', 'the API’s JSON log (default: $SPADE_LOG_FILE)'),
      ),
    ),
    'pnpm spade evidence request 0c4c2f7e-9d7a-4a51-b1f5-4b7d2f3c9e10 --incident 6f1c2d3e-…',
  ).action(async (requestId: string, options: EvidenceOptions) => {
    if (!REQUEST_ID.test(requestId)) throw new CliError(`"${requestId}" is not a request id`, EXIT.usage);
    const operator = operatorName(io, options.operator);
    const logFile = options.logFile ?? io.env.SPADE_LOG_FILE ?? null;
    const result = await withUnsafeOwnerDatabase(
      io,
      async (db) => {
        const incident = options.incident ? await loadIncident(db.prisma, options.incident) : null;
        const events = await db.prisma.auditEvent.findMany({ where: { requestId }, orderBy: { occurredAt: 'asc' } });
        const log = await scanLog(logFile, requestId);
        if (events.length === 0 && log.lines.length === 0) {
          throw new CliError(
            `No audit event${log.file ? ` and no line of ${log.file}` : ''} carries request id ${requestId}` +
              (log.file ? '' : ' (SPADE_LOG_FILE is not set: the API log was not searched)'),
            EXIT.notFound,
          );
        }
        // The digests that cover these rows (sealed now if they were not yet), verified, so the
        // bundle can later show the rows are what the chain sealed.
        const sealing =
          events.length === 0
            ? null
            : await db.withSql(async (sql) => {
                await sealAudit(sql, `cli:evidence:${operator}`);
                const covering = await digestsCovering(
                  sql,
                  events.map((e) => e.id),
                );
                const seqs = covering.digests.map((d) => d.seq);
                const verification =
                  seqs.length === 0 ? null : await verifyAuditTrail(sql, { fromSeq: Math.min(...seqs), toSeq: Math.max(...seqs) });
                return { ...covering, verification };
              });
        const now = new Date();
        const dir = evidenceDir(io.env, incident?.id ?? null, now);
        const stem = `request-${safeFilename(requestId)}`;
        const stored: StoredFile[] = [];
        if (events.length > 0)
          stored.push(await storeFile(dir, `${stem}.audit-events.json`, Buffer.from(`${JSON.stringify(events, null, 2)}\n`)));
        if (log.lines.length > 0) stored.push(await storeFile(dir, `${stem}.log.jsonl`, Buffer.from(`${log.lines.join('\n')}\n`)));
        if (sealing && sealing.digests.length > 0) {
          // Only what a re-run reproduces (no timings), so capturing the same evidence twice adds nothing.
          const verification = sealing.verification && {
            ok: sealing.verification.ok,
            digests: sealing.verification.digests,
            rows: sealing.verification.rows,
            problems: sealing.verification.problems,
          };
          const digestFile = { digests: sealing.digests, unsealedAuditEventIds: sealing.unsealed, verification };
          stored.push(await storeFile(dir, `${stem}.audit-digests.json`, Buffer.from(`${JSON.stringify(digestFile, null, 2)}\n`)));
        }
        const manifest = await writeManifest(dir, incident?.id ?? null, now);
        const added = stored.filter((file) => file.added);
        await db.prisma.$transaction(async (tx) => {
          if (incident) {
            for (const file of stored) {
              const known = await tx.incidentEvidence.findFirst({
                where: { incidentId: incident.id, storedPath: file.storedPath, sha256: file.sha256 },
              });
              if (known) continue;
              await tx.incidentEvidence.create({
                data: {
                  incidentId: incident.id,
                  filename: file.filename,
                  sha256: file.sha256,
                  size: BigInt(file.size),
                  storedPath: file.storedPath,
                  addedBy: operator,
                },
              });
            }
          }
          await recordAction(
            tx,
            { operator, incidentId: incident?.id ?? null },
            {
              eventType: 'evidence.collected',
              kind: 'evidence.collected',
              message: `Evidence for request ${requestId}: ${events.length} audit event(s), ${log.lines.length} log line(s) → ${dir}`,
              entityType: 'request',
              entityId: requestId,
              data: {
                requestId,
                auditEvents: events.length,
                logLines: log.lines.length,
                digests: sealing?.digests.map((d) => ({ seq: d.seq, hash: d.hash })) ?? [],
                digestsVerified: sealing?.verification?.ok ?? null,
                folder: dir,
                manifest: manifest.path,
                files: stored.map(({ filename, sha256, size }) => ({ filename, sha256, size })),
              },
            },
          );
        });
        return { requestId, folder: dir, manifest: manifest.path, auditEvents: events.length, log, stored, added: added.length, sealing };
      },
      { requireAllRows: true },
    );
    if (result.log.missing) io.err(`warning: log file ${result.log.file} not found; only audit events were captured`);
    if (!result.log.file) io.err('warning: SPADE_LOG_FILE is not set; only audit events were captured');
    emit(
      io,
      options.json,
      {
        requestId: result.requestId,
        folder: result.folder,
        manifest: result.manifest,
        auditEvents: result.auditEvents,
        logLines: result.log.lines.length,
        logFile: result.log.file,
        digests: result.sealing?.digests.map((d) => ({ seq: d.seq, hash: d.hash, sealedAt: d.sealedAt })) ?? [],
        digestsVerified: result.sealing?.verification?.ok ?? null,
        files: result.stored.map(({ filename, storedPath, sha256, size }) => ({ filename, storedPath, sha256, size })),
      },
      () => [
        `request ${result.requestId}: ${result.auditEvents} audit event(s), ${result.log.lines.length} log line(s)`,
        ...result.stored.map((f) => `  ${f.storedPath}  sha256 ${f.sha256}${f.added ? '' : ' (already captured)'}`),
        ...(result.sealing && result.sealing.digests.length > 0
          ? [
              `covered by audit digest(s) ${result.sealing.digests.map((d) => d.seq).join(', ')}: ${result.sealing.verification?.ok ? 'verified' : 'DO NOT VERIFY — run pnpm spade audit verify'}`,
            ]
          : []),
        `manifest: ${result.manifest}`,
      ],
    );
  });
}
