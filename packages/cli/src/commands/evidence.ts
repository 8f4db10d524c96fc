import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { digestsCovering, sealAudit, verifyAuditTrail } from '@breezycorp/db';
import type { Command } from 'commander';
import { withExamples } from '../command-helpers.ts';
import { evidenceDir, type StoredFile, safeFilename, storeFile, writeManifest } from '../evidence-store.ts';
import { CliError, EXIT, type Io } from '../io.ts';
import { type ActionScope, defineOperatorAction } from '../operator-action.ts';

/** Request ids as the API accepts them (x-request-id) or makes them (uuid). */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

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

/**
 * The runbook's "preserve evidence": every audit event and API log line of one request id,
 * with the audit digests that cover them (sealed now if need be, and verified), written once
 * under $SPADE_DATA_DIR/evidence with a sha256 manifest and attached to the incident.
 */
const captureRequestEvidence = defineOperatorAction({
  name: 'evidence request',
  description:
    'bundle every audit event and API log line (SPADE_LOG_FILE) of one request id into $SPADE_DATA_DIR/evidence/<incident>/ with a sha256 manifest, attached to the incident',
  examples: ['pnpm spade evidence request 0c4c2f7e-9d7a-4a51-b1f5-4b7d2f3c9e10 --incident 6f1c2d3e-…'],
  configure: (command) =>
    command
      .argument('<request-id>', 'the x-request-id from the response or the reporter’s evidence')
      .option('--log-file <path>', 'the API’s JSON log (default: $SPADE_LOG_FILE)'),
  eventType: 'evidence.collected',
  kind: 'evidence.collected',
  check: ([requestId]: [string], _options: { logFile?: string }) => {
    if (!REQUEST_ID.test(requestId)) throw new CliError(`"${requestId}" is not a request id`, EXIT.usage);
  },
  async load({ io, db, args: [requestId], options, incident, operator }: ActionScope<[string], { logFile?: string }>) {
    const events = await db.prisma.auditEvent.findMany({ where: { requestId }, orderBy: { occurredAt: 'asc' } });
    const log = await scanLog(options.logFile ?? io.env.SPADE_LOG_FILE ?? null, requestId);
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
            await sealAudit(sql, `cli:evidence:${operator()}`);
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
    const folder = evidenceDir(io.env, incident?.id ?? null, now);
    const stem = `request-${safeFilename(requestId)}`;
    const stored: StoredFile[] = [];
    if (events.length > 0)
      stored.push(await storeFile(folder, `${stem}.audit-events.json`, Buffer.from(`${JSON.stringify(events, null, 2)}\n`)));
    if (log.lines.length > 0) stored.push(await storeFile(folder, `${stem}.log.jsonl`, Buffer.from(`${log.lines.join('\n')}\n`)));
    if (sealing && sealing.digests.length > 0) {
      // Only what a re-run reproduces (no timings), so capturing the same evidence twice adds nothing.
      const verification = sealing.verification && {
        ok: sealing.verification.ok,
        digests: sealing.verification.digests,
        rows: sealing.verification.rows,
        problems: sealing.verification.problems,
      };
      const digestFile = { digests: sealing.digests, unsealedAuditEventIds: sealing.unsealed, verification };
      stored.push(await storeFile(folder, `${stem}.audit-digests.json`, Buffer.from(`${JSON.stringify(digestFile, null, 2)}\n`)));
    }
    const manifest = await writeManifest(folder, incident?.id ?? null, now);
    return { requestId, auditEvents: events.length, log, sealing, folder, stored, manifest: manifest.path };
  },
  async run(tx, t, { incident, operator }) {
    if (!incident) return;
    for (const file of t.stored) {
      const known = await tx.incidentEvidence.findFirst({
        where: { incidentId: incident.id, storedPath: file.storedPath, sha256: file.sha256 },
      });
      if (known) continue;
      const { filename, sha256, size, storedPath } = file;
      await tx.incidentEvidence.create({
        data: { incidentId: incident.id, filename, sha256, size: BigInt(size), storedPath, addedBy: operator() },
      });
    }
  },
  record: (t) => ({
    message: `Evidence for request ${t.requestId}: ${t.auditEvents} audit event(s), ${t.log.lines.length} log line(s) → ${t.folder}`,
    entityType: 'request',
    entityId: t.requestId,
    data: {
      requestId: t.requestId,
      auditEvents: t.auditEvents,
      logLines: t.log.lines.length,
      digests: t.sealing?.digests.map((d) => ({ seq: d.seq, hash: d.hash })) ?? [],
      digestsVerified: t.sealing?.verification?.ok ?? null,
      folder: t.folder,
      manifest: t.manifest,
      files: t.stored.map(({ filename, sha256, size }) => ({ filename, sha256, size })),
    },
  }),
  print: ({ target: t }) => ({
    warnings: [
      t.log.missing && `warning: log file ${t.log.file} not found; only audit events were captured`,
      !t.log.file && 'warning: SPADE_LOG_FILE is not set; only audit events were captured',
    ],
    json: {
      requestId: t.requestId,
      folder: t.folder,
      manifest: t.manifest,
      auditEvents: t.auditEvents,
      logLines: t.log.lines.length,
      logFile: t.log.file,
      digests: t.sealing?.digests.map((d) => ({ seq: d.seq, hash: d.hash, sealedAt: d.sealedAt })) ?? [],
      digestsVerified: t.sealing?.verification?.ok ?? null,
      files: t.stored.map(({ filename, storedPath, sha256, size }) => ({ filename, storedPath, sha256, size })),
    },
    human: () => [
      `request ${t.requestId}: ${t.auditEvents} audit event(s), ${t.log.lines.length} log line(s)`,
      ...t.stored.map((f) => `  ${f.storedPath}  sha256 ${f.sha256}${f.added ? '' : ' (already captured)'}`),
      ...(t.sealing && t.sealing.digests.length > 0
        ? [
            `covered by audit digest(s) ${t.sealing.digests.map((d) => d.seq).join(', ')}: ${t.sealing.verification?.ok ? 'verified' : 'DO NOT VERIFY — run pnpm spade audit verify'}`,
          ]
        : []),
      `manifest: ${t.manifest}`,
    ],
  }),
});

export function registerEvidenceCommands(program: Command, io: Io) {
  const evidence = withExamples(
    program.command('evidence').description('capture evidence into a hashed bundle (runbook: preserve evidence)'),
    'pnpm spade evidence request <x-request-id> --incident <id>',
  );
  captureRequestEvidence.attach(evidence, io);
}
