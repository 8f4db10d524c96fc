import { describe, expect, it } from 'vitest';
import { retryDelayMs } from '../services/delivery/worker.ts';
import {
  allRequiredSubmitted,
  firstReminderAt,
  isBusinessHours,
  nextBusinessTime,
  type ReminderState,
  reminderDecision,
} from '../services/reminders.ts';

/** The pure half of reminders: business hours in Singapore, cadence and the stop conditions, without a database. */

// Wednesday 2026-12-02, 10:00 in Singapore (02:00 UTC).
const WED_10_SGT = new Date('2026-12-02T02:00:00Z');

const open: ReminderState = {
  status: 'open',
  expiresAt: new Date('2026-12-30T00:00:00Z'),
  contactDeleted: false,
  items: [
    { required: true, status: 'pending' },
    { required: false, status: 'pending' },
  ],
  remindersSent: 0,
  reminderMax: 3,
  pausedUntil: null,
};

describe('Singapore business hours', () => {
  it('are Monday to Friday, 09:00 to 18:00 Singapore time (UTC+8)', () => {
    expect(isBusinessHours(WED_10_SGT)).toBe(true);
    expect(isBusinessHours(new Date('2026-12-02T00:59:00Z'))).toBe(false); // 08:59 SGT
    expect(isBusinessHours(new Date('2026-12-02T01:00:00Z'))).toBe(true); // 09:00 SGT
    expect(isBusinessHours(new Date('2026-12-02T10:00:00Z'))).toBe(false); // 18:00 SGT
    expect(isBusinessHours(new Date('2026-12-05T02:00:00Z'))).toBe(false); // Saturday
  });

  it('outside them, the next opening is 09:00 SGT on the next weekday', () => {
    expect(nextBusinessTime(WED_10_SGT)).toEqual(WED_10_SGT);
    // Wednesday 19:00 SGT → Thursday 09:00 SGT.
    expect(nextBusinessTime(new Date('2026-12-02T11:00:00Z')).toISOString()).toBe('2026-12-03T01:00:00.000Z');
    // Friday 20:00 SGT → Monday 09:00 SGT.
    expect(nextBusinessTime(new Date('2026-12-04T12:00:00Z')).toISOString()).toBe('2026-12-07T01:00:00.000Z');
    // Monday 03:00 SGT (Sunday 19:00 UTC) → Monday 09:00 SGT.
    expect(nextBusinessTime(new Date('2026-12-06T19:00:00Z')).toISOString()).toBe('2026-12-07T01:00:00.000Z');
  });
});

describe('cadence', () => {
  it('starts N days after sending, or X days before the due date when that is later', () => {
    const cadence = { everyDays: 3, max: 2, startDaysBeforeDue: null };
    expect(firstReminderAt(cadence, WED_10_SGT, null)?.toISOString()).toBe('2026-12-07T01:00:00.000Z'); // Sat → Mon 09:00
    const beforeDue = { everyDays: 3, max: 2, startDaysBeforeDue: 5 };
    // Due 2026-12-20 (a Sunday): 5 days before is Tuesday 2026-12-15, 09:00 SGT.
    expect(firstReminderAt(beforeDue, WED_10_SGT, new Date('2026-12-20T00:00:00Z'))?.toISOString()).toBe('2026-12-15T01:00:00.000Z');
    // A due date too close: fall back to N days after sending.
    expect(firstReminderAt(beforeDue, WED_10_SGT, new Date('2026-12-04T00:00:00Z'))?.toISOString()).toBe('2026-12-07T01:00:00.000Z');
  });

  it('has no reminders when the maximum is 0 or no interval is set', () => {
    expect(firstReminderAt({ everyDays: 3, max: 0, startDaysBeforeDue: null }, WED_10_SGT, null)).toBeNull();
    expect(firstReminderAt({ everyDays: null, max: 3, startDaysBeforeDue: null }, WED_10_SGT, null)).toBeNull();
  });

  it('retries a failed send with capped exponential backoff', () => {
    expect([1, 2, 3, 4, 10].map((attempt) => retryDelayMs(attempt, 30_000, 300_000))).toEqual([30_000, 60_000, 120_000, 240_000, 300_000]);
  });
});

describe('stop conditions, in order', () => {
  const cases: [string, Partial<ReminderState>, ReturnType<typeof reminderDecision>][] = [
    ['request cancelled', { status: 'cancelled' }, { action: 'stop', reason: 'request_cancelled' }],
    ['request completed', { status: 'completed' }, { action: 'stop', reason: 'request_completed' }],
    ['request expired', { expiresAt: new Date(WED_10_SGT.getTime() - 1) }, { action: 'stop', reason: 'request_expired' }],
    ['contact deleted', { contactDeleted: true }, { action: 'stop', reason: 'contact_deleted' }],
    [
      'all required items submitted or accepted (optional ones outstanding)',
      {
        items: [
          { required: true, status: 'submitted' },
          { required: true, status: 'accepted' },
          { required: false, status: 'pending' },
        ],
      },
      { action: 'stop', reason: 'all_submitted' },
    ],
    ['reminder count reached', { remindersSent: 3 }, { action: 'stop', reason: 'count_reached' }],
    [
      'paused until a date',
      { pausedUntil: new Date('2026-12-09T05:00:00Z') },
      { action: 'wait', until: new Date('2026-12-09T05:00:00Z'), reason: 'paused' },
    ],
  ];
  for (const [name, change, expected] of cases) {
    it(`${name} → ${expected.action === 'stop' ? expected.reason : expected.action}`, () => {
      expect(reminderDecision({ ...open, ...change }, WED_10_SGT)).toEqual(expected);
    });
  }

  it('a rejected required item is outstanding again: reminders continue', () => {
    const items = [{ required: true, status: 'rejected' }];
    expect(allRequiredSubmitted(items)).toBe(false);
    expect(reminderDecision({ ...open, items }, WED_10_SGT)).toEqual({ action: 'send' });
  });

  it('outside business hours it waits for the next opening instead of sending', () => {
    const saturday = new Date('2026-12-05T02:00:00Z');
    expect(reminderDecision(open, saturday)).toEqual({
      action: 'wait',
      until: new Date('2026-12-07T01:00:00Z'),
      reason: 'outside_business_hours',
    });
  });
});
