import { type Database, NO_TENANT, type Prisma } from '@breezycorp/db';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../errors.ts';
import { type AuditEventType, type AuditRow, writeAuditEvents } from '../services/audit-log.ts';
import { actorAuditFields } from '../tenancy/actor.ts';

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

function row(request: FastifyRequest, event: AuditInput, clientId: string | null): AuditRow {
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
      if (scope.kind === 'none') throw new AppError('internal', 'audit outside a unit of work');
      // The scoped client injects the request's client; an event for any other is a bug.
      if (scope.kind === 'client' && rows.some((r) => r.clientId !== scope.clientId)) {
        throw new AppError('internal', 'audit event for another client');
      }
      await scope.writeAudit(rows);
    });
    app.decorateRequest('auditFirmWide', async function (this: FastifyRequest, event: Omit<AuditInput, 'clientId'>) {
      // Never silently: a caller whose request holds a unit ends it (rollbackUnit) first.
      if (this.scope.kind !== 'none') throw new AppError('internal', "a firm-wide event is written after the request's unit of work ends");
      const data = row(this, event, null);
      for (const observe of observers) observe(this, [data]);
      await db.inUnit(NO_TENANT, (tx) => writeAuditEvents(tx, [data]));
    });
  },
  { name: 'audit', dependencies: ['auth', 'unit-of-work'] },
);
