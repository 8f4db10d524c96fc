/**
 * The PDPA clocks, shared by the `spade` CLI (which records incidents) and the API's admin
 * incident console (which shows them): one rule set, never two copies. Pure — no database,
 * no I/O — so both can import it. Calendar arithmetic is done in the firm's zone.
 */

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

/** The firm's wall clock at an instant. */
export function wallClock(instant: Date): { year: number; month: number; day: number; hour: number; minute: number; second: number } {
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

/**
 * The PDPA clocks (docs/spec/pdpa-breach-notification.md), computed in the firm's zone.
 * Calendar days: day one is the day after the event, and a deadline runs to the end of its
 * last day in Singapore.
 */
export const ASSESSMENT_DAYS = 30;
export const PDPC_NOTIFY_DAYS = 3;
export const POSTMORTEM_HOURS = 72;

export interface IncidentTimes {
  openedAt: Date;
  notifiable: boolean | null;
  notifiableDeterminedAt: Date | null;
  resolvedAt: Date | null;
}

export type ClockState = 'running' | 'met' | 'overdue' | 'not_started' | 'not_applicable';

export interface Clock {
  name: 'assessment' | 'pdpc_notification' | 'post_mortem';
  label: string;
  rule: string;
  deadline: Date | null;
  state: ClockState;
  note: string;
}

/** Assessment: within 30 calendar days of having credible grounds (the incident's opening). */
export function assessmentDeadline(openedAt: Date): Date {
  return endOfFirmDay(addDays(firmDate(openedAt), ASSESSMENT_DAYS));
}

/** PDPC: no later than 3 calendar days after the day of the determination (1 Jan → 4 Jan, end of day). */
export function pdpcDeadline(determinedAt: Date): Date {
  return endOfFirmDay(addDays(firmDate(determinedAt), PDPC_NOTIFY_DAYS));
}

/** Blameless post-mortem: published within 72 hours of resolution (hours, not calendar days). */
export function postMortemDeadline(resolvedAt: Date): Date {
  return new Date(resolvedAt.getTime() + POSTMORTEM_HOURS * 3_600_000);
}

export function incidentClocks(incident: IncidentTimes, now: Date): Clock[] {
  const running = (deadline: Date, doneAt: Date | null): ClockState =>
    doneAt ? (doneAt <= deadline ? 'met' : 'overdue') : now <= deadline ? 'running' : 'overdue';

  const assessment = assessmentDeadline(incident.openedAt);
  const clocks: Clock[] = [
    {
      name: 'assessment',
      label: 'Assessment of notifiability',
      rule: `${ASSESSMENT_DAYS} calendar days from credible grounds (incident opened)`,
      deadline: assessment,
      state: running(assessment, incident.notifiableDeterminedAt),
      note: incident.notifiableDeterminedAt ? 'determination recorded' : 'record it with `spade incident notifiable`',
    },
  ];
  if (incident.notifiableDeterminedAt === null) {
    clocks.push({
      name: 'pdpc_notification',
      label: 'PDPC notification',
      rule: `${PDPC_NOTIFY_DAYS} calendar days after the day the breach is determined notifiable`,
      deadline: null,
      state: 'not_started',
      note: 'starts when the breach is determined notifiable',
    });
  } else if (incident.notifiable === false) {
    clocks.push({
      name: 'pdpc_notification',
      label: 'PDPC notification',
      rule: `${PDPC_NOTIFY_DAYS} calendar days after the day the breach is determined notifiable`,
      deadline: null,
      state: 'not_applicable',
      note: 'determined not notifiable; keep the documented assessment',
    });
  } else {
    const deadline = pdpcDeadline(incident.notifiableDeterminedAt);
    const state: ClockState = now <= deadline ? 'running' : 'overdue';
    clocks.push({
      name: 'pdpc_notification',
      label: 'PDPC notification',
      rule: `${PDPC_NOTIFY_DAYS} calendar days after the day the breach is determined notifiable`,
      deadline,
      state,
      note:
        state === 'overdue'
          ? 'late: the notification must state the reasons, with supporting evidence'
          : 'notify as soon as practicable; individuals at the same time or after',
    });
  }
  if (incident.resolvedAt === null) {
    clocks.push({
      name: 'post_mortem',
      label: 'Blameless post-mortem',
      rule: `${POSTMORTEM_HOURS} hours after resolution`,
      deadline: null,
      state: 'not_started',
      note: 'starts when the incident is resolved',
    });
  } else {
    const deadline = postMortemDeadline(incident.resolvedAt);
    clocks.push({
      name: 'post_mortem',
      label: 'Blameless post-mortem',
      rule: `${POSTMORTEM_HOURS} hours after resolution`,
      deadline,
      state: now <= deadline ? 'running' : 'overdue',
      note: 'draft it with `spade postmortem new`',
    });
  }
  return clocks;
}
