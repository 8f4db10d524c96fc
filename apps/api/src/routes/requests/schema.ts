import type { Prisma } from '@breezycorp/db';
import { type Static, Type } from 'typebox';
import {
  checked,
  ItemStatus,
  iso,
  MessageKind,
  MessageStatus,
  NonBlank,
  NullableInt,
  NullableString,
  NullableTimestamp,
  RequestStatus,
  Timestamp,
  Uuid,
} from '../schemas.ts';

/** Requests and their checklist items: params, bodies, views, and the one mapper per view. */

export const ItemView = Type.Object(
  {
    id: Uuid,
    requestId: Uuid,
    position: Type.Integer(),
    label: Type.String(),
    description: NullableString,
    required: Type.Boolean(),
    status: ItemStatus,
    reviewComment: NullableString,
    reviewedBy: Type.Union([Uuid, Type.Null()]),
    reviewedAt: NullableTimestamp,
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { additionalProperties: false },
);

export type ItemRow = Prisma.RequestItemGetPayload<{ select: typeof ITEM_COLUMNS }>;
/** Every column ItemView shows. */
export const ITEM_COLUMNS = {
  id: true,
  cycleRequestId: true,
  position: true,
  label: true,
  description: true,
  required: true,
  status: true,
  reviewComment: true,
  reviewedBy: true,
  reviewedAt: true,
  createdAt: true,
  updatedAt: true,
} as const satisfies Prisma.RequestItemSelect;

export function itemView(item: ItemRow) {
  return {
    id: item.id,
    requestId: item.cycleRequestId,
    position: item.position,
    label: item.label,
    description: item.description,
    required: item.required,
    status: checked<Static<typeof ItemStatus>>(item.status),
    reviewComment: item.reviewComment,
    reviewedBy: item.reviewedBy,
    reviewedAt: iso(item.reviewedAt),
    createdAt: iso(item.createdAt),
    updatedAt: iso(item.updatedAt),
  };
}

const Reminders = Type.Object(
  {
    everyDays: NullableInt,
    max: Type.Integer(),
    startDaysBeforeDue: NullableInt,
    sent: Type.Integer(),
    nextAt: NullableTimestamp,
    pausedUntil: NullableTimestamp,
    stoppedReason: NullableString,
  },
  { additionalProperties: false },
);

export const requestFields = {
  id: Uuid,
  clientId: Uuid,
  cycleId: Uuid,
  contactId: Uuid,
  status: RequestStatus,
  message: NullableString,
  expiresAt: Timestamp,
  sentAt: Timestamp,
  createdAt: Timestamp,
  updatedAt: Timestamp,
  templateId: Type.Union([Uuid, Type.Null()]),
  /** When the current link was exchanged for a session (a link works once). */
  linkExchangedAt: NullableTimestamp,
  reminders: Reminders,
};
/**
 * A request as staff see it. Never a token or its hash: the token is minted by the delivery
 * worker when the mail goes out and exists only in that mail.
 */
export const RequestView = Type.Object({ ...requestFields, itemCount: Type.Integer() }, { additionalProperties: false });
export const RequestWithItems = Type.Object({ ...requestFields, items: Type.Array(ItemView) }, { additionalProperties: false });
export const ResentRequest = Type.Object({ ...requestFields, outboxMessageId: Uuid }, { additionalProperties: false });

/** Selects every column a view shows, and never token_hash. */
export const REQUEST_COLUMNS = {
  id: true,
  clientId: true,
  cycleId: true,
  contactId: true,
  status: true,
  message: true,
  expiresAt: true,
  sentAt: true,
  createdAt: true,
  updatedAt: true,
  templateId: true,
  linkExchangedAt: true,
  reminderEveryDays: true,
  reminderMax: true,
  reminderStartDaysBeforeDue: true,
  remindersSent: true,
  nextReminderAt: true,
  remindersPausedUntil: true,
  remindersStoppedReason: true,
} as const satisfies Prisma.CycleRequestSelect;
type RequestRow = Prisma.CycleRequestGetPayload<{ select: typeof REQUEST_COLUMNS }>;

export function requestView(r: RequestRow) {
  return {
    id: r.id,
    clientId: r.clientId,
    cycleId: r.cycleId,
    contactId: r.contactId,
    status: checked<Static<typeof RequestStatus>>(r.status),
    message: r.message,
    expiresAt: iso(r.expiresAt),
    sentAt: iso(r.sentAt),
    createdAt: iso(r.createdAt),
    updatedAt: iso(r.updatedAt),
    templateId: r.templateId,
    linkExchangedAt: iso(r.linkExchangedAt),
    reminders: {
      everyDays: r.reminderEveryDays,
      max: r.reminderMax,
      startDaysBeforeDue: r.reminderStartDaysBeforeDue,
      sent: r.remindersSent,
      nextAt: iso(r.nextReminderAt),
      pausedUntil: iso(r.remindersPausedUntil),
      stoppedReason: r.remindersStoppedReason,
    },
  };
}

const ReminderCadence = Type.Object(
  {
    everyDays: Type.Integer({ minimum: 1, maximum: 60 }),
    max: Type.Integer({ minimum: 0, maximum: 20 }),
    startDaysBeforeDue: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 60 }), Type.Null()])),
  },
  { additionalProperties: false },
);

