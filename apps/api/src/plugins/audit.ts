import { type Database, NO_TENANT, type Prisma } from '@breezycorp/db';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../errors.ts';
import { actorAuditFields } from '../tenancy/actor.ts';

/** Every event type Spade writes. */
export const AUDIT_EVENT_TYPES = [
  'auth.login',
  'auth.login_failed',
  'auth.login_locked',
  'auth.logout',
  'session.revoked',
  'second_factor.enrolment_started',
  'second_factor.enrolled',
  'second_factor.verified',
  'second_factor.recovery_used',
  'second_factor.failed',
  'second_factor.reset',
  'firm_settings.updated',
  'magic_link.created',
  'magic_link.rotated',
  'magic_link.exchanged',
  'magic_link.rejected',
  'magic_link.replayed',
  'magic_link.handed_over',
  'magic_link.requested',
  'message.failed',
  'reminder.sent',
  'reminder.stopped',
  'request.reminders_updated',
  'template.created',
  'template.updated',
  'bulk_request.started',
  'recurring_schedule.created',
  'recurring_schedule.cancelled',
  'client.read',
  'client.created',
  'client.updated',
  'contact.read',
  'contact.created',
  'contact.updated',
  'contact.deleted',
  'staff_user.read',
  'staff_user.created',
  'staff_user.admin_created',
  'assignment.created',
  'assignment.deleted',
  'cycle.read',
  'cycle.created',
  'cycle.updated',
  'request.created',
  'request.read',
  'request.cancelled',
  'item.reviewed',
  'file.uploaded',
  'file.downloaded',
  'file.deleted',
  'cross_tenant_read',
  'tenant_access_denied',
  'authorization_unverified',
  'leak.blocked',
  'access_log.read',
  'incident_console.read',
] as const;
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

export interface AuditInput {
  eventType: AuditEventType;
  entityType: string | null;
  entityId: string | null;
  /** Defaults to the client of the request's scope (none on firm routes). */
  clientId?: string | null;
  data?: Record<string, unknown>;
}

/** Sees every audit row a request writes (decoy tripwire, breadth alerts); must be cheap and synchronous. */
export type AuditObserver = (request: FastifyRequest, rows: readonly { eventType: string; clientId: string | null }[]) => void;

declare module 'fastify' {
  interface FastifyInstance {
    observeAudit(observer: AuditObserver): void;
  }
  interface FastifyRequest {
    /** Writes an audit event in the request's own transaction: it commits with the work or not at all. */
    audit(event: AuditInput): Promise<void>;
    /** Several events in one statement, same transaction. */
    auditMany(events: AuditInput[]): Promise<void>;
    /**
     * Records a refusal (denial, failed login, rejected link, blocked leak) as a firm-wide
     * event (client_id NULL) in its own transaction, so it is kept although the request then
     * fails. Only outside the request's unit of work: before it opens, on routes that run
     * their own transactions, or after `rollbackUnit()` (the embedded database has a single
     * connection the new transaction needs); with a unit open it throws.
     */
    auditFirmWide(event: Omit<AuditInput, 'clientId'>): Promise<void>;
  }
}

function row(request: FastifyRequest, event: AuditInput, clientId: string | null) {
  return {
    eventType: event.eventType,
    ...actorAuditFields(request.actor),
    clientId,
    entityType: event.entityType,
    entityId: event.entityId,
    requestId: request.id,
    eventDataJson: (event.data ?? {}) as Prisma.InputJsonObject,
  };
}

export default fp<{ db: Database }>(
  async (app, { db }) => {
    const observers: AuditObserver[] = [];
    app.decorate('observeAudit', (observer: AuditObserver) => {
      observers.push(observer);
    });
    app.decorateRequest('audit', async function (this: FastifyRequest, event: AuditInput) {
      await this.auditMany([event]);
    });
    app.decorateRequest('auditMany', async function (this: FastifyRequest, events: AuditInput[]) {
      if (events.length === 0) return;
      const scope = this.scope;
      const scopeClientId = scope.kind === 'client' ? scope.clientId : null;
      const rows = events.map((event) => row(this, event, event.clientId === undefined ? scopeClientId : event.clientId));
      for (const observe of observers) observe(this, rows);
      if (scope.kind === 'client') {
        // The scoped client injects the request's client; an event for any other is a bug.
        if (rows.some((r) => r.clientId !== scope.clientId)) throw new AppError('internal', 'audit event for another client');
        await scope.db.auditEvent.createMany({ data: rows.map(({ clientId: _scoped, ...data }) => data) });
      } else if (scope.kind === 'firm') {
        await scope.db.auditEvent.createMany({ data: rows });
      } else {
        throw new AppError('internal', 'audit outside a unit of work');
      }
    });
    app.decorateRequest('auditFirmWide', async function (this: FastifyRequest, event: Omit<AuditInput, 'clientId'>) {
      // Never silently: a caller whose request holds a unit ends it (rollbackUnit) first.
      if (this.scope.kind !== 'none') throw new AppError('internal', "a firm-wide event is written after the request's unit of work ends");
      const data = row(this, event, null);
      for (const observe of observers) observe(this, [data]);
      // createMany: no RETURNING, whose row a firm-wide event's reader (nobody, under RLS) could not see.
      await db.inUnit(NO_TENANT, (tx) => tx.auditEvent.createMany({ data: [data] }).then(() => undefined));
    });
  },
  { name: 'audit', dependencies: ['auth', 'unit-of-work'] },
);
