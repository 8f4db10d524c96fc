import type { Prisma } from '@breezycorp/db';
import { Type } from 'typebox';
import { ActorType, NullableTimestamp, Timestamp, Uuid } from '../schemas.ts';

/** The incident console's views (read-only), and the columns its rows are read with. */

/** detection_alerts.kind's CHECK constraint. */
export const AlertKind = Type.Union([
  Type.Literal('decoy.touched'),
  Type.Literal('breadth.staff_clients'),
  Type.Literal('breadth.contact_foreign_client'),
  Type.Literal('breadth.denied_burst'),
]);

export const ClockView = Type.Object(
  {
    name: Type.Union([Type.Literal('assessment'), Type.Literal('pdpc_notification'), Type.Literal('post_mortem')]),
    label: Type.String(),
    rule: Type.String(),
    deadline: NullableTimestamp,
    state: Type.Union([
      Type.Literal('running'),
      Type.Literal('met'),
      Type.Literal('overdue'),
      Type.Literal('not_started'),
      Type.Literal('not_applicable'),
    ]),
    /** Seconds from `asOf` to the deadline (negative once it passed); null without a deadline or once met. */
    remainingSeconds: Type.Union([Type.Integer(), Type.Null()]),
    note: Type.String(),
    command: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
);

export const CommandView = Type.Object({ purpose: Type.String(), command: Type.String() }, { additionalProperties: false });

export const IncidentSummary = Type.Object(
  {
    id: Uuid,
    title: Type.String(),
    reporter: Type.String(),
    /** The runbook treats every suspected tenant leak as CRITICAL; the table has no other level. */
    severity: Type.Literal('critical'),
    status: Type.Union([Type.Literal('open'), Type.Literal('resolved')]),
    openedAt: Timestamp,
    openedBy: Type.String(),
    channel: Type.String(),
    notifiable: Type.Union([Type.Boolean(), Type.Null()]),
    notifiableDeterminedAt: NullableTimestamp,
    resolvedAt: NullableTimestamp,
    clocks: Type.Array(ClockView),
    commands: Type.Array(CommandView),
  },
  { additionalProperties: false },
);

export const TimelineEntryView = Type.Object(
  { id: Uuid, occurredAt: Timestamp, kind: Type.String(), actor: Type.String(), message: Type.String() },
  { additionalProperties: false },
);

/** Evidence metadata only: never its contents, nor where the operator's copy is stored. */
export const EvidenceView = Type.Object(
  {
    id: Uuid,
    filename: Type.String(),
    sha256: Type.String(),
    size: Type.Integer({ minimum: 0 }),
    addedAt: Timestamp,
    addedBy: Type.String(),
  },
  { additionalProperties: false },
);

export const FrozenTenantView = Type.Object(
  {
    id: Uuid,
    clientId: Uuid,
    clientName: Type.Union([Type.String(), Type.Null()]),
    isDecoy: Type.Boolean(),
    incidentId: Type.Union([Uuid, Type.Null()]),
    reason: Type.String(),
    createdBy: Type.String(),
    createdAt: Timestamp,
    commands: Type.Array(CommandView),
  },
  { additionalProperties: false },
);

export const RouteOfflineView = Type.Object(
  {
    id: Uuid,
    method: Type.String(),
    routePattern: Type.String(),
    reason: Type.String(),
    incidentId: Type.Union([Uuid, Type.Null()]),
    createdBy: Type.String(),
    createdAt: Timestamp,
    commands: Type.Array(CommandView),
  },
  { additionalProperties: false },
);

export const AlertView = Type.Object(
  {
    id: Uuid,
    raisedAt: Timestamp,
    kind: AlertKind,
    status: Type.Union([Type.Literal('incident'), Type.Literal('suggested')]),
    summary: Type.String(),
    actorType: ActorType,
    actorId: Type.Union([Uuid, Type.Null()]),
    address: Type.Union([Type.String(), Type.Null()]),
    route: Type.Union([Type.String(), Type.Null()]),
    requestId: Type.Union([Type.String(), Type.Null()]),
    subjectClientId: Type.Union([Uuid, Type.Null()]),
    subjectClientName: Type.Union([Type.String(), Type.Null()]),
    subjectIsDecoy: Type.Boolean(),
    detectedBy: Type.String(),
    incidentId: Type.Union([Uuid, Type.Null()]),
    commands: Type.Array(CommandView),
  },
  { additionalProperties: false },
);

export const IncidentList = Type.Object(
  { asOf: Timestamp, incidents: Type.Array(IncidentSummary) },
  { additionalProperties: false, description: 'Open incidents, then those resolved in the last 30 days; newest first' },
);

export const IncidentDetail = Type.Object(
  {
    asOf: Timestamp,
    incident: IncidentSummary,
    timeline: Type.Array(TimelineEntryView),
    /** How many entries the timeline has; the newest TIMELINE_LIMIT are returned. */
    timelineTotal: Type.Integer({ minimum: 0 }),
    evidence: Type.Array(EvidenceView),
    /** The containment steps recorded on the timeline (kind containment.*), oldest first. */
    containment: Type.Array(TimelineEntryView),
    frozenTenants: Type.Array(FrozenTenantView),
    routesOffline: Type.Array(RouteOfflineView),
    alerts: Type.Array(AlertView),
  },
  { additionalProperties: false },
);

export const Detection = Type.Object(
  {
    asOf: Timestamp,
    alerts: Type.Array(AlertView),
    frozenTenants: Type.Array(FrozenTenantView),
    routesOffline: Type.Array(RouteOfflineView),
  },
  { additionalProperties: false },
);

export const IncidentParams = Type.Object({ incidentId: Uuid }, { additionalProperties: false });

export const INCIDENT_FIELDS = {
  id: true,
  title: true,
  reporter: true,
  status: true,
  openedAt: true,
  openedBy: true,
  channel: true,
  notifiable: true,
  notifiableDeterminedAt: true,
  resolvedAt: true,
} as const satisfies Prisma.IncidentSelect;
export type IncidentRow = Prisma.IncidentGetPayload<{ select: typeof INCIDENT_FIELDS }>;

export const ALERT_FIELDS = {
  id: true,
  raisedAt: true,
  kind: true,
  status: true,
  requestId: true,
  actorType: true,
  actorId: true,
  address: true,
  route: true,
  clientId: true,
  detectedBy: true,
  details: true,
  incidentId: true,
} as const satisfies Prisma.DetectionAlertSelect;
export type AlertRow = Prisma.DetectionAlertGetPayload<{ select: typeof ALERT_FIELDS }>;

export const FREEZE_FIELDS = {
  id: true,
  clientId: true,
  incidentId: true,
  reason: true,
  createdBy: true,
  createdAt: true,
} as const satisfies Prisma.TenantFreezeSelect;
export type FreezeRow = Prisma.TenantFreezeGetPayload<{ select: typeof FREEZE_FIELDS }>;

export const SWITCH_FIELDS = {
  id: true,
  method: true,
  routePattern: true,
  reason: true,
  incidentId: true,
  createdBy: true,
  createdAt: true,
} as const satisfies Prisma.RouteKillSwitchSelect;
export type SwitchRow = Prisma.RouteKillSwitchGetPayload<{ select: typeof SWITCH_FIELDS }>;
