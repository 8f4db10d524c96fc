import type { Database, TxClient } from '@breezycorp/db';

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
  /** The clients the staff member is assigned to. */
  clientIds: string[];
}

/** A live staff session (not revoked or expired, its user not disabled) and the user's clients, in one round trip. */
export async function resolveStaffSession(db: Database, tokenHash: string): Promise<StaffSessionIds | null> {
  const rows = await db.prisma.$queryRaw<{ session_id: string; staff_user_id: string; role: string; client_ids: string[] }[]>`
    SELECT session_id, staff_user_id, role, client_ids FROM spade_resolve_staff_session(${tokenHash})`;
  const row = rows[0];
  if (!row) return null;
  return {
    sessionId: row.session_id,
    staffUserId: row.staff_user_id,
    role: row.role === 'admin' ? 'admin' : 'staff',
    clientIds: row.client_ids,
  };
}

export interface ContactSessionIds {
  sessionId: string;
  clientId: string;
  contactId: string;
  cycleRequestId: string;
}

/** A live contact session (not revoked or expired, its request open and unexpired). */
export async function resolveContactSession(db: Database, tokenHash: string): Promise<ContactSessionIds | null> {
  const rows = await db.prisma.$queryRaw<{ session_id: string; client_id: string; contact_id: string; cycle_request_id: string }[]>`
    SELECT session_id, client_id, contact_id, cycle_request_id FROM spade_resolve_contact_session(${tokenHash})`;
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
  const rows = await db.prisma.$queryRaw<{ cycle_request_id: string; client_id: string; contact_id: string; exchanged: boolean }[]>`
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
  const rows = await db.prisma.$queryRaw<{ client_id: string; contact_id: string; cycle_request_id: string }[]>`
    SELECT client_id, contact_id, cycle_request_id FROM spade_open_requests_for_email(${email})`;
  return rows.map((row) => ({ clientId: row.client_id, contactId: row.contact_id, cycleRequestId: row.cycle_request_id }));
}
