import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { digestsCovering, sealAudit, type UnsafeDatabase, verifyAuditTrail } from '@breezycorp/db/unsafe';
import { evidenceDir, evidenceFileStem, type StoredFile, storeFile, writeManifest } from './evidence-store.ts';
import { CliError, EXIT } from './io.ts';

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
 * Everything the system knows about one request id: its audit events, its API log lines, and
 * the audit digests that cover those rows (sealed now if need be, and verified), written once
 * under $SPADE_DATA_DIR/evidence/<incident or time>/ with a sha256 manifest. Exit 3 if nothing
 * carries the id.
 */
export async function collectRequestEvidence(
  db: UnsafeDatabase,
  env: Record<string, string | undefined>,
  request: { requestId: string; logFile: string | null; incidentId: string | null; sealedBy: string },
) {
  const { requestId, incidentId } = request;
  const events = await db.prisma.auditEvent.findMany({ where: { requestId }, orderBy: { occurredAt: 'asc' } });
  const log = await scanLog(request.logFile, requestId);
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
          await sealAudit(sql, request.sealedBy);
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
  const folder = evidenceDir(env, incidentId, now);
  const stem = `request-${evidenceFileStem(requestId)}`;
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
  const manifest = await writeManifest(folder, incidentId, now);
  return { requestId, auditEvents: events.length, log, sealing, folder, stored, manifest: manifest.path };
}
