import type { FastifyRequest } from 'fastify';
import { notFound } from '../errors.ts';

/**
 * Layer 2 (runbook): may this request's actor touch `clientId`'s data on this route?
 * - admin staff: yes; other staff: only clients they are assigned to;
 * - a contact: only their own client, only on routes that admit contacts (and handlers
 *   then narrow to the contact's own request);
 * - anyone else: no.
 * A refusal is a 404 — never 403, existence is not disclosed — and is audited as
 * `tenant_access_denied`. On success the request records which client was asserted, so
 * the runtime check can prove the assertion ran.
 */
export async function assertClientTenant(request: FastifyRequest, clientId: string): Promise<void> {
  const actor = request.actor;
  const admits = request.routeOptions.config.actors ?? ['staff'];
  let allowed = false;
  if (actor.kind === 'staff' && admits.includes('staff')) {
    allowed = actor.role === 'admin' || actor.clientIds.includes(clientId);
  } else if (actor.kind === 'contact' && admits.includes('contact')) {
    allowed = actor.clientId === clientId;
  }
  if (!allowed) {
    await request.auditFirmWide({
      eventType: 'tenant_access_denied',
      entityType: 'client',
      entityId: null,
      data: { requestedClientId: clientId, route: `${request.method} ${request.routeOptions.url}` },
    });
    throw notFound();
  }
  request.assertedClientId = clientId;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by assertClientTenant when it allowed this request for that client. */
    assertedClientId: string | null;
  }
}
