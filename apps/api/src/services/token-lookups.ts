import type { Database, TxClient } from '@breezycorp/db';
import { unscoped } from '@breezycorp/db/unsafe';

/**
 * One of the two modules in the API that run raw SQL (the bypass scanner enforces it). Each
 * lookup calls a narrow SECURITY DEFINER function that must run before the tenant is
 * known — resolving a token hash to its session (and, for staff, the clients they serve), an
 * address to its open requests — and returns only the ids needed (DESIGN.md §4). Never a
 * bypass connection. (The delivery worker's cross-tenant scans are in delivery/unsafe-claims.ts.)
 */

export interface StaffSessionIds {
  sessionId: string;
  staffUserId: string;
  role: 'admin' | 'staff';
  /**
   * The clients the staff member is assigned to — all of them (staff-only routes), or, on a
   * client-scoped route, only the route's client when assigned.
   */
  clientIds: string[];
  /** The password was right but the second factor is still owed. */
  secondFactorPending: boolean;
}

type StaffSessionRow = { session_id: string; staff_user_id: string; role: string; client_ids: string[]; second_factor_pending: boolean };

function staffSession(row: StaffSessionRow | undefined): StaffSessionIds | null {
  if (!row) return null;
  return {
    sessionId: row.session_id,
    staffUserId: row.staff_user_id,
    role: row.role === 'admin' ? 'admin' : 'staff',
    clientIds: row.client_ids,
    secondFactorPending: row.second_factor_pending,
  };
}

/**
 * The lookups every request makes (a session per request) run on a pooled connection
 * without the ORM: one parameterised statement, no transaction — Prisma's $queryRaw cost
 * ≈ 0.05 ms of CPU per request for nothing it adds here (issue 13).
 */
function perRequestLookup<T extends Record<string, unknown>>(db: Database, text: string, params: unknown[]): Promise<T[]> {
  return unscoped(db).withSql((sql) => sql.query<T>(text, params));
}

/** A live staff session (not revoked or expired, its user not disabled) and all the user's clients, in one round trip. */
export async function resolveStaffSession(db: Database, tokenHash: string): Promise<StaffSessionIds | null> {
  const rows = await perRequestLookup<StaffSessionRow>(
    db,
    'SELECT session_id, staff_user_id, role, client_ids, second_factor_pending FROM spade_resolve_staff_session($1)',
    [tokenHash],
  );
  return staffSession(rows[0]);
}

/**
 * The same session, asked about one client only (client-scoped routes): `clientIds` is
 * `[clientId]` when the user is assigned to it, `[]` otherwise — never the whole list, whose
 * cost grows with the number of clients served (migration 0013).
 */
export async function resolveStaffSessionForClient(
  db: Database,
  tokenHash: string,
  clientId: string | null,
): Promise<StaffSessionIds | null> {
  const rows = await perRequestLookup<StaffSessionRow>(
    db,
    'SELECT session_id, staff_user_id, role, client_ids, second_factor_pending FROM spade_resolve_staff_session_for_client($1, $2::uuid)',
    [tokenHash, clientId],
  );
  return staffSession(rows[0]);
}

export interface ContactSessionIds {
  sessionId: string;
  clientId: string;
  contactId: string;
  cycleRequestId: string;
}

/**
 * A live contact session: not revoked or expired, used within the last `idleMs`, its request
 * open and unexpired. The function records the use (last_seen_at), but only when the last
 * record is older than a quarter of the idle period or a minute, whichever is shorter.
 */
export async function resolveContactSession(db: Database, tokenHash: string, idleMs: number): Promise<ContactSessionIds | null> {
  const idleSeconds = Math.max(1, Math.round(idleMs / 1_000));
  const rows = await perRequestLookup<{ session_id: string; client_id: string; contact_id: string; cycle_request_id: string }>(
    db,
    'SELECT session_id, client_id, contact_id, cycle_request_id FROM spade_resolve_contact_session($1, $2::integer)',
    [tokenHash, idleSeconds],
  );
  const row = rows[0];
  return row
    ? { sessionId: row.session_id, clientId: row.client_id, contactId: row.contact_id, cycleRequestId: row.cycle_request_id }
    : null;
}

export interface MagicLinkIds {
  cycleRequestId: string;
  clientId: string;
  contactId: string;
  /** The link was exchanged once already: presenting it again is a replay. */
  exchanged: boolean;
}

