import { ADMIN_CONTEXT, clientsContext, NO_TENANT, type TenantContext } from '@breezycorp/db';
import type { Actor } from './actor.ts';

/**
 * The clients a staff-only or public request may see: exactly the actor's, never more.
 * Admins read through the spade_firm_admin role (a role, never a flag) on its own login and
 * pool (`adminDb`), which spade_app cannot switch to; public routes see no tenant.
 */
export function firmContext(actor: Actor): TenantContext {
  if (actor.kind === 'staff') return actor.role === 'admin' ? ADMIN_CONTEXT : clientsContext(actor.clientIds);
  return NO_TENANT;
}
