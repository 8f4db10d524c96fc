import { hashToken, newToken } from '@breezycorp/db';
import type { Command } from 'commander';
import { emit, positiveInt, withActionOptions, withExamples, withJson } from '../command-helpers.ts';
import { withUnsafeOwnerDatabase } from '../database.ts';
import { planDecoy } from '../decoy-generator.ts';
import { formatFirmTime } from '../firm-time.ts';
import { loadIncident } from '../incidents.ts';
import { CliError, EXIT, type Io } from '../io.ts';
import { operatorName } from '../operator.ts';
import { recordAction } from '../record.ts';
import { formatTable } from '../table.ts';

/**
 * Decoy tenants (tripwires): clients that look real in every tenant table, assigned to no
 * staff and left out of the firm's lists. Any read, list or write of one opens an incident by
 * itself (docs/detection.md). Planting writes no audit row about the decoy: that would trip it.
 */
export function registerDecoyCommands(program: Command, io: Io) {
  const decoys = withExamples(
    program.command('decoys').description('decoy tenants: tripwires that open an incident when anything touches them'),
    'pnpm spade decoys plant --count 3',
  );

  withExamples(
    withActionOptions(
      withJson(
        decoys
          .command('plant')
          .description('create decoy clients with generated contacts, cycles, requests, items and file rows; assigned to nobody')
          .option('--count <n>', 'how many decoy clients', positiveInt, 1),
      ),
    ),
    'pnpm spade decoys plant --count 3',
  ).action(async (options: { count: number; json?: boolean; incident?: string; operator?: string }) => {
    if (options.count > 50) throw new CliError('--count is at most 50', EXIT.usage);
    const operator = operatorName(io, options.operator);
    const planted = await withUnsafeOwnerDatabase(
      io,
      async (db) => {
        const incident = options.incident ? await loadIncident(db.prisma, options.incident) : null;
        const now = new Date();
        const plans = Array.from({ length: options.count }, () => planDecoy(now));
        await db.prisma.$transaction(async (tx) => {
          for (const plan of plans) {
            const clientId = plan.client.id;
            await tx.client.create({ data: { ...plan.client, isDecoy: true } });
            await tx.contact.createMany({ data: plan.contacts.map((c) => ({ ...c, clientId })) });
            await tx.cycle.createMany({ data: plan.cycles.map((c) => ({ ...c, clientId, status: 'in_progress' })) });
            await tx.cycleRequest.createMany({
              data: plan.requests.map((r) => ({ ...r, clientId, tokenHash: hashToken(newToken('magicLink')) })),
            });
            await tx.requestItem.createMany({
              data: plan.items.map(({ requestId, ...item }) => ({ ...item, clientId, cycleRequestId: requestId })),
            });
            await tx.file.createMany({
              data: plan.files.map(({ itemId, contactId, ...file }) => ({
                ...file,
                clientId,
                requestItemId: itemId,
                size: BigInt(file.size),
                storageKey: `clients/${clientId}/${file.id}`,
                uploadedByType: 'contact',
                uploadedById: contactId,
              })),
            });
            const entities = [
              { entityId: clientId, entityType: 'client' },
              ...plan.contacts.map((c) => ({ entityId: c.id, entityType: 'contact' })),
              ...plan.cycles.map((c) => ({ entityId: c.id, entityType: 'cycle' })),
              ...plan.requests.map((r) => ({ entityId: r.id, entityType: 'cycle_request' })),
              ...plan.items.map((i) => ({ entityId: i.id, entityType: 'request_item' })),
              ...plan.files.map((f) => ({ entityId: f.id, entityType: 'file' })),
            ];
            await tx.decoyEntity.createMany({ data: entities.map((e) => ({ ...e, clientId, plantedBy: operator })) });
          }
          // Firm-wide, without the decoys' ids: an audit row naming a decoy client would trip it.
          await recordAction(
            tx,
            { operator, incidentId: incident?.id ?? null },
            {
              eventType: 'decoys.planted',
              kind: 'decoys.planted',
              message: `Planted ${plans.length} decoy client(s)`,
              data: { count: plans.length },
            },
          );
        });
        return plans.map((p) => ({
          clientId: p.client.id,
          name: p.client.name,
          contacts: p.contacts.length,
          cycles: p.cycles.length,
          requests: p.requests.length,
          items: p.items.length,
          files: p.files.length,
        }));
      },
      { requireAllRows: true },
    );
    emit(io, options.json, { planted }, () => [
      `planted ${planted.length} decoy client(s); every API instance arms them within a second`,
      formatTable(
        ['CLIENT', 'NAME', 'CONTACTS', 'CYCLES', 'REQUESTS', 'ITEMS', 'FILES'],
        planted.map((p) => [p.clientId, p.name, p.contacts, p.cycles, p.requests, p.items, p.files]),
      ),
    ]);
  });

  withExamples(
    withJson(decoys.command('list').description('the decoy clients and how many ids each arms')),
    'pnpm spade decoys list',
  ).action(async (options: { json?: boolean }) => {
    const rows = await withUnsafeOwnerDatabase(io, (db) =>
      db.withSql((sql) =>
        sql.query<{ client_id: string; name: string; ids: number; planted_at: Date }>(
          `SELECT d.decoy_client_id AS client_id, c.name, count(*)::int AS ids, min(d.planted_at) AS planted_at
             FROM decoy_entities d JOIN clients c ON c.id = d.decoy_client_id GROUP BY 1, 2 ORDER BY 4`,
        ),
      ),
    );
    emit(io, options.json, rows, () =>
      rows.length === 0
        ? 'no decoys planted'
        : formatTable(
            ['CLIENT', 'NAME', 'IDS', 'PLANTED (SGT)'],
            rows.map((r) => [r.client_id, r.name, r.ids, formatFirmTime(r.planted_at)]),
          ),
    );
  });
}
