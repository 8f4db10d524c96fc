import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assessmentDeadline, incidentClocks, pdpcDeadline, postMortemDeadline } from '../src/clocks.ts';
import { parseDuration } from '../src/duration.ts';
import { formatFirmTime, incidentChannel, parseFirmTime } from '../src/firm-time.ts';
import { type CliFixture, createCliFixture } from './support.ts';

/** The end of a day in Singapore (UTC+8), as an instant. */
const endOfSgtDay = (date: string) => new Date(`${date}T23:59:59.999+08:00`);

describe('PDPA clocks in Asia/Singapore', () => {
  it('PDPC: determined on 1 January → notify by 4 January, end of day SGT', () => {
    expect(pdpcDeadline(new Date('2026-01-01T09:00:00+08:00'))).toEqual(endOfSgtDay('2026-01-04'));
  });

  it('PDPC across a year boundary: determined 2026-12-30 → 2027-01-02', () => {
    expect(pdpcDeadline(new Date('2026-12-30T10:00:00+08:00'))).toEqual(endOfSgtDay('2027-01-02'));
  });

  it('PDPC across a month boundary, late in the Singapore day that is still the previous day in UTC', () => {
    // 2026-02-27 23:30 SGT is 15:30 UTC the same day; 2026-02-28 00:30 SGT is 16:30 UTC on the 27th.
    expect(pdpcDeadline(new Date('2026-02-27T23:30:00+08:00'))).toEqual(endOfSgtDay('2026-03-02'));
    expect(pdpcDeadline(new Date('2026-02-27T16:30:00Z'))).toEqual(endOfSgtDay('2026-03-03'));
  });

  it('assessment: opened 2026-01-31 → by 2026-03-02 (30 calendar days, February of a common year)', () => {
    expect(assessmentDeadline(new Date('2026-01-31T14:00:00+08:00'))).toEqual(endOfSgtDay('2026-03-02'));
  });

  it('assessment in a leap year: opened 2028-01-31 → by 2028-03-01', () => {
    expect(assessmentDeadline(new Date('2028-01-31T14:00:00+08:00'))).toEqual(endOfSgtDay('2028-03-01'));
  });

  it('assessment across a year boundary: opened 2026-12-15 → by 2027-01-14', () => {
    expect(assessmentDeadline(new Date('2026-12-15T08:00:00+08:00'))).toEqual(endOfSgtDay('2027-01-14'));
  });

  it('post-mortem: 72 hours after resolution, to the minute, across a month end', () => {
    expect(postMortemDeadline(new Date('2026-11-29T18:45:00+08:00'))).toEqual(new Date('2026-12-02T18:45:00+08:00'));
  });

  it('reports state: running, overdue with the late-notification reminder, not started, not applicable', () => {
    const openedAt = new Date('2026-12-01T09:00:00+08:00');
    const notYet = incidentClocks(
      { openedAt, notifiable: null, notifiableDeterminedAt: null, resolvedAt: null },
      new Date('2026-12-02T00:00:00+08:00'),
    );
    expect(notYet.map((c) => [c.name, c.state])).toEqual([
      ['assessment', 'running'],
      ['pdpc_notification', 'not_started'],
      ['post_mortem', 'not_started'],
    ]);
    const late = incidentClocks(
      { openedAt, notifiable: true, notifiableDeterminedAt: new Date('2026-12-30T10:00:00+08:00'), resolvedAt: null },
      new Date('2027-01-03T00:00:01+08:00'),
    );
    expect(late.find((c) => c.name === 'pdpc_notification')).toMatchObject({ state: 'overdue', note: expect.stringMatching(/reasons/) });
    const onTime = incidentClocks(
      { openedAt, notifiable: true, notifiableDeterminedAt: new Date('2026-12-30T10:00:00+08:00'), resolvedAt: null },
      new Date('2027-01-02T23:59:00+08:00'),
    );
    expect(onTime.find((c) => c.name === 'pdpc_notification')?.state).toBe('running');
    const notNotifiable = incidentClocks(
      { openedAt, notifiable: false, notifiableDeterminedAt: new Date('2026-12-03T10:00:00+08:00'), resolvedAt: null },
      openedAt,
    );
    expect(notNotifiable.find((c) => c.name === 'pdpc_notification')?.state).toBe('not_applicable');
    expect(notNotifiable.find((c) => c.name === 'assessment')?.state).toBe('met');
  });

  it('names the incident channel by the Singapore date, not the UTC one', () => {
    expect(incidentChannel(new Date('2026-12-31T16:30:00Z'))).toBe('#incident-tenant-leak-20270101');
    expect(incidentChannel(new Date('2026-11-30T15:59:00Z'))).toBe('#incident-tenant-leak-20261130');
  });

  it('reads operator times as Singapore time unless they carry a zone, and refuses impossible dates', () => {
    expect(parseFirmTime('2026-12-30')).toEqual(new Date('2026-12-30T00:00:00+08:00'));
    expect(parseFirmTime('2026-12-30T15:00')).toEqual(new Date('2026-12-30T15:00:00+08:00'));
    expect(parseFirmTime('2026-12-30T15:00:00Z')).toEqual(new Date('2026-12-30T15:00:00Z'));
    expect(() => parseFirmTime('2026-02-30')).toThrow(/not a real date/);
    expect(() => parseFirmTime('yesterday')).toThrow(/not a date/);
    expect(formatFirmTime(new Date('2026-12-31T16:30:00Z'))).toBe('2027-01-01 00:30 SGT');
  });
});

