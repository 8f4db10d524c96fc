import type { Prisma } from '@breezycorp/db';
import { type Static, Type } from 'typebox';
import { CycleKind, CycleStatus, checked, columnsOf, DateOnly, iso, isoDate, NonBlank, Timestamp, Uuid } from '../schemas.ts';

/** Cycles: bodies, the view and its mapper. */

export const CycleView = Type.Object(
  {
    id: Uuid,
    clientId: Uuid,
    kind: CycleKind,
    period: Type.String(),
    title: Type.String(),
    dueDate: Type.Union([DateOnly, Type.Null()]),
    status: CycleStatus,
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { additionalProperties: false },
);

/** Every column CycleView shows. */
export const CYCLE_COLUMNS = columnsOf(CycleView) satisfies Prisma.CycleSelect;
type CycleRow = Prisma.CycleGetPayload<{ select: typeof CYCLE_COLUMNS }>;

export function cycleView(c: CycleRow) {
  return {
    id: c.id,
    clientId: c.clientId,
    kind: checked<Static<typeof CycleKind>>(c.kind),
    period: c.period,
    title: c.title,
    dueDate: isoDate(c.dueDate),
    status: checked<Static<typeof CycleStatus>>(c.status),
    createdAt: iso(c.createdAt),
    updatedAt: iso(c.updatedAt),
  };
}

export const CycleQuery = { status: Type.Optional(CycleStatus) };
export const DueSoonQuery = { days: Type.Integer({ minimum: 1, maximum: 365, default: 14 }) };

export const CreateCycleBody = Type.Object(
  {
    kind: CycleKind,
    period: NonBlank(40),
    title: NonBlank(200),
    dueDate: Type.Optional(DateOnly),
  },
  { additionalProperties: false },
);

export const UpdateCycleBody = Type.Object(
  {
    title: Type.Optional(NonBlank(200)),
    dueDate: Type.Optional(Type.Union([DateOnly, Type.Null()])),
    status: Type.Optional(CycleStatus),
  },
  { additionalProperties: false, minProperties: 1 },
);
