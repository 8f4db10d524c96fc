import type { Command } from 'commander';
import { emit, withContainmentOptions, withExamples, withJson } from '../command-helpers.ts';
import { confirmContainment } from '../confirm.ts';
import { withUnsafeOwnerDatabase } from '../database.ts';
import { formatFirmTime } from '../firm-time.ts';
import { loadIncident } from '../incidents.ts';
import { CliError, EXIT, type Io } from '../io.ts';
import { operatorName, requireUuid } from '../operator.ts';
import { recordAction } from '../record.ts';
import { formatTable } from '../table.ts';

interface FreezeOptions {
  incident?: string;
  reason?: string;
  operator?: string;
  dryRun?: boolean;
  yes?: boolean;
  json?: boolean;
}

/**
 * Per-tenant containment: freeze one client (every client-scoped route for it answers 503 to
 * everyone but admins, on every API instance within a second), revoke its contacts' sessions
 * and expire its open links; thaw undoes the freeze. Both recorded with counts.
 */
export function registerTenantCommands(program: Command, io: Io) {
  const tenants = withExamples(
    program.command('tenants').description('per-tenant containment: freeze one client, thaw it, list frozen clients'),
    'pnpm spade tenants freeze <client-id> --incident <id> --dry-run',
  );

  withExamples(
    withContainmentOptions(
      withJson(
        tenants
          .command('freeze')
          .description(
            'freeze a client: its client-scoped routes answer 503 to all but admins (every instance, within a second); revokes its contact sessions and expires its open links',
          )
          .argument('<client>', 'the client id (or its UEN)')
          .option('--reason <text>', 'why, for the record', 'tenant leak containment'),
      ),
    ),
    'pnpm spade tenants freeze 00000000-0000-4000-8000-00000000a001 --incident 6f1c2d3e-… --yes',
  ).action(async (client: string, options: FreezeOptions) => {
    const operator = operatorName(io, options.operator);
    const result = await withUnsafeOwnerDatabase(
      io,
      async (db) => {
        const incident = options.incident ? await loadIncident(db.prisma, options.incident) : null;
        const target = await findClient(db.prisma, client);
        const now = new Date();
        const [active, sessions, links] = await Promise.all([
          db.prisma.tenantFreeze.findFirst({ where: { clientId: target.id, thawedAt: null } }),
          db.prisma.contactSession.count({ where: { clientId: target.id, revokedAt: null, expiresAt: { gt: now } } }),
          db.prisma.cycleRequest.count({ where: { clientId: target.id, status: 'open', expiresAt: { gt: now } } }),
        ]);
        const base = { clientId: target.id, clientName: target.name, alreadyFrozen: active !== null };
        if (options.dryRun)
          return { ...base, dryRun: true, frozen: 0, sessionsRevoked: 0, linksExpired: 0, wouldRevoke: sessions, wouldExpire: links };
        await confirmContainment(
          io,
          options,
          `freeze ${target.name} (${target.id})${active ? ' (already frozen)' : ''}: revoke ${sessions} contact session(s), expire ${links} open link(s)`,
        );
        const counts = await db.prisma.$transaction(async (tx) => {
          const frozen = active
            ? 0
            : await tx.$executeRaw`INSERT INTO tenant_freezes (frozen_client_id, incident_id, reason, created_by)
                VALUES (${target.id}::uuid, ${incident?.id ?? null}::uuid, ${options.reason ?? 'tenant leak containment'}, ${operator})
                ON CONFLICT (frozen_client_id) WHERE thawed_at IS NULL DO NOTHING`;
          const sessionsRevoked = await tx.$executeRaw`UPDATE contact_sessions SET revoked_at = NOW()
            WHERE client_id = ${target.id}::uuid AND revoked_at IS NULL AND expires_at > NOW()`;
          // The runbook's expiry, for every open link of the client at once.
          const linksExpired = await tx.$executeRaw`UPDATE cycle_requests SET expires_at = NOW()
            WHERE client_id = ${target.id}::uuid AND status = 'open' AND expires_at > NOW()`;
          await recordAction(
            tx,
            { operator, incidentId: incident?.id ?? null },
            {
              eventType: 'tenant.frozen',
              kind: 'containment.tenant_frozen',
              message: `Froze ${target.name} (${target.id})${frozen === 0 ? ' — it was already frozen' : ''}: revoked ${sessionsRevoked} contact session(s), expired ${linksExpired} open link(s)`,
              clientId: target.id,
              entityType: 'client',
              entityId: target.id,
              data: { frozen, sessionsRevoked, linksExpired, reason: options.reason ?? null },
            },
          );
          return { frozen, sessionsRevoked, linksExpired };
        });
        return { ...base, dryRun: false, ...counts, wouldRevoke: sessions, wouldExpire: links };
      },
      { requireAllRows: true },
    );
    emit(io, options.json, result, () =>
      result.dryRun
        ? `dry run: would freeze ${result.clientName}${result.alreadyFrozen ? ' (already frozen)' : ''}, revoke ${result.wouldRevoke} contact session(s), expire ${result.wouldExpire} open link(s); nothing changed`
        : `froze ${result.clientName} (${result.clientId})${result.frozen === 0 ? ' (it was already frozen)' : ''}: revoked ${result.sessionsRevoked} contact session(s), expired ${result.linksExpired} open link(s); every API instance answers 503 for it within a second`,
    );
  });

  withExamples(
    withContainmentOptions(
      withJson(
        tenants
          .command('thaw')
          .description('lift a freeze: the client is served again (expired links stay expired: send new ones)')
          .argument('<client>', 'the client id (or its UEN)'),
      ),
    ),
    'pnpm spade tenants thaw 00000000-0000-4000-8000-00000000a001 --incident 6f1c2d3e-… --yes',
  ).action(async (client: string, options: FreezeOptions) => {
    const operator = operatorName(io, options.operator);
    const result = await withUnsafeOwnerDatabase(
      io,
      async (db) => {
        const incident = options.incident ? await loadIncident(db.prisma, options.incident) : null;
        const target = await findClient(db.prisma, client);
        const active = await db.prisma.tenantFreeze.findFirst({ where: { clientId: target.id, thawedAt: null } });
        const base = { clientId: target.id, clientName: target.name, frozenSince: active?.createdAt ?? null };
        if (options.dryRun) return { ...base, dryRun: true, thawed: 0, wouldThaw: active ? 1 : 0 };
        if (active)
          await confirmContainment(io, options, `thaw ${target.name} (${target.id}), frozen since ${formatFirmTime(active.createdAt)}`);
        const thawed = await db.prisma.$transaction(async (tx) => {
          const count = await tx.$executeRaw`UPDATE tenant_freezes SET thawed_at = NOW(), thawed_by = ${operator}
            WHERE frozen_client_id = ${target.id}::uuid AND thawed_at IS NULL`;
          await recordAction(
            tx,
            { operator, incidentId: incident?.id ?? null },
            {
              eventType: 'tenant.thawed',
              kind: 'containment.tenant_thawed',
              message: count > 0 ? `Thawed ${target.name} (${target.id})` : `${target.name} was not frozen; nothing changed`,
              clientId: target.id,
              entityType: 'client',
              entityId: target.id,
              data: { thawed: count },
            },
          );
          return count;
        });
        return { ...base, dryRun: false, thawed, wouldThaw: active ? 1 : 0 };
      },
      { requireAllRows: true },
    );
    emit(io, options.json, result, () =>
      result.dryRun
        ? `dry run: would thaw ${result.wouldThaw} freeze(s) of ${result.clientName}; nothing changed`
        : result.thawed > 0
          ? `thawed ${result.clientName} (${result.clientId}); served again on every instance within a second`
          : `${result.clientName} was not frozen; nothing changed`,
    );
  });

  withExamples(withJson(tenants.command('frozen').description('clients frozen now')), 'pnpm spade tenants frozen').action(
    async (options: { json?: boolean }) => {
      const rows = await withUnsafeOwnerDatabase(io, (db) =>
        db.prisma.tenantFreeze.findMany({ where: { thawedAt: null }, orderBy: { createdAt: 'asc' } }),
      );
      emit(io, options.json, rows, () =>
        rows.length === 0
          ? 'no client is frozen'
          : formatTable(
              ['CLIENT', 'SINCE (SGT)', 'BY', 'INCIDENT', 'REASON'],
              rows.map((r) => [r.clientId, formatFirmTime(r.createdAt), r.createdBy, r.incidentId, r.reason]),
            ),
      );
    },
  );
}

async function findClient(
  prisma: { client: { findFirst(args: object): Promise<{ id: string; name: string } | null> } },
  key: string,
): Promise<{ id: string; name: string }> {
  const trimmed = key.trim();
  const where = /^[0-9a-f-]{36}$/i.test(trimmed) ? { id: requireUuid(trimmed, 'client id') } : { uen: trimmed.toUpperCase() };
  const found = await prisma.client.findFirst({ where, select: { id: true, name: true } });
  if (!found) throw new CliError(`No client ${trimmed}`, EXIT.notFound);
  return found;
}
