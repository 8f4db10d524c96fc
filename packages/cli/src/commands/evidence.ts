import type { Command } from 'commander';
import { withExamples } from '../command-helpers.ts';
import { CliError, EXIT, type Io } from '../io.ts';
import { type ActionScope, defineOperatorAction } from '../operator-action.ts';
import { collectRequestEvidence } from '../request-evidence.ts';

/** Request ids as the API accepts them (x-request-id) or makes them (uuid). */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

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
    return collectRequestEvidence(db, io.env, {
      requestId,
      logFile: options.logFile ?? io.env.SPADE_LOG_FILE ?? null,
      incidentId: incident?.id ?? null,
      sealedBy: `cli:evidence:${operator()}`,
    });
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