/** An open, unexpired magic link of a contact who is not deleted (used or not). */
export async function resolveMagicLink(db: Database, tokenHash: string): Promise<MagicLinkIds | null> {
  const rows = await unscoped(db).prisma.$queryRaw<
    { cycle_request_id: string; client_id: string; contact_id: string; exchanged: boolean }[]
  >`
    SELECT cycle_request_id, client_id, contact_id, exchanged FROM spade_resolve_magic_link(${tokenHash})`;
  const row = rows[0];
  return row
    ? { cycleRequestId: row.cycle_request_id, clientId: row.client_id, contactId: row.contact_id, exchanged: row.exchanged }
    : null;
}

/**
 * Marks a link used and returns its request, in the caller's unit of work — which must be
 * confined to the link's own client (the function checks the tenant context). Nothing for
 * a link already used, rotated, expired or of a deleted contact: of two concurrent
 * exchanges, exactly one gets the row.
 */
export async function consumeMagicLink(
  tx: TxClient,
  tokenHash: string,
): Promise<{ cycleRequestId: string; clientId: string; contactId: string; expiresAt: Date } | null> {
  const rows = await tx.$queryRaw<{ cycle_request_id: string; client_id: string; contact_id: string; expires_at: Date }[]>`
    SELECT cycle_request_id, client_id, contact_id, expires_at FROM spade_consume_magic_link(${tokenHash})`;
  const row = rows[0];
  return row
    ? { cycleRequestId: row.cycle_request_id, clientId: row.client_id, contactId: row.contact_id, expiresAt: row.expires_at }
    : null;
}

export interface OpenRequestIds {
  clientId: string;
  contactId: string;
  cycleRequestId: string;
}

/** The open requests (at most five) of the contacts with this address, across clients: ids only. */
export async function openRequestsForEmail(db: Database, email: string): Promise<OpenRequestIds[]> {
  const rows = await unscoped(db).prisma.$queryRaw<{ client_id: string; contact_id: string; cycle_request_id: string }[]>`
    SELECT client_id, contact_id, cycle_request_id FROM spade_open_requests_for_email(${email})`;
  return rows.map((row) => ({ clientId: row.client_id, contactId: row.contact_id, cycleRequestId: row.cycle_request_id }));
}

/**
 * The scrypt parameters and salt of an account's password (`scrypt$N$r$p$salt`), never its
 * hash; an unknown email gets a stable made-up salt, so both cost the same scrypt.
 */
export async function staffPasswordParams(db: Database, email: string): Promise<string> {
  const rows = await unscoped(db).prisma.$queryRaw<{ params: string }[]>`SELECT spade_staff_password_params(${email}) AS params`;
  return rows[0]?.params ?? '';
}

export type StaffLoginVerdict =
  | {
      verdict: 'ok' | 'second_factor' | 'enrol_second_factor';
      staffUserId: string;
      sessionId: string;
      email: string;
      name: string;
      role: 'admin' | 'staff';
    }
  | { verdict: 'unknown_email'; staffUserId: null }
  | { verdict: 'wrong_password' | 'locked'; staffUserId: string };

/**
 * Sign-in in the database: compares the presented password's hash, counts failures per
 * account (lockout with backoff), and on success creates the session whose token hash we
 * chose. Runs on its own (autocommit), so a failure is counted even though the request fails.
 */
export async function staffLogin(
  db: Database,
  attempt: { email: string; passwordHash: string | null; sessionTokenHash: string; expiresAt: Date },
): Promise<StaffLoginVerdict> {
  const rows = await unscoped(db).prisma.$queryRaw<
    {
      verdict: string;
      staff_user_id: string | null;
      session_id: string | null;
      email: string | null;
      name: string | null;
      role: string | null;
    }[]
  >`
    SELECT verdict, staff_user_id, session_id, email, name, role
      FROM spade_staff_login(${attempt.email}, ${attempt.passwordHash}, ${attempt.sessionTokenHash}, ${attempt.expiresAt}::timestamptz)`;
  const row = rows[0];
  if (
    (row?.verdict === 'ok' || row?.verdict === 'second_factor' || row?.verdict === 'enrol_second_factor') &&
    row.staff_user_id &&
    row.session_id
  ) {
    return {
      verdict: row.verdict,
      staffUserId: row.staff_user_id,
      sessionId: row.session_id,
      email: row.email ?? '',
      name: row.name ?? '',
      role: row.role === 'admin' ? 'admin' : 'staff',
    };
  }
  if ((row?.verdict === 'wrong_password' || row?.verdict === 'locked') && row.staff_user_id) {
    return { verdict: row.verdict, staffUserId: row.staff_user_id };
  }
  return { verdict: 'unknown_email', staffUserId: null };
}

