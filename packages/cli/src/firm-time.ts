import { InvalidArgumentError } from 'commander';

/**
 * The firm's time zone. PDPA clocks count calendar days as the firm lives them, so a
 * deadline is the end of a day in Singapore, not in UTC or on the operator's laptop.
 */
export const FIRM_TIME_ZONE = 'Asia/Singapore';

export interface CalendarDate {
  year: number;
  month: number;
  day: number;
}

const partsFormat = new Intl.DateTimeFormat('en-CA', {
  timeZone: FIRM_TIME_ZONE,
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});

function wallClock(instant: Date): { year: number; month: number; day: number; hour: number; minute: number; second: number } {
  const parts = Object.fromEntries(partsFormat.formatToParts(instant).map((part) => [part.type, part.value]));
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    second: Number(parts.second),
  };
}

/** The firm's zone offset at an instant, in ms (Singapore: +8 h all year). */
function offsetAt(instant: Date): number {
  const w = wallClock(instant);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUtc - Math.floor(instant.getTime() / 1000) * 1000;
}

/** The instant at which the firm's wall clock shows this date and time. */
export function firmInstant(date: CalendarDate, hour = 0, minute = 0, second = 0, ms = 0): Date {
  const guess = Date.UTC(date.year, date.month - 1, date.day, hour, minute, second, ms);
  return new Date(guess - offsetAt(new Date(guess)));
}

export function firmDate(instant: Date): CalendarDate {
  const { year, month, day } = wallClock(instant);
  return { year, month, day };
}

/** Calendar arithmetic (month and year boundaries, leap years) on a date without a time. */
export function addDays(date: CalendarDate, days: number): CalendarDate {
  const shifted = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
  return { year: shifted.getUTCFullYear(), month: shifted.getUTCMonth() + 1, day: shifted.getUTCDate() };
}

/** The last millisecond of a day in the firm's zone. */
export function endOfFirmDay(date: CalendarDate): Date {
  return firmInstant(date, 23, 59, 59, 999);
}

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
