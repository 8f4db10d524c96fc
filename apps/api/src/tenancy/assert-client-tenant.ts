import type { Actor } from './actor.ts';
import type { ClientRouteActor } from './route-scope.ts';

/** A refusal by assertClientTenant; require-client-scope audits it and answers 404. */
export class TenantAccessDenied extends Error {
  override name = 'TenantAccessDenied';
  constructor(readonly clientId: string) {
    super('tenant access denied');
  }
}

/**
 * Layer 2 (runbook): may this actor touch `clientId`'s data on a route that admits `admits`?
 * - admin staff: yes; other staff: only clients they are assigned to;
 * - a contact: only their own client, only on routes that admit contacts (and handlers
 *   then narrow to the contact's own request);
 * - anyone else: no.
 * A pure decision: it throws TenantAccessDenied and touches nothing else. The plugin that
 * calls it (plugins/require-client-scope.ts) audits the refusal as `tenant_access_denied`
 * and answers 404 — never 403, existence is not disclosed — and records the admission so
 * the authorization proof can show the assertion ran.
 */
export function assertClientTenant(actor: Actor, admits: readonly ClientRouteActor[], clientId: string): void {
  if (actor.kind === 'staff' && admits.includes('staff') && (actor.role === 'admin' || actor.clientIds.includes(clientId))) return;
  if (actor.kind === 'contact' && admits.includes('contact') && actor.clientId === clientId) return;
  throw new TenantAccessDenied(clientId);
}
