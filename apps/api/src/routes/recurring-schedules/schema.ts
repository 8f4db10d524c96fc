import type { Prisma } from '@breezycorp/db';
import { type Static, Type } from 'typebox';
import {
  CycleKind,
  checked,
  columnsOf,
  DateOnly,
  Frequency,
  iso,
  isoDate,
  NullableString,
  NullableTimestamp,
  Timestamp,
  Uuid,
} from '../schemas.ts';

/**
 * A client's recurring requests: a template sent to one of its contacts every month,
 * quarter or year on day D (1–28).
 */

export const ScheduleParams = Type.Object({ clientId: Uuid, scheduleId: Uuid }, { additionalProperties: false });
export const CreateBody = Type.Object(
  {
    templateId: Uuid,
    contactId: Uuid,
    frequency: Frequency,
    dayOfMonth: Type.Integer({ minimum: 1, maximum: 28 }),
    cycleKind: CycleKind,
    /** The first run is the first day D on or after this date (default: today). */
    startOn: Type.Optional(DateOnly),
  },
  { additionalProperties: false },
);
export const ScheduleView = Type.Object(
  {
    id: Uuid,
    clientId: Uuid,
    templateId: Uuid,
    contactId: Uuid,
    frequency: Frequency,
    dayOfMonth: Type.Integer(),
    cycleKind: CycleKind,
    nextRunOn: DateOnly,
    lastPeriod: NullableString,
    cancelledAt: NullableTimestamp,
    createdAt: Timestamp,
  },
  { additionalProperties: false },
);

/** Every column ScheduleView shows. */
export const SCHEDULE_COLUMNS = columnsOf(ScheduleView) satisfies Prisma.RecurringScheduleSelect;
type ScheduleRow = Prisma.RecurringScheduleGetPayload<{ select: typeof SCHEDULE_COLUMNS }>;

export const scheduleView = (s: ScheduleRow) => ({
  id: s.id,
  clientId: s.clientId,
  templateId: s.templateId,
  contactId: s.contactId,
  frequency: checked<Static<typeof Frequency>>(s.frequency),
  dayOfMonth: s.dayOfMonth,
  cycleKind: checked<Static<typeof CycleKind>>(s.cycleKind),
  nextRunOn: isoDate(s.nextRunOn),
  lastPeriod: s.lastPeriod,
  cancelledAt: iso(s.cancelledAt),
  createdAt: iso(s.createdAt),
});
