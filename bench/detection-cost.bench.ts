/**
 * What detection adds to a request, measured in-process (no database): the breadth check run
 * on every allowed staff request and every denial, and the decoy tripwire's scan of a
 * response. Prints ns per call; asserts nothing (`pnpm exec tsx bench/detection-cost.bench.ts`).
 * The database-side pieces (the audit trigger's join, sealing, verification) are measured by
 * packages/db/test/audit-trail.test.ts and the tests named in docs/detection.md.
 */
import { randomUUID } from 'node:crypto';
import { BreadthDetector, decoyIdsIn } from '@breezycorp/api';

const CALLS = Number(process.env.BENCH_CALLS ?? 2_000_000);
const STAFF = 1_000;
const CLIENTS = 1_000;

function time(label: string, calls: number, fn: (i: number) => void): void {
  for (let i = 0; i < Math.min(calls, 100_000); i++) fn(i); // warm-up
  const started = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) fn(i);
  const ns = Number(process.hrtime.bigint() - started) / calls;
  console.log(`${label.padEnd(72)} ${ns.toFixed(0).padStart(6)} ns/call`);
}

const staff = Array.from({ length: STAFF }, () => randomUUID());
const clients = Array.from({ length: CLIENTS }, () => randomUUID());
const limits = {
  staffClientsThreshold: 25,
  staffBaselineFactor: 3,
  staffWindowMs: 10 * 60_000,
  staffBaselineWindows: 144,
  deniedBurstThreshold: 10,
  deniedBurstWindowMs: 60_000,
};
const detector = new BreadthDetector(limits);
let now = Date.now();
// Each staff member works in ~20 clients; time advances 1 ms per request (2,000 s over the run: windows roll).
time(`breadth: observeStaffClient (${STAFF} staff, ~20 clients each, windows rolling)`, CALLS, (i) => {
  now += 1;
  detector.observeStaffClient(
    staff[i % STAFF] as string,
    clients[((i * 7 + (i % STAFF)) % 20) + ((i % STAFF) % (CLIENTS - 20))] as string,
    now,
  );
});
time(`breadth: observeDenial (${STAFF} keys)`, CALLS, (i) => {
  now += 1;
  detector.observeDenial(staff[i % STAFF] as string, now);
});

const decoys = new Map<string, string>();
for (let d = 0; d < 20; d++) {
  const client = randomUUID();
  for (let e = 0; e < 15; e++) decoys.set(randomUUID(), client);
}
const cycles = {
  cycles: Array.from({ length: 100 }, () => ({
    id: randomUUID(),
    clientId: randomUUID(),
    kind: 'bookkeeping',
    period: '2026-11',
    title: 'November 2026 bookkeeping',
    dueDate: '2026-12-15',
    status: 'open',
    createdAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
  })),
};
const one = cycles.cycles[0];
time(`decoy tripwire: scan one cycle (${decoys.size} decoy ids armed)`, CALLS / 4, () => {
  decoyIdsIn(one, decoys, new Map());
});
time(`decoy tripwire: scan a list of 100 cycles (${decoys.size} decoy ids armed)`, CALLS / 100, () => {
  decoyIdsIn(cycles, decoys, new Map());
});
