import type { Prisma } from '@breezycorp/db';
import { Type } from 'typebox';
import { columnsOf, iso, NonBlank, NullableInt, NullableString, NullableTimestamp, Timestamp, Uuid } from '../schemas.ts';

/**
 * Firm-wide request templates: a checklist and the defaults a request copies (message,
 * expiry, reminder cadence). Every staff member reads them; only admins write them (their
 * staff-only routes run as spade_admin). Creating a request from a template copies its
 * fields, so editing a template never changes a request already sent.
 */
const TemplateItem = Type.Object(
  {
    label: NonBlank(200),
    description: Type.Optional(Type.Union([Type.String({ maxLength: 2000 }), Type.Null()])),
    required: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
const fields = {
  name: NonBlank(200),
  message: Type.Optional(Type.Union([Type.String({ maxLength: 5000 }), Type.Null()])),
  items: Type.Array(TemplateItem, { minItems: 1, maxItems: 50 }),
  expiresInDays: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 60 }), Type.Null()])),
  reminderEveryDays: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 60 }), Type.Null()])),
  reminderMax: Type.Optional(Type.Integer({ minimum: 0, maximum: 20 })),
  reminderStartDaysBeforeDue: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 60 }), Type.Null()])),
};
export const CreateBody = Type.Object(fields, { additionalProperties: false });
export const UpdateBody = Type.Partial(Type.Object({ ...fields, archived: Type.Boolean() }, { additionalProperties: false }));

export const TemplateView = Type.Object(
  {
    id: Uuid,
    name: Type.String(),
    message: NullableString,
    items: Type.Array(
      Type.Object(
        { label: Type.String(), description: Type.Union([Type.String(), Type.Null()]), required: Type.Boolean() },
        { additionalProperties: false },
      ),
    ),
    expiresInDays: NullableInt,
    reminderEveryDays: NullableInt,
    reminderMax: Type.Integer(),
    reminderStartDaysBeforeDue: NullableInt,
    archivedAt: NullableTimestamp,
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { additionalProperties: false },
);

type ItemInput = { label: string; description?: string | null | undefined; required?: boolean | undefined };
export const normaliseItems = (items: ItemInput[]) =>
  items.map((item) => ({ label: item.label, description: item.description ?? null, required: item.required ?? true }));

/** Every column TemplateView shows. */
export const TEMPLATE_COLUMNS = columnsOf(TemplateView) satisfies Prisma.RequestTemplateSelect;
type TemplateRow = Prisma.RequestTemplateGetPayload<{ select: typeof TEMPLATE_COLUMNS }>;

export function templateView(t: TemplateRow) {
  return {
    id: t.id,
    name: t.name,
    message: t.message,
    items: normaliseItems(t.items as ItemInput[]),
    expiresInDays: t.expiresInDays,
    reminderEveryDays: t.reminderEveryDays,
    reminderMax: t.reminderMax,
    reminderStartDaysBeforeDue: t.reminderStartDaysBeforeDue,
    archivedAt: iso(t.archivedAt),
    createdAt: iso(t.createdAt),
    updatedAt: iso(t.updatedAt),
  };
}

export const TemplateParams = Type.Object({ templateId: Uuid }, { additionalProperties: false });
