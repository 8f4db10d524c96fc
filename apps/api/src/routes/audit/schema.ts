import type { Prisma } from '@breezycorp/db';
import { type Static, Type } from 'typebox';
import { pagedBody, pageQuery } from '../pagination.ts';
import { ActorType, checked, iso, NullableString, Timestamp, Uuid } from '../schemas.ts';

/** The audit trail: the query, the view and its mapper. */

export const AuditEventView = Type.Object(
  {
    id: Uuid,
    occurredAt: Timestamp,
    eventType: Type.String(),
    actorType: ActorType,
    actorId: Type.Union([Uuid, Type.Null()]),
    clientId: Type.Union([Uuid, Type.Null()]),
    entityType: NullableString,
    entityId: NullableString,
    requestId: NullableString,
    /** event_data_json: written only by Spade's own code, which never puts secrets in it. */
    data: Type.Record(Type.String(), Type.Unknown()),
  },
  { additionalProperties: false },
);

export const AuditQuery = pageQuery({
  actorId: Type.Optional(Uuid),
  eventType: Type.Optional(
    Type.String({ maxLength: 2_000, pattern: '^\\s*[a-z0-9_.]+\\s*(,\\s*[a-z0-9_.]+\\s*)*$', description: 'one type or a comma list' }),
  ),
  since: Type.Optional(Type.String({ format: 'date-time', description: 'inclusive' })),
  until: Type.Optional(Type.String({ format: 'date-time', description: 'exclusive' })),
});

export const AuditList = pagedBody({ events: Type.Array(AuditEventView) });

/** Every column AuditEventView shows. */
export const AUDIT_COLUMNS = {
  id: true,
  occurredAt: true,
  eventType: true,
  actorType: true,
  actorId: true,
  clientId: true,
  entityType: true,
  entityId: true,
  requestId: true,
  eventDataJson: true,
} as const satisfies Prisma.AuditEventSelect;
type AuditRow = Prisma.AuditEventGetPayload<{ select: typeof AUDIT_COLUMNS }>;

export function auditEventView(e: AuditRow) {
  const data = e.eventDataJson;
  return {
    id: e.id,
    occurredAt: iso(e.occurredAt),
    eventType: e.eventType,
    actorType: checked<Static<typeof ActorType>>(e.actorType),
    actorId: e.actorId,
    clientId: e.clientId,
    entityType: e.entityType,
    entityId: e.entityId,
    requestId: e.requestId,
    data: data !== null && typeof data === 'object' && !Array.isArray(data) ? (data as Record<string, unknown>) : {},
  };
}
