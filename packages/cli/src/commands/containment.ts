import type { Command } from 'commander';
import { Option } from 'commander';
import { withExamples } from '../command-helpers.ts';
import { formatFirmTime } from '../firm-time.ts';
import { CliError, EXIT, type Io } from '../io.ts';
import { requireUuid } from '../operator.ts';
import { defineOperatorAction } from '../operator-action.ts';

const DEFAULT_REVOKE_REASON = 'tenant_leak_investigation';

const REASON_CODE = /^[A-Za-z0-9_.:-]{1,100}$/;

interface RevokeOptions {
  allStaff?: boolean;
  staff?: string;
  reason: string;
  resetSecondFactor?: boolean;
}

/** The runbook's containment statement: UPDATE staff_sessions (Immediate actions, step 2). */
const revokeSessions = defineOperatorAction({
  name: 'sessions revoke',
  description: "revoke active staff sessions — the runbook's UPDATE staff_sessions; users must log in again",
  examples: [
    'pnpm spade sessions revoke --all-staff --incident 6f1c2d3e-… --dry-run',
    'pnpm spade sessions revoke --staff staff@spade.test --incident 6f1c2d3e-… --yes',
  ],
  configure: (command) =>
    command
      .addOption(new Option('--all-staff', 'every active staff session').conflicts('staff'))
      .option('--staff <id|email>', 'only this staff user’s active sessions')
      .option('--reason <reason>', 'stored in staff_sessions.revoked_reason', DEFAULT_REVOKE_REASON)
      .option('--reset-second-factor', 'with --staff: also remove the user’s TOTP enrolment (a lost or stolen phone)'),
  eventType: 'sessions.revoked',
  kind: 'containment.sessions_revoked',
  check: (_args: [], options: RevokeOptions) => {
    if (!options.allStaff && !options.staff) throw new CliError('Say whose sessions: --all-staff or --staff <id|email>', EXIT.usage);
    if (options.resetSecondFactor && !options.staff) throw new CliError('--reset-second-factor needs --staff <id|email>', EXIT.usage);
    if (!REASON_CODE.test(options.reason.trim()))
      throw new CliError('--reason must be a short code, e.g. tenant_leak_investigation', EXIT.usage);
  },
  async load({ db, options }) {
    let staff: { id: string; email: string } | null = null;
    if (options.staff) {
      const key = options.staff.trim();
      const select = { id: true, email: true } as const;
      staff = key.includes('@')
        ? await db.prisma.staffUser.findFirst({ where: { email: { equals: key, mode: 'insensitive' } }, select })
        : await db.prisma.staffUser.findUnique({ where: { id: requireUuid(key, 'staff user id') }, select });
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
    return {
      staff,
      staffId,
      reason: options.reason.trim(),
      label: staff ? `staff user ${staff.email}` : 'all staff',
      sessions: before!.sessions,
      users: before!.users,
      resetSecondFactor: options.resetSecondFactor === true && staffId !== null,
    };
  },
  containment: {
    summary: (t) => {
      const summary = `revoke ${t.sessions} active staff session(s) of ${t.users} user(s) (${t.label}), reason ${t.reason}`;
      if (t.resetSecondFactor) return `${summary}, and remove their second-factor enrolment`;
      return t.sessions > 0 ? summary : null;
    },
    dryRun: (t) => {
      const json = { dryRun: true, target: t.label, wouldRevoke: t.sessions, users: t.users, revoked: 0 };
      return {
        json,
        human: () => `dry run: would revoke ${t.sessions} active staff session(s) of ${t.users} user(s) (${t.label}); nothing changed`,
      };
    },
  },
  async run(tx, t) {
    // The runbook's statement; the optional staff filter narrows it to one user.
    const count =
      t.staffId === null
        ? await tx.$executeRaw`UPDATE staff_sessions
            SET revoked_at = NOW(), revoked_reason = ${t.reason}
            WHERE revoked_at IS NULL`
        : await tx.$executeRaw`UPDATE staff_sessions
            SET revoked_at = NOW(), revoked_reason = ${t.reason}
            WHERE revoked_at IS NULL AND staff_user_id = ${t.staffId}::uuid`;
    const secondFactorReset = t.resetSecondFactor
      ? (await tx.$executeRaw`UPDATE staff_users
            SET totp_secret = NULL, totp_pending_secret = NULL, totp_enabled_at = NULL, totp_last_time_step = NULL,
                recovery_code_hashes = '{}'
            WHERE id = ${t.staffId}::uuid AND (totp_secret IS NOT NULL OR totp_pending_secret IS NOT NULL)`) > 0
      : false;
    return { count, secondFactorReset };
  },
  record: (t, r) => ({
    message: `Revoked ${r.count} active staff session(s) (${t.label}), reason ${t.reason}`,
    entityType: t.staff ? 'staff_user' : null,
    entityId: t.staffId,
    data: {
      changed: r.count,
      reason: t.reason,
      staffUserId: t.staffId,
      allStaff: t.staffId === null,
      ...(t.resetSecondFactor && { secondFactorReset: r.secondFactorReset }),
    },
  }),
  print: ({ target: t, receipt: r }) => {
    const reset = t.resetSecondFactor && r.secondFactorReset ? '; second-factor enrolment removed' : '';
    return {
      json: {
        dryRun: false,
        target: t.label,
        wouldRevoke: t.sessions,
        users: t.users,
        revoked: r.count,
        ...(t.resetSecondFactor && { secondFactorReset: r.secondFactorReset }),
      },
      human: () =>
        r.count > 0
          ? `revoked ${r.count} staff session(s) (${t.label}); they are refused from the API's next request${reset}`
          : `revoked 0 staff sessions (${t.label}): none was active${reset}`,
    };
  },
});

/** The runbook's containment statement: UPDATE cycle_requests SET expires_at = NOW(). */
const expireRequest = defineOperatorAction({
  name: 'requests expire',
  description:
    "expire a magic-link request now — the runbook's UPDATE cycle_requests SET expires_at = NOW(); its link and contact sessions stop working",
  examples: ['pnpm spade requests expire 2b7e1a90-… --incident 6f1c2d3e-… --yes'],
  configure: (command) => command.argument('<request-id>', 'the cycle request (magic-link request) id'),
  eventType: 'request.expired',
  kind: 'containment.request_expired',
  check: ([requestId]: [string]) => void requireUuid(requestId, 'request id'),
  async load({ db, args: [requestId] }) {
    const id = requireUuid(requestId, 'request id');
    const [request] = await db.withSql((sql) =>
      sql.query<{ id: string; client_id: string; expires_at: Date; expired: boolean }>(
        'SELECT id, client_id, expires_at, expires_at <= NOW() AS expired FROM cycle_requests WHERE id = $1::uuid',
        [id],
      ),
    );
    if (!request) throw new CliError(`No cycle request ${id}`, EXIT.notFound);
    return { id, clientId: request.client_id, expiresAt: request.expires_at, wouldExpire: request.expired ? 0 : 1 };
  },
  containment: {
    summary: (t) => (t.wouldExpire > 0 ? `expire cycle request ${t.id} (1 row; it expires ${formatFirmTime(t.expiresAt)})` : null),
    dryRun: (t) => ({
      json: { requestId: t.id, clientId: t.clientId, previousExpiresAt: t.expiresAt, dryRun: true, wouldExpire: t.wouldExpire, expired: 0 },
      human: () => `dry run: would expire ${t.wouldExpire} request(s)${t.wouldExpire === 0 ? ' (already expired)' : ''}; nothing changed`,
    }),
  },
  // The runbook's statement. `expires_at > NOW()` keeps a re-run from moving an expiry that
  // already passed: the first expiry is the evidence.
  run: (tx, t) => tx.$executeRaw`UPDATE cycle_requests
    SET expires_at = NOW()
    WHERE id = ${t.id}::uuid AND expires_at > NOW()`,
  record: (t, count) => ({
    message: count > 0 ? `Expired cycle request ${t.id}` : `Cycle request ${t.id} was already expired; nothing changed`,
    clientId: t.clientId,
    entityType: 'cycle_request',
    entityId: t.id,
    data: { changed: count, previousExpiresAt: t.expiresAt.toISOString() },
  }),
  print: ({ target: t, receipt: expired }) => ({
    json: { requestId: t.id, clientId: t.clientId, previousExpiresAt: t.expiresAt, dryRun: false, wouldExpire: t.wouldExpire, expired },
    human: () =>
      expired > 0
        ? `expired ${expired} request(s): ${t.id}; its magic link and contact sessions are refused from the API's next request`
        : `expired 0 requests: ${t.id} was already expired`,
  }),
});

/** The runbook's two containment statements (Immediate actions, step 2), made safe and recorded. */
export function registerContainmentCommands(program: Command, io: Io) {
  const sessions = withExamples(
    program.command('sessions').description('staff sessions (runbook: revoke sessions)'),
    'pnpm spade sessions revoke --all-staff --dry-run',
  );
  revokeSessions.attach(sessions, io);
  const requests = withExamples(
    program.command('requests').description('client magic-link requests (runbook: expire the suspected request)'),
    'pnpm spade requests expire <request-id> --dry-run',
  );
  expireRequest.attach(requests, io);
}
