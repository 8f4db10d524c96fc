import type { FastifyRequest } from 'fastify';
import { unauthenticated } from '../errors.ts';
import type { ContactActor, StaffActor } from './actor.ts';

/** The staff actor of a route that the scope enforcer already limited to staff. */
export function staffActor(request: FastifyRequest): StaffActor {
  if (request.actor.kind !== 'staff') throw unauthenticated();
  return request.actor;
}

export function contactActor(request: FastifyRequest): ContactActor {
  if (request.actor.kind !== 'contact') throw unauthenticated();
  return request.actor;
}
