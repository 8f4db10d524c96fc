import { hashToken, newToken } from '@breezycorp/db';
import type { Command } from 'commander';
import { emit, positiveInt, withExamples, withJson } from '../command-helpers.ts';
import { withUnsafeOwnerDatabase } from '../database.ts';
import { planDecoy } from '../decoy-generator.ts';
import { formatFirmTime } from '../firm-time.ts';
import { CliError, EXIT, type Io } from '../io.ts';
import { defineOperatorAction } from '../operator-action.ts';
import { formatTable } from '../table.ts';

/**
 * Planting writes no audit row about the decoys themselves (a row naming a decoy client would
 * trip it): the record is firm-wide, with the count only.
 */
const plantDecoys = defineOperatorAction({
  name: 'decoys plant',
  description: 'create decoy clients with generated contacts, cycles, requests, items and file rows; assigned to nobody',
  examples: ['pnpm spade decoys plant --count 3'],
  configure: (command) => command.option('--count <n>', 'how many decoy clients', positiveInt, 1),
  eventType: 'decoys.planted',
  kind: 'decoys.planted',
  check: (_args: [], options: { count: number }) => {
    if (options.count > 50) throw new CliError('--count is at most 50', EXIT.usage);
  },
  load: async ({ options }) => {
    const now = new Date();
    return Array.from({ length: options.count }, () => planDecoy(now));
  },
  async run(tx, plans, { operator }) {
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
      await tx.decoyEntity.createMany({ data: entities.map((e) => ({ ...e, clientId, plantedBy: operator() })) });
    }
    // Arm the database-side tripwire (migration 0009 leaves it off until there is a decoy).
    await tx.$executeRaw`ALTER TABLE audit_events ENABLE TRIGGER audit_events_decoy_tripwire`;
  },
  // Firm-wide, without the decoys' ids: an audit row naming a decoy client would trip it.
  record: (plans) => ({ message: `Planted ${plans.length} decoy client(s)`, data: { count: plans.length } }),
  print: ({ target: plans }) => {
    const planted = plans.map((p) => ({
      clientId: p.client.id,
      name: p.client.name,
      contacts: p.contacts.length,
      cycles: p.cycles.length,
      requests: p.requests.length,
      items: p.items.length,
      files: p.files.length,
    }));
    return {
      json: { planted },
      human: () => [
        `planted ${planted.length} decoy client(s); every API instance arms them within a second`,
        formatTable(
          ['CLIENT', 'NAME', 'CONTACTS', 'CYCLES', 'REQUESTS', 'ITEMS', 'FILES'],
          planted.map((p) => [p.clientId, p.name, p.contacts, p.cycles, p.requests, p.items, p.files]),
        ),
      ],
    };
  },
});

/**
 * Decoy tenants (tripwires): clients that look real in every tenant table, assigned to no
 * staff and left out of the firm's lists. Any read, list or write of one opens an incident by
 * itself (docs/detection.md).
 */
export function registerDecoyCommands(program: Command, io: Io) {
  const decoys = withExamples(
    program.command('decoys').description('decoy tenants: tripwires that open an incident when anything touches them'),
    'pnpm spade decoys plant --count 3',
  );

  plantDecoys.attach(decoys, io);

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
