import { describe, expect, it } from 'vitest';
import { BreadthDetector } from '../services/breadth-detector.ts';

/* The breadth decision, without a database: what counts as "too many clients" and "a burst". */
const MINUTE = 60_000;
const limits = {
  staffClientsThreshold: 5,
  staffBaselineFactor: 3,
  staffWindowMs: 10 * MINUTE,
  staffBaselineWindows: 6,
  deniedBurstThreshold: 3,
  deniedBurstWindowMs: MINUTE,
};
const clients = (n: number, prefix = 'c') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('staff breadth', () => {
  it('alerts once when a new staff member touches more clients in a window than the threshold', () => {
    const detector = new BreadthDetector(limits);
    const verdicts = clients(8).map((client, i) => detector.observeStaffClient('s1', client, i * 1_000));
    expect(verdicts.slice(0, 5)).toEqual([null, null, null, null, null]);
    expect(verdicts[5]).toEqual({ distinctClients: 6, baseline: 0, windowMinutes: 10 });
    expect(verdicts.slice(6)).toEqual([null, null]);
  });

  it('repeat visits to the same clients never count twice', () => {
    const detector = new BreadthDetector(limits);
    for (let i = 0; i < 100; i++) expect(detector.observeStaffClient('s1', `c${i % 5}`, i)).toBeNull();
  });

  it('does not alert someone whose own baseline is that broad, but does at k× it', () => {
    const detector = new BreadthDetector(limits);
    // Six windows of 8 clients each: the baseline is 8.
    for (let w = 0; w < 6; w++) for (const client of clients(8)) detector.observeStaffClient('s1', client, w * 10 * MINUTE);
    let verdict = null;
    for (const client of clients(24, 'x')) verdict ??= detector.observeStaffClient('s1', client, 60 * MINUTE + 1);
    expect(verdict).toBeNull(); // 24 = 3 × 8: not more than k× the baseline
    expect(detector.observeStaffClient('s1', 'x-one-more', 60 * MINUTE + 2)).toMatchObject({ distinctClients: 25, baseline: 8 });
  });

  it('idle windows count as zero in the baseline', () => {
    const detector = new BreadthDetector(limits);
    for (const client of clients(30)) detector.observeStaffClient('s1', client, 0);
    // Far later: the busy window has aged out of the six-window baseline.
    let verdict = null;
    for (const client of clients(6, 'y')) verdict ??= detector.observeStaffClient('s1', client, 100 * MINUTE);
    expect(verdict).toMatchObject({ distinctClients: 6 });
  });
});

describe('denial bursts', () => {
  it('alerts at the threshold within the window, then not again until a window has passed', () => {
    const detector = new BreadthDetector(limits);
    expect(detector.observeDenial('a', 0)).toBeNull();
    expect(detector.observeDenial('a', 1_000)).toBeNull();
    expect(detector.observeDenial('a', 2_000)).toBe(3);
    expect(detector.observeDenial('a', 3_000)).toBeNull();
    expect(detector.observeDenial('b', 3_000)).toBeNull();
    // A minute after the alert, the denials still inside the window add up again.
    expect(detector.observeDenial('a', 2_000 + MINUTE)).toBeNull();
    expect(detector.observeDenial('a', 2_001 + MINUTE)).toBe(3);
  });

  it('denials spread wider than the window never add up to a burst', () => {
    const detector = new BreadthDetector(limits);
    for (let i = 0; i < 20; i++) expect(detector.observeDenial('a', i * (MINUTE / 2 + 1))).toBeNull();
  });
});
