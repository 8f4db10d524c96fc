import type { UnsafeDatabase } from '@breezycorp/db/unsafe';
import type { Command } from 'commander';
import { emit, withExamples, withJson } from '../command-helpers.ts';
import { withUnsafeOwnerDatabase } from '../database.ts';
import { formatFirmTime } from '../firm-time.ts';
import { CliError, EXIT, type Io } from '../io.ts';
import { requireUuid } from '../operator.ts';
import { type ActionScope, defineOperatorAction } from '../operator-action.ts';
import { formatTable } from '../table.ts';

const DEFAULT_FREEZE_REASON = 'tenant leak containment';

/**
 * Freeze one client: every client-scoped route for it answers 503 to everyone but admins (on
 * every API instance within a second); its contacts' sessions are revoked and its open links
 * expired. Recorded with the counts.
 */
const freezeTenant = defineOperatorAction({
  name: 'tenants freeze',
  description:
    'freeze a client: its client-scoped routes answer 503 to all but admins (every instance, within a second); revokes its contact sessions and expires its open links',
  examples: ['pnpm spade tenants freeze 00000000-0000-4000-8000-00000000a001 --incident 6f1c2d3e-… --yes'],
  configure: (command) =>
    command.argument('<client>', 'the client id (or its UEN)').option('--reason <text>', 'why, for the record', DEFAULT_FREEZE_REASON),
  eventType: 'tenant.frozen',
  kind: 'containment.tenant_frozen',
  async load({ db, args: [client] }: ActionScope<[string], { reason: string }>) {
    const target = await findClient(db, client);
    const now = new Date();
    const [active, sessions, links] = await Promise.all([
      db.prisma.tenantFreeze.findFirst({ where: { clientId: target.id, thawedAt: null } }),
      db.prisma.contactSession.count({ where: { clientId: target.id, revokedAt: null, expiresAt: { gt: now } } }),
      db.prisma.cycleRequest.count({ where: { clientId: target.id, status: 'open', expiresAt: { gt: now } } }),
    ]);
    return { ...target, alreadyFrozen: active !== null, sessions, links };
  },
  containment: {
    summary: (t) =>
      `freeze ${t.name} (${t.id})${t.alreadyFrozen ? ' (already frozen)' : ''}: revoke ${t.sessions} contact session(s), expire ${t.links} open link(s)`,
    dryRun: (t) => ({
      json: { ...base(t), dryRun: true, frozen: 0, sessionsRevoked: 0, linksExpired: 0, wouldRevoke: t.sessions, wouldExpire: t.links },
      human: () =>
        `dry run: would freeze ${t.name}${t.alreadyFrozen ? ' (already frozen)' : ''}, revoke ${t.sessions} contact session(s), expire ${t.links} open link(s); nothing changed`,
    }),
  },
  async run(tx, t, { incident, options, operator }) {
    const reason = options.reason ?? DEFAULT_FREEZE_REASON;
    const frozen = t.alreadyFrozen
      ? 0
      : await tx.$executeRaw`INSERT INTO tenant_freezes (frozen_client_id, incident_id, reason, created_by)
          VALUES (${t.id}::uuid, ${incident?.id ?? null}::uuid, ${reason}, ${operator()})
          ON CONFLICT (frozen_client_id) WHERE thawed_at IS NULL DO NOTHING`;
    const sessionsRevoked = await tx.$executeRaw`UPDATE contact_sessions SET revoked_at = NOW()
      WHERE client_id = ${t.id}::uuid AND revoked_at IS NULL AND expires_at > NOW()`;
    // The runbook's expiry, for every open link of the client at once.
    const linksExpired = await tx.$executeRaw`UPDATE cycle_requests SET expires_at = NOW()
      WHERE client_id = ${t.id}::uuid AND status = 'open' AND expires_at > NOW()`;
    return { frozen, sessionsRevoked, linksExpired };
  },
  record: (t, r, { options }) => ({
    message: `Froze ${t.name} (${t.id})${r.frozen === 0 ? ' — it was already frozen' : ''}: revoked ${r.sessionsRevoked} contact session(s), expired ${r.linksExpired} open link(s)`,
    clientId: t.id,
    entityType: 'client',
    entityId: t.id,
    data: { ...r, reason: options.reason ?? null },
  }),
  print: ({ target: t, receipt: r }) => ({
    json: { ...base(t), dryRun: false, ...r, wouldRevoke: t.sessions, wouldExpire: t.links },
    human: () =>
      `froze ${t.name} (${t.id})${r.frozen === 0 ? ' (it was already frozen)' : ''}: revoked ${r.sessionsRevoked} contact session(s), expired ${r.linksExpired} open link(s); every API instance answers 503 for it within a second`,
  }),
});

