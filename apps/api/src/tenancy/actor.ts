import type { FastifyRequest } from 'fastify';
import { unauthenticated } from '../errors.ts';

/** Who is making a request, resolved from the database on every request (auth plugin). */
export type Actor =
  | {
      kind: 'staff';
      staffUserId: string;
      role: 'admin' | 'staff';
      sessionId: string;
      /** The clients this staff member serves (assignments); admins see every client. */
      clientIds: readonly string[];
      /** True when the credential came from the cookie, so unsafe methods need the CSRF header. */
      viaCookie: boolean;
      csrfToken: string;
    }
  | {
      kind: 'contact';
      contactId: string;
      clientId: string;
      cycleRequestId: string;
      sessionId: string;
      viaCookie: boolean;
      csrfToken: string;
    }
  | { kind: 'anonymous' };

export const ANONYMOUS: Actor = Object.freeze({ kind: 'anonymous' });

export function actorAuditFields(actor: Actor): { actorType: 'staff' | 'contact' | 'anonymous'; actorId: string | null } {
  if (actor.kind === 'staff') return { actorType: 'staff', actorId: actor.staffUserId };
  if (actor.kind === 'contact') return { actorType: 'contact', actorId: actor.contactId };
  return { actorType: 'anonymous', actorId: null };
}

export type StaffActor = Extract<Actor, { kind: 'staff' }>;
export type ContactActor = Extract<Actor, { kind: 'contact' }>;

/** The staff actor of a route that the scope enforcer already limited to staff. */
export function staffActor(request: FastifyRequest): StaffActor {
  if (request.actor.kind !== 'staff') throw unauthenticated();
  return request.actor;
}

/** The contact actor of a route that admits only contacts. */
export function contactActor(request: FastifyRequest): ContactActor {
  if (request.actor.kind !== 'contact') throw unauthenticated();
  return request.actor;
}