describe('durations', () => {
  it('accepts Ns, Nm, Nh, Nd as PostgreSQL intervals', () => {
    expect(parseDuration('90s')).toMatchObject({ ms: 90_000, interval: '90 seconds' });
    expect(parseDuration('30m')).toMatchObject({ ms: 1_800_000, interval: '30 minutes' });
    expect(parseDuration('24h')).toMatchObject({ ms: 86_400_000, interval: '24 hours' });
    expect(parseDuration('7d')).toMatchObject({ ms: 604_800_000, interval: '7 days' });
  });

  it('refuses anything else', () => {
    for (const bad of ['24', 'h', '1.5h', '-1h', '24 hours', '0h', '1w', '99999d', "1h'; DROP TABLE audit_events; --"]) {
      expect(() => parseDuration(bad), bad).toThrow();
    }
  });
});

describe('spade incident clocks / notifiable / resolve', () => {
  let f: CliFixture;
  beforeAll(async () => {
    f = await createCliFixture('clocks');
  });
  afterAll(async () => {
    await f?.close();
  });

  it('an incident opened 2026-01-31 must be assessed by 2026-03-02; its channel carries the opening date', async () => {
    const opened = await f.run(['incident', 'open', '--title', 'boundary', '--reporter', 'test', '--at', '2026-01-31T10:00', '--json']);
    expect(opened.code, opened.io.stderr.join('\n')).toBe(0);
    const { incidentId, channel } = opened.io.json<{ incidentId: string; channel: string }>();
    expect(channel).toBe('#incident-tenant-leak-20260131');
    const clocks = await f.run(['incident', 'clocks', incidentId, '--now', '2026-02-01', '--json']);
    expect(clocks.code).toBe(0);
    const assessment = clocks.io.json<{ clocks: { name: string; deadline: string; state: string }[] }>().clocks[0]!;
    expect(assessment).toMatchObject({ name: 'assessment', state: 'running' });
    expect(new Date(assessment.deadline)).toEqual(endOfSgtDay('2026-03-02'));
    const human = await f.run(['incident', 'clocks', incidentId, '--now', '2026-02-01']);
    expect(human.io.text()).toContain('by 2026-03-02 23:59 SGT');
  });

  it('determined notifiable on 2026-12-30 → PDPC by 2027-01-02; re-recording the same determination changes nothing', async () => {
    const incidentId = (
      await f.run(['incident', 'open', '--title', 'year end', '--reporter', 'test', '--at', '2026-12-20', '--json'])
    ).io.json<{
      incidentId: string;
    }>().incidentId;
    const determined = await f.run([
      'incident',
      'notifiable',
      incidentId,
      '--at',
      '2026-12-30T18:00',
      '--basis',
      'bank statements',
      '--json',
    ]);
    expect(determined.code, determined.io.stderr.join('\n')).toBe(0);
    expect(determined.io.json()).toMatchObject({ changed: true, notifiable: true });
    expect(new Date(determined.io.json<{ pdpc: { deadline: string } }>().pdpc.deadline)).toEqual(endOfSgtDay('2027-01-02'));
    const again = await f.run(['incident', 'notifiable', incidentId, '--at', '2026-12-31', '--json']);
    expect(again.io.json()).toMatchObject({ changed: false });
    const clocks = (await f.run(['incident', 'clocks', incidentId, '--now', '2027-01-01', '--json'])).io.json<{
      clocks: { name: string; deadline: string | null; state: string }[];
    }>().clocks;
    expect(clocks.find((c) => c.name === 'pdpc_notification')).toMatchObject({ state: 'running' });
    expect(new Date(clocks.find((c) => c.name === 'pdpc_notification')!.deadline!)).toEqual(endOfSgtDay('2027-01-02'));
  });

  it('resolve starts the 72-hour post-mortem clock and is idempotent', async () => {
    const incidentId = (
      await f.run(['incident', 'open', '--title', 'resolve me', '--reporter', 'test', '--at', '2026-11-27', '--json'])
    ).io.json<{
      incidentId: string;
    }>().incidentId;
    const resolved = await f.run(['incident', 'resolve', incidentId, '--at', '2026-11-29T18:45', '--summary', 'patched', '--json']);
    expect(resolved.code, resolved.io.stderr.join('\n')).toBe(0);
    expect(new Date(resolved.io.json<{ postMortem: { deadline: string } }>().postMortem.deadline)).toEqual(
      new Date('2026-12-02T18:45:00+08:00'),
    );
    const again = await f.run(['incident', 'resolve', incidentId, '--json']);
    expect(again.io.json()).toMatchObject({ changed: false });
    const rows = await f.sql.query(
      "SELECT count(*)::int AS n FROM incident_timeline_entries WHERE incident_id = $1 AND kind = 'resolved'",
      [incidentId],
    );
    expect(rows.rows[0].n).toBe(1);
  });

  it('a malformed date exits 2; an unknown incident exits 3', async () => {
    expect((await f.run(['incident', 'notifiable', '10000000-0000-4000-8000-000000000999', '--at', '30/12/2026'])).code).toBe(2);
    expect((await f.run(['incident', 'clocks', '10000000-0000-4000-8000-000000000999'])).code).toBe(3);
    expect((await f.run(['incident', 'clocks', 'nope'])).code).toBe(2);
  });
});