/** Lift a freeze: the client is served again (links it expired stay expired). */
const thawTenant = defineOperatorAction({
  name: 'tenants thaw',
  description: 'lift a freeze: the client is served again (expired links stay expired: send new ones)',
  examples: ['pnpm spade tenants thaw 00000000-0000-4000-8000-00000000a001 --incident 6f1c2d3e-… --yes'],
  configure: (command) => command.argument('<client>', 'the client id (or its UEN)'),
  eventType: 'tenant.thawed',
  kind: 'containment.tenant_thawed',
  async load({ db, args: [client] }: ActionScope<[string], object>) {
    const target = await findClient(db, client);
    const active = await db.prisma.tenantFreeze.findFirst({ where: { clientId: target.id, thawedAt: null } });
    return { ...target, frozenSince: active?.createdAt ?? null };
  },
  containment: {
    summary: (t) => (t.frozenSince ? `thaw ${t.name} (${t.id}), frozen since ${formatFirmTime(t.frozenSince)}` : null),
    dryRun: (t) => ({
      json: { clientId: t.id, clientName: t.name, frozenSince: t.frozenSince, dryRun: true, thawed: 0, wouldThaw: t.frozenSince ? 1 : 0 },
      human: () => `dry run: would thaw ${t.frozenSince ? 1 : 0} freeze(s) of ${t.name}; nothing changed`,
    }),
  },
  run: (tx, t, { operator }) => tx.$executeRaw`UPDATE tenant_freezes SET thawed_at = NOW(), thawed_by = ${operator()}
    WHERE frozen_client_id = ${t.id}::uuid AND thawed_at IS NULL`,
  record: (t, thawed) => ({
    message: thawed > 0 ? `Thawed ${t.name} (${t.id})` : `${t.name} was not frozen; nothing changed`,
    clientId: t.id,
    entityType: 'client',
    entityId: t.id,
    data: { thawed },
  }),
  print: ({ target: t, receipt: thawed }) => ({
    json: { clientId: t.id, clientName: t.name, frozenSince: t.frozenSince, dryRun: false, thawed, wouldThaw: t.frozenSince ? 1 : 0 },
    human: () =>
      thawed > 0
        ? `thawed ${t.name} (${t.id}); served again on every instance within a second`
        : `${t.name} was not frozen; nothing changed`,
  }),
});

/** Per-tenant containment: freeze one client, thaw it, list the frozen ones. */
export function registerTenantCommands(program: Command, io: Io) {
  const tenants = withExamples(
    program.command('tenants').description('per-tenant containment: freeze one client, thaw it, list frozen clients'),
    'pnpm spade tenants freeze <client-id> --incident <id> --dry-run',
  );
  freezeTenant.attach(tenants, io);
  thawTenant.attach(tenants, io);

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

function base(t: { id: string; name: string; alreadyFrozen: boolean }) {
  return { clientId: t.id, clientName: t.name, alreadyFrozen: t.alreadyFrozen };
}

async function findClient(db: Pick<UnsafeDatabase, 'prisma'>, key: string): Promise<{ id: string; name: string }> {
  const trimmed = key.trim();
  const where = /^[0-9a-f-]{36}$/i.test(trimmed) ? { id: requireUuid(trimmed, 'client id') } : { uen: trimmed.toUpperCase() };
  const found = await db.prisma.client.findFirst({ where, select: { id: true, name: true } });
  if (!found) throw new CliError(`No client ${trimmed}`, EXIT.notFound);
  return found;
}