export const CreateBody = Type.Object(
  {
    contactId: Uuid,
    /** Copies the template's items, message, expiry and reminder cadence; fields given here win. */
    templateId: Type.Optional(Uuid),
    items: Type.Optional(
      Type.Array(
        Type.Object(
          {
            label: NonBlank(200),
            description: Type.Optional(Type.String({ maxLength: 2000 })),
            required: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
        { minItems: 1, maxItems: 50 },
      ),
    ),
    message: Type.Optional(Type.String({ maxLength: 5000 })),
    expiresInDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 60 })),
    reminders: Type.Optional(ReminderCadence),
  },
  { additionalProperties: false },
);

export const RemindersBody = Type.Object(
  {
    everyDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 60 })),
    max: Type.Optional(Type.Integer({ minimum: 0, maximum: 20 })),
    startDaysBeforeDue: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 60 }), Type.Null()])),
    /** No reminders before this moment; null resumes them. */
    pausedUntil: Type.Optional(Type.Union([Timestamp, Type.Null()])),
  },
  { additionalProperties: false },
);

export const ReviewBody = Type.Object(
  {
    decision: Type.Union([Type.Literal('accept'), Type.Literal('reject')]),
    comment: Type.Optional(NonBlank(2000)),
  },
  { additionalProperties: false },
);

export const MessageView = Type.Object(
  {
    id: Uuid,
    kind: MessageKind,
    reason: Type.String(),
    to: Type.String(),
    status: MessageStatus,
    attempts: Type.Integer(),
    nextAttemptAt: Timestamp,
    lastError: NullableString,
    messageId: Type.String(),
    providerMessageId: NullableString,
    sentAt: NullableTimestamp,
    createdAt: Timestamp,
  },
  { additionalProperties: false },
);
export const MESSAGE_COLUMNS = {
  id: true,
  kind: true,
  reason: true,
  toAddress: true,
  status: true,
  attempts: true,
  nextAttemptAt: true,
  lastError: true,
  providerMessageId: true,
  sentAt: true,
  createdAt: true,
} as const satisfies Prisma.OutboxMessageSelect;
type MessageRow = Prisma.OutboxMessageGetPayload<{ select: typeof MESSAGE_COLUMNS }>;

/** `messageId` is the Message-ID the mail went out with (derived from the row id and the mail domain). */
export function messageView(m: MessageRow, messageId: string) {
  return {
    id: m.id,
    kind: checked<Static<typeof MessageKind>>(m.kind),
    reason: m.reason,
    to: m.toAddress,
    status: checked<Static<typeof MessageStatus>>(m.status),
    attempts: m.attempts,
    nextAttemptAt: iso(m.nextAttemptAt),
    lastError: m.lastError,
    messageId,
    providerMessageId: m.providerMessageId,
    sentAt: iso(m.sentAt),
    createdAt: iso(m.createdAt),
  };
}

/** What staff see of a link's and a request's delivery history: replays, reminders, failures. */
export const DELIVERY_EVENT_TYPES = [
  'magic_link.handed_over',
  'magic_link.replayed',
  'magic_link.requested',
  'reminder.sent',
  'reminder.stopped',
  'message.failed',
];
export const DeliveryEvent = Type.Object(
  { eventType: Type.String(), occurredAt: Timestamp, data: Type.Record(Type.String(), Type.Unknown()) },
  { additionalProperties: false },
);
export const DeliveryHistory = Type.Object(
  { messages: Type.Array(MessageView), events: Type.Array(DeliveryEvent) },
  { additionalProperties: false },
);

export const HandoverLink = Type.Object({ url: Type.String(), expiresAt: Timestamp }, { additionalProperties: false });

export const OutstandingClient = Type.Object(
  { clientId: Uuid, openRequests: Type.Integer({ minimum: 0 }), outstandingItems: Type.Integer({ minimum: 0 }) },
  { additionalProperties: false },
);
