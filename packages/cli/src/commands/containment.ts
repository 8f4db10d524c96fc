import type { Command } from 'commander';
import { Option } from 'commander';
import { emit, withContainmentOptions, withExamples, withJson } from '../command-helpers.ts';
import { confirmContainment } from '../confirm.ts';
import { withUnsafeOwnerDatabase } from '../database.ts';
import { formatFirmTime } from '../firm-time.ts';
import { loadIncident } from '../incidents.ts';
import { CliError, EXIT, type Io } from '../io.ts';
import { operatorName, requireUuid } from '../operator.ts';
import { recordAction } from '../record.ts';

export const DEFAULT_REVOKE_REASON = 'tenant_leak_investigation';

interface RevokeOptions {
  allStaff?: boolean;
  staff?: string;
  reason: string;
  incident?: string;
  operator?: string;
  dryRun?: boolean;
  yes?: boolean;
  json?: boolean;
  resetSecondFactor?: boolean;
}

interface ExpireOptions {
  incident?: string;
  operator?: string;
  dryRun?: boolean;
  yes?: boolean;
  json?: boolean;
}

/** The runbook's two containment statements (Immediate actions, step 2), made safe and recorded. */
export function registerContainmentCommands(program: Command, io: Io) {
  const sessions = withExamples(
    program.command('sessions').description('staff sessions (runbook: revoke sessions)'),
    'pnpm spade sessions revoke --all-staff --dry-run',
  );
  withExamples(
    withContainmentOptions(
      withJson(
        sessions
          .command('revoke')
          .description("revoke active staff sessions — the runbook's UPDATE staff_sessions; users must log in again")
          .addOption(new Option('--all-staff', 'every active staff session').conflicts('staff'))
          .option('--staff <id|email>', 'only this staff user’s active sessions')
          .option('--reason <reason>', 'stored in staff_sessions.revoked_reason', DEFAULT_REVOKE_REASON)
          .option('--reset-second-factor', 'with --staff: also remove the user’s TOTP enrolment (a lost or stolen phone)'),
      ),
    ),
    'pnpm spade sessions revoke --all-staff --incident 6f1c2d3e-… --dry-run',
    'pnpm spade sessions revoke --staff staff@spade.test --incident 6f1c2d3e-… --yes',
  ).action(async (options: RevokeOptions) => {
    if (!options.allStaff && !options.staff) throw new CliError('Say whose sessions: --all-staff or --staff <id|email>', EXIT.usage);
    if (options.resetSecondFactor && !options.staff) throw new CliError('--reset-second-factor needs --staff <id|email>', EXIT.usage);
    const reason = options.reason.trim();
    if (!/^[A-Za-z0-9_.:-]{1,100}$/.test(reason))
      throw new CliError('--reason must be a short code, e.g. tenant_leak_investigation', EXIT.usage);
    const operator = operatorName(io, options.operator);
    const result = await withUnsafeOwnerDatabase(
      io,
      async (db) => {
        const incident = options.incident ? await loadIncident(db.prisma, options.incident) : null;
        let staff: { id: string; email: string } | null = null;
        if (options.staff) {
          const key = options.staff.trim();
          staff = key.includes('@')
            ? await db.prisma.staffUser.findFirst({
                where: { email: { equals: key, mode: 'insensitive' } },
                select: { id: true, email: true },
              })
            : await db.prisma.staffUser.findUnique({ where: { id: requireUuid(key, 'staff user id') }, select: { id: true, email: true } });
          if (!staff) throw new CliError(`No staff user ${key}`, EXIT.notFound);
        }
        const staffId = staff?.id ?? null;
        const [before] = await db.withSql((sql) =>
          sql.query<{ sessions: number; users: number }>(
            `SELECT count(*)::int AS sessions, count(DISTINCT staff_user_id)::int AS users
             FROM staff_sessions WHERE revoked_at IS NULL AND ($1::uuid IS NULL OR staff_user_id = $1::uuid)`,
            [staffId],
          ),
        );
        const target = staff ? `staff user ${staff.email}` : 'all staff';
        const summary = `revoke ${before!.sessions} active staff session(s) of ${before!.users} user(s) (${target}), reason ${reason}`;
        if (options.dryRun) return { dryRun: true, target, wouldRevoke: before!.sessions, users: before!.users, revoked: 0 };
        if (before!.sessions > 0 || options.resetSecondFactor) {
          await confirmContainment(
            io,
            options,
            options.resetSecondFactor ? `${summary}, and remove their second-factor enrolment` : summary,
          );
        }
        const resetSecondFactor = options.resetSecondFactor === true && staffId !== null;
        const revoked = await db.prisma.$transaction(async (tx) => {
          // The runbook's statement; the optional staff filter narrows it to one user.
          const count =
            staffId === null
              ? await tx.$executeRaw`UPDATE staff_sessions
                  SET revoked_at = NOW(), revoked_reason = ${reason}
                  WHERE revoked_at IS NULL`
              : await tx.$executeRaw`UPDATE staff_sessions
                  SET revoked_at = NOW(), revoked_reason = ${reason}
                  WHERE revoked_at IS NULL AND staff_user_id = ${staffId}::uuid`;
          const secondFactorReset = resetSecondFactor
            ? (await tx.$executeRaw`UPDATE staff_users
                  SET totp_secret = NULL, totp_pending_secret = NULL, totp_enabled_at = NULL, totp_last_time_step = NULL,
                      recovery_code_hashes = '{}'
                  WHERE id = ${staffId}::uuid AND (totp_secret IS NOT NULL OR totp_pending_secret IS NOT NULL)`) > 0
            : false;
          await recordAction(
            tx,
            { operator, incidentId: incident?.id ?? null },
            {
              eventType: 'sessions.revoked',
              kind: 'containment.sessions_revoked',
              message: `Revoked ${count} active staff session(s) (${target}), reason ${reason}`,
              entityType: staff ? 'staff_user' : null,
              entityId: staff?.id ?? null,
              data: {
                changed: count,
                reason,
                staffUserId: staffId,
                allStaff: staffId === null,
                ...(resetSecondFactor && { secondFactorReset }),
              },
            },
          );
          return { count, secondFactorReset };
        });
        return {
          dryRun: false,
          target,
          wouldRevoke: before!.sessions,
          users: before!.users,
          revoked: revoked.count,
          ...(resetSecondFactor && { secondFactorReset: revoked.secondFactorReset }),
        };
      },
      { requireAllRows: true },
    );
    emit(io, options.json, result, () =>
      result.dryRun
        ? `dry run: would revoke ${result.wouldRevoke} active staff session(s) of ${result.users} user(s) (${result.target}); nothing changed`
        : result.revoked > 0
          ? `revoked ${result.revoked} staff session(s) (${result.target}); they are refused from the API's next request${'secondFactorReset' in result && result.secondFactorReset ? '; second-factor enrolment removed' : ''}`
          : `revoked 0 staff sessions (${result.target}): none was active${'secondFactorReset' in result && result.secondFactorReset ? '; second-factor enrolment removed' : ''}`,
    );
  });

  const requests = withExamples(
    program.command('requests').description('client magic-link requests (runbook: expire the suspected request)'),
    'pnpm spade requests expire <request-id> --dry-run',
  );
  withExamples(
    withContainmentOptions(
      withJson(
        requests
          .command('expire')
          .description(
            "expire a magic-link request now — the runbook's UPDATE cycle_requests SET expires_at = NOW(); its link and contact sessions stop working",
          )
          .argument('<request-id>', 'the cycle request (magic-link request) id'),
      ),
    ),
    'pnpm spade requests expire 2b7e1a90-… --incident 6f1c2d3e-… --yes',
  ).action(async (requestId: string, options: ExpireOptions) => {
    const id = requireUuid(requestId, 'request id');
    const operator = operatorName(io, options.operator);
    const result = await withUnsafeOwnerDatabase(
      io,
      async (db) => {
        const incident = options.incident ? await loadIncident(db.prisma, options.incident) : null;
        const [request] = await db.withSql((sql) =>
          sql.query<{ id: string; client_id: string; expires_at: Date; expired: boolean }>(
            'SELECT id, client_id, expires_at, expires_at <= NOW() AS expired FROM cycle_requests WHERE id = $1::uuid',
            [id],
          ),
        );
        if (!request) throw new CliError(`No cycle request ${id}`, EXIT.notFound);
        const wouldExpire = request.expired ? 0 : 1;
        const base = { requestId: id, clientId: request.client_id, previousExpiresAt: request.expires_at };
        if (options.dryRun) return { ...base, dryRun: true, wouldExpire, expired: 0 };
        if (wouldExpire > 0)
          await confirmContainment(io, options, `expire cycle request ${id} (1 row; it expires ${formatFirmTime(request.expires_at)})`);
        const expired = await db.prisma.$transaction(async (tx) => {
          // The runbook's statement. `expires_at > NOW()` keeps a re-run from moving an
          // expiry that already passed: the first expiry is the evidence.
          const count = await tx.$executeRaw`UPDATE cycle_requests
            SET expires_at = NOW()
            WHERE id = ${id}::uuid AND expires_at > NOW()`;
          await recordAction(
            tx,
            { operator, incidentId: incident?.id ?? null },
            {
              eventType: 'request.expired',
              kind: 'containment.request_expired',
              message: count > 0 ? `Expired cycle request ${id}` : `Cycle request ${id} was already expired; nothing changed`,
              clientId: request.client_id,
              entityType: 'cycle_request',
              entityId: id,
              data: { changed: count, previousExpiresAt: request.expires_at.toISOString() },
            },
          );
          return count;
        });
        return { ...base, dryRun: false, wouldExpire, expired };
      },
      { requireAllRows: true },
    );
    emit(io, options.json, result, () =>
      result.dryRun
        ? `dry run: would expire ${result.wouldExpire} request(s)${result.wouldExpire === 0 ? ' (already expired)' : ''}; nothing changed`
        : result.expired > 0
          ? `expired ${result.expired} request(s): ${result.requestId}; its magic link and contact sessions are refused from the API's next request`
          : `expired 0 requests: ${result.requestId} was already expired`,
    );
  });
}