/** Is this demo account (`pnpm db:seed`) still signing in with its published password? */
export async function demoLoginInUse(db: Database, email: string, passwordHash: string): Promise<boolean> {
  const rows = await unscoped(db).prisma.$queryRaw<
    { in_use: boolean }[]
  >`SELECT spade_demo_login_in_use(${email}, ${passwordHash}) AS in_use`;
  return rows[0]?.in_use === true;
}

export interface SecondFactorState {
  staffUserId: string;
  email: string;
  /** The enrolled TOTP secret (base32), if any. */
  secret: string | null;
  /** A secret being enrolled, not yet confirmed. */
  pendingSecret: string | null;
  lastTimeStep: number | null;
  sessionPending: boolean;
}

/** Second-factor state of the session this token hash names (its holder only). */
export async function secondFactorState(db: Database, sessionTokenHash: string): Promise<SecondFactorState | null> {
  const rows = await unscoped(db).prisma.$queryRaw<
    {
      staff_user_id: string;
      email: string;
      secret: string | null;
      pending_secret: string | null;
      last_time_step: bigint | null;
      session_pending: boolean;
    }[]
  >`SELECT staff_user_id, email, secret, pending_secret, last_time_step, session_pending FROM spade_staff_second_factor_state(${sessionTokenHash})`;
  const row = rows[0];
  if (!row) return null;
  return {
    staffUserId: row.staff_user_id,
    email: row.email,
    secret: row.secret,
    pendingSecret: row.pending_secret,
    lastTimeStep: row.last_time_step === null ? null : Number(row.last_time_step),
    sessionPending: row.session_pending,
  };
}

/** Starts an enrolment with a fresh secret; false when the user is already enrolled. */
export async function beginSecondFactor(db: Database, sessionTokenHash: string, secret: string): Promise<boolean> {
  const rows = await unscoped(db).prisma.$queryRaw<
    { ok: boolean }[]
  >`SELECT spade_staff_second_factor_begin(${sessionTokenHash}, ${secret}) AS ok`;
  return rows[0]?.ok === true;
}

export type SecondFactorVerdict = 'ok' | 'replayed' | 'refused' | 'locked' | 'no_session';

/** Reports the API's check of a code; the database confirms an enrolment or completes the session, or counts a failure. */
export async function reportSecondFactor(
  db: Database,
  sessionTokenHash: string,
  result: { ok: boolean; timeStep: number | null; recoveryCodeHashes: string[] | null },
): Promise<SecondFactorVerdict> {
  const rows = await unscoped(db).prisma.$queryRaw<{ verdict: SecondFactorVerdict }[]>`
    SELECT spade_staff_second_factor_result(${sessionTokenHash}, ${result.ok}, ${result.timeStep}::bigint, ${result.recoveryCodeHashes}::text[]) AS verdict`;
  return rows[0]?.verdict ?? 'no_session';
}

/** A recovery code instead of a TOTP code: compared and consumed by the database. */
export async function useRecoveryCode(db: Database, sessionTokenHash: string, codeHash: string): Promise<SecondFactorVerdict> {
  const rows = await unscoped(db).prisma.$queryRaw<{ verdict: SecondFactorVerdict }[]>`
    SELECT spade_staff_second_factor_recovery(${sessionTokenHash}, ${codeHash}) AS verdict`;
  return rows[0]?.verdict ?? 'no_session';
}

/** Admin units of work only (spade_firm_admin may execute it, spade_app may not): removes a user's enrolment. */
export async function resetSecondFactor(tx: TxClient, staffUserId: string): Promise<boolean> {
  const rows = await tx.$queryRaw<{ reset: boolean }[]>`SELECT spade_staff_second_factor_reset(${staffUserId}::uuid) AS reset`;
  return rows[0]?.reset === true;
}
