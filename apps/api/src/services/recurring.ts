/** Recurring schedules: which period a run covers and when the next one is (pure, unit-tested). */

export type Frequency = 'monthly' | 'quarterly' | 'yearly';
const MONTHS: Record<Frequency, number> = { monthly: 1, quarterly: 3, yearly: 12 };

/** The period a run on `runOn` creates: `2026-12`, `2026-Q4`, `2026`. */
export function periodOf(frequency: Frequency, runOn: Date): string {
  const year = runOn.getUTCFullYear();
  const month = runOn.getUTCMonth() + 1;
  if (frequency === 'monthly') return `${year}-${String(month).padStart(2, '0')}`;
  if (frequency === 'quarterly') return `${year}-Q${Math.ceil(month / 3)}`;
  return String(year);
}

/** The run after `runOn`: one month, quarter or year later, on day `dayOfMonth` (1–28, so it always exists). */
export function nextRunAfter(frequency: Frequency, runOn: Date, dayOfMonth: number): Date {
  return new Date(Date.UTC(runOn.getUTCFullYear(), runOn.getUTCMonth() + MONTHS[frequency], dayOfMonth));
}

/** The first run on or after `from` (a calendar date) on day `dayOfMonth`. */
export function firstRunOnOrAfter(from: Date, dayOfMonth: number): Date {
  const candidate = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), dayOfMonth));
  return candidate.getTime() >= Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate())
    ? candidate
    : new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth() + 1, dayOfMonth));
}
