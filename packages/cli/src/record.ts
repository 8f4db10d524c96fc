import type { Prisma, TxClient } from '@breezycorp/db';
import type { SlackOutcome } from './slack.ts';

/**
 * Audit event types the operations CLI writes (actor_type 'operator', actor_id NULL).
 * The API's AUDIT_EVENT_TYPES lists what the API writes; these are the CLI's.
 */
export const OPERATOR_EVENT_TYPES = [
  'incident.opened',
  'incident.actor_added',
  'incident.noted',
  'incident.notifiability_determined',
  'incident.resolved',
  'evidence.added',
  'evidence.collected',
  'sessions.revoked',
  'request.expired',
  'route.offline',
  'route.online',
  'investigation.queried',
  'disclosure.drafted',
  'postmortem.drafted',
  'audit.sealed',
  'audit.verified',
  'tenant.frozen',
  'tenant.thawed',
  'decoys.planted',
  'alert.escalated',
  'alert.dismissed',
] as const;
export type OperatorEventType = (typeof OPERATOR_EVENT_TYPES)[number];

export interface ActionContext {
  operator: string;
  /** The incident this action belongs to (--incident), when there is one. */
  incidentId: string | null;
}

export interface ActionRecord {
  eventType: OperatorEventType;
  /** The timeline entry's kind, e.g. 'containment.sessions_revoked'. */
  kind: string;
  message: string;
  /** Only for an action about one client's data; firm-wide actions leave it NULL. */
  clientId?: string | null;
  entityType?: string | null;
  entityId?: string | null;
  data?: Record<string, unknown>;
}

export type Recorder = Pick<TxClient, 'auditEvent' | 'incidentTimelineEntry'>;

/**
 * Records an operator action in audit_events and, with an incident, on its timeline.
 * Called inside the action's own transaction: the record commits with the change or not at all.
 */
export async function recordAction(db: Recorder, context: ActionContext, action: ActionRecord): Promise<void> {
  const data = { operator: context.operator, incidentId: context.incidentId, ...(action.data ?? {}) };
  await db.auditEvent.create({
    data: {
      eventType: action.eventType,
      actorType: 'operator',
      actorId: null,
      clientId: action.clientId ?? null,
      entityType: action.entityType ?? null,
      entityId: action.entityId ?? null,
      requestId: null,
      eventDataJson: data as Prisma.InputJsonObject,
    },
  });
  if (context.incidentId) {
    await db.incidentTimelineEntry.create({
      data: {
        incidentId: context.incidentId,
        kind: action.kind,
        actor: context.operator,
        message: action.message,
        data: (action.data ?? {}) as Prisma.InputJsonObject,
      },
    });
  }
}

/** Puts a Slack post's outcome on the incident's timeline: slack_posted, slack_failed or slack_skipped. */
export async function recordSlackOutcome(db: Recorder, context: ActionContext, outcome: SlackOutcome): Promise<void> {
  if (!context.incidentId) return;
  const message =
    outcome.status === 'posted'
      ? 'Posted to Slack'
      : outcome.status === 'failed'
        ? `Slack post failed: ${outcome.error}`
        : 'Slack post skipped: SLACK_WEBHOOK_URL is not set';
  await db.incidentTimelineEntry.create({
    data: {
      incidentId: context.incidentId,
      kind: `slack_${outcome.status}`,
      actor: context.operator,
      message,
      data: { text: outcome.text, ...(outcome.status === 'failed' ? { error: outcome.error } : {}) },
    },
  });
}
