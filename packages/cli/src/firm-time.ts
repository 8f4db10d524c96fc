import { type CalendarDate, firmDate, firmInstant, wallClock } from '@breezycorp/db/pdpa-clocks';
import { InvalidArgumentError } from 'commander';

// The calendar arithmetic lives with the PDPA clocks in @breezycorp/db (the API's incident
// console computes the same deadlines); formatting and parsing an operator's input stay here.
export { addDays, type CalendarDate, endOfFirmDay, FIRM_TIME_ZONE, firmDate, firmInstant } from '@breezycorp/db/pdpa-clocks';

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

export function formatDate(date: CalendarDate): string {
  return `${pad(date.year, 4)}-${pad(date.month)}-${pad(date.day)}`;
}

/** `2027-01-02 23:59 SGT`: how the firm reads a time. */
export function formatFirmTime(instant: Date): string {
  const w = wallClock(instant);
  return `${formatDate(w)} ${pad(w.hour)}:${pad(w.minute)} SGT`;
}

/** `#incident-tenant-leak-20261130`: the runbook's channel, dated in the firm's zone. */
export function incidentChannel(openedAt: Date): string {
  const d = firmDate(openedAt);
  return `#incident-tenant-leak-${pad(d.year, 4)}${pad(d.month)}${pad(d.day)}`;
}

/**
 * A time typed by the operator: `2026-12-30` (that day, 00:00 in Singapore),
 * `2026-12-30T15:00` (Singapore wall clock) or a full ISO time with `Z` or an offset.
 */
export function parseFirmTime(text: string): Date {
  const trimmed = text.trim();
  const local = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(trimmed);
  if (local) {
    const [year, month, day, hour, minute, second] = local.slice(1).map((v) => (v === undefined ? 0 : Number(v))) as number[];
    const date = { year: year!, month: month!, day: day! };
    const check = new Date(Date.UTC(date.year, date.month - 1, date.day));
    if (check.getUTCMonth() + 1 !== date.month || check.getUTCDate() !== date.day || hour! > 23 || minute! > 59 || second! > 59) {
      throw new InvalidArgumentError(`"${text}" is not a real date/time`);
    }
    return firmInstant(date, hour, minute, second);
  }
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(trimmed)) {
    const instant = new Date(trimmed);
    if (!Number.isNaN(instant.getTime())) return instant;
  }
  throw new InvalidArgumentError(
    `"${text}" is not a date/time: use 2026-12-30, 2026-12-30T15:00 (Singapore time) or an ISO time with Z or an offset`,
  );
}
