import { createHash } from 'node:crypto';
import type { Database } from '@breezycorp/db';
import { hashToken, isTokenOf, isUuid } from '@breezycorp/db';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { resolveContactSession, resolveStaffSession, resolveStaffSessionForClient } from '../services/token-lookups.ts';
import { type Actor, ANONYMOUS } from '../tenancy/actor.ts';

export const STAFF_COOKIE = 'spade_session';
export const CONTACT_COOKIE = 'spade_portal';

/** The CSRF token is derived from the session token, so it needs no storage (double submit). */
export function csrfTokenFor(sessionToken: string): string {
  return createHash('sha256').update(`csrf:${sessionToken}`).digest('base64url');
}

interface Credential {
  token: string;
  viaCookie: boolean;
}

export function credentialOf(request: FastifyRequest): Credential | null {
  const header = request.headers.authorization;
  if (typeof header === 'string' && header.startsWith('Bearer ')) return { token: header.slice(7).trim(), viaCookie: false };
  const staff = request.cookies[STAFF_COOKIE];
  if (staff) return { token: staff, viaCookie: true };
  const contact = request.cookies[CONTACT_COOKIE];
  if (contact) return { token: contact, viaCookie: true };
  return null;
}

/**
 * Resolves `request.actor` from the database on every request — so the runbook's
 * `UPDATE staff_sessions SET revoked_at = NOW()` and `UPDATE cycle_requests SET
 * expires_at = NOW()` take effect on the very next request. A credential that is unknown,
 * expired, idle, revoked or malformed leaves the actor anonymous: every such case then gets the
 * same 401 from the scope enforcer.
 */
export async function resolveActor(
  db: Database,
  credential: Credential | null,
  options: {
    contactIdleMs: number;
    secondFactorStep?: boolean;
    /** A client-scoped route's client (as the URL names it): only that assignment is looked up. */
    forClient?: { clientId: unknown };
  },
): Promise<Actor> {
  if (!credential) return ANONYMOUS;
  const { token, viaCookie } = credential;
  if (isTokenOf('staff', token)) {
    const session = options.forClient
      ? await resolveStaffSessionForClient(db, hashToken(token), isUuid(options.forClient.clientId) ? options.forClient.clientId : null)
      : await resolveStaffSession(db, hashToken(token));
    // A session still owing its second factor is no one, except on the second-factor routes.
    if (!session || (session.secondFactorPending && !options.secondFactorStep)) return ANONYMOUS;
    return {
      kind: 'staff',
      staffUserId: session.staffUserId,
      role: session.role,
      sessionId: session.sessionId,
      clientIds: session.clientIds,
      viaCookie,
      csrfToken: csrfTokenFor(token),
    };
  }
  if (isTokenOf('contact', token)) {
    // An idle session is simply not found: the same 401 as any other dead session.
    const row = await resolveContactSession(db, hashToken(token), options.contactIdleMs);
    if (!row) return ANONYMOUS;
    return {
      kind: 'contact',
      contactId: row.contactId,
      clientId: row.clientId,
      cycleRequestId: row.cycleRequestId,
      sessionId: row.sessionId,
      viaCookie,
      csrfToken: csrfTokenFor(token),
    };
  }
  return ANONYMOUS;
}

declare module 'fastify' {
  interface FastifyRequest {
    actor: Actor;
  }
}

export default fp<{ db: Database; contactIdleMs: number }>(
  async (app, { db, contactIdleMs }) => {
    // Set on every request in onRequest below; null only before that hook runs.
    app.decorateRequest('actor', null as never);
    app.addHook('onRequest', async (request) => {
      if (request.routeOptions.config.noDatabase) {
        request.actor = ANONYMOUS;
        return;
      }
      const config = request.routeOptions.config;
      request.actor = await resolveActor(db, credentialOf(request), {
        contactIdleMs,
        secondFactorStep: config.secondFactorStep === true,
        // The input boundary (an earlier onRequest hook) has made the id canonical.
        ...(config.routeScope === 'client-scoped' && { forClient: { clientId: (request.params as { clientId?: unknown }).clientId } }),
      });
    });
  },
  { name: 'auth', dependencies: ['@fastify/cookie'] },
);
