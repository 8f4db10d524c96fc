import { addDays, type CalendarDate, firmDate, firmInstant, wallClock } from '@breezycorp/db/pdpa-clocks';

/**
 * Reminder cadence and stop conditions: pure decisions (unit-tested without a database);
 * the scheduler in delivery/reminder-scheduler.ts applies them in each client's unit of work.
 *
 * Reminders go out in the firm's business hours: Monday to Friday, 09:00–18:00 on the firm's
 * wall clock (Asia/Singapore; its calendar arithmetic is the PDPA clocks' own, in
 * @breezycorp/db/pdpa-clocks). Public holidays are not modelled.
 */

const DAY_MS = 86_400_000;
const OPENS_AT_HOUR = 9;
const CLOSES_AT_HOUR = 18;

/** Monday to Friday: a calendar date's weekday (0 is Sunday). */
function isWeekday(date: CalendarDate): boolean {
  const day = new Date(Date.UTC(date.year, date.month - 1, date.day)).getUTCDay();
  return day >= 1 && day <= 5;
}

export function isBusinessHours(t: Date): boolean {
  const w = wallClock(t);
  return isWeekday(w) && w.hour >= OPENS_AT_HOUR && w.hour < CLOSES_AT_HOUR;
}

/** `t` itself when inside business hours, otherwise the next opening (09:00 on the firm's next weekday). */
export function nextBusinessTime(t: Date): Date {
  if (isBusinessHours(t)) return t;
  // The first weekday from today (on the firm's calendar) whose opening is still ahead of t.
  let day = firmDate(t);
  while (!isWeekday(day) || firmInstant(day, OPENS_AT_HOUR).getTime() <= t.getTime()) day = addDays(day, 1);
  return firmInstant(day, OPENS_AT_HOUR);
}

export interface Cadence {
  everyDays: number | null;
  max: number;
  startDaysBeforeDue: number | null;
}

/**
 * When the first reminder is due: X days before the due date (at opening time) when that
 * is set and still ahead, otherwise N days after the request was sent. Null: no reminders.
 */
export function firstReminderAt(cadence: Cadence, sentAt: Date, dueDate: Date | null): Date | null {
  if (cadence.max <= 0 || cadence.everyDays === null) return null;
  if (cadence.startDaysBeforeDue !== null && dueDate) {
    // The due date is a calendar date (a DATE column, read at UTC midnight): X days before it, at the firm's opening.
    const due: CalendarDate = { year: dueDate.getUTCFullYear(), month: dueDate.getUTCMonth() + 1, day: dueDate.getUTCDate() };
    const start = firmInstant(addDays(due, -cadence.startDaysBeforeDue), OPENS_AT_HOUR);
    if (start.getTime() > sentAt.getTime()) return nextBusinessTime(start);
  }
  return nextBusinessTime(new Date(sentAt.getTime() + cadence.everyDays * DAY_MS));
}

export type StopReason =
  | 'all_submitted'
  | 'request_cancelled'
  | 'request_completed'
  | 'request_expired'
  | 'contact_deleted'
  | 'count_reached';

export interface ReminderState {
  status: string;
  expiresAt: Date;
  contactDeleted: boolean;
  items: { required: boolean; status: string }[];
  remindersSent: number;
  reminderMax: number;
  pausedUntil: Date | null;
}

export type ReminderDecision =
  | { action: 'stop'; reason: StopReason }
  | { action: 'wait'; until: Date; reason: 'paused' | 'outside_business_hours' }
  | { action: 'send' };

const DONE = new Set(['submitted', 'accepted']);

/** Every required item submitted or accepted (every item, when none is marked required). */
export function allRequiredSubmitted(items: { required: boolean; status: string }[]): boolean {
  const required = items.some((item) => item.required) ? items.filter((item) => item.required) : items;
  return required.length > 0 && required.every((item) => DONE.has(item.status));
}

/** What to do with a request whose reminder is due now. Stop conditions come first, in this order. */
export function reminderDecision(state: ReminderState, now: Date): ReminderDecision {
  if (state.status === 'cancelled') return { action: 'stop', reason: 'request_cancelled' };
  if (state.status === 'completed') return { action: 'stop', reason: 'request_completed' };
  if (state.expiresAt.getTime() <= now.getTime()) return { action: 'stop', reason: 'request_expired' };
  if (state.contactDeleted) return { action: 'stop', reason: 'contact_deleted' };
  if (allRequiredSubmitted(state.items)) return { action: 'stop', reason: 'all_submitted' };
  if (state.remindersSent >= state.reminderMax) return { action: 'stop', reason: 'count_reached' };
  if (state.pausedUntil && state.pausedUntil.getTime() > now.getTime()) {
    return { action: 'wait', until: nextBusinessTime(state.pausedUntil), reason: 'paused' };
  }
  if (!isBusinessHours(now)) return { action: 'wait', until: nextBusinessTime(now), reason: 'outside_business_hours' };
  return { action: 'send' };
}

/** The reminder after one sent now: N days later, in business hours; null once the count is reached. */
export function nextReminderAfterSend(cadence: Cadence, sentSoFar: number, now: Date): Date | null {
  if (cadence.everyDays === null || sentSoFar >= cadence.max) return null;
  return nextBusinessTime(new Date(now.getTime() + cadence.everyDays * DAY_MS));
}
