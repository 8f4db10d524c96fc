/**
 * Breadth alerts, decided in memory (no audit-table query per request): per staff member the
 * distinct clients touched in the current window against a threshold and their own trailing
 * average per window; per actor or address a sliding count of tenant_access_denied. Each
 * observation is O(1) amortised; state per actor is a set and a short ring of past counts.
 */
export interface BreadthLimits {
  staffClientsThreshold: number;
  staffBaselineFactor: number;
  staffWindowMs: number;
  staffBaselineWindows: number;
  deniedBurstThreshold: number;
  deniedBurstWindowMs: number;
}

export interface StaffBreadthVerdict {
  distinctClients: number;
  baseline: number;
  windowMinutes: number;
}

interface StaffWindow {
  start: number;
  clients: Set<string>;
  /** Distinct-client counts of past windows, newest last. */
  history: number[];
  alerted: boolean;
}

interface DenialWindow {
  times: number[];
  alertedAt: number;
}

const MAX_TRACKED = 100_000;

export class BreadthDetector {
  private readonly staff = new Map<string, StaffWindow>();
  private readonly denials = new Map<string, DenialWindow>();

  constructor(private readonly limits: BreadthLimits) {}

  /** A staff member was allowed into one client's data. Returns a verdict the first time the window breaches. */
  observeStaffClient(staffUserId: string, clientId: string, now: number): StaffBreadthVerdict | null {
    const { staffWindowMs, staffBaselineWindows } = this.limits;
    let window = this.staff.get(staffUserId);
    if (!window) {
      if (this.staff.size >= MAX_TRACKED) this.staff.delete(this.staff.keys().next().value as string);
      window = { start: now, clients: new Set(), history: [], alerted: false };
      this.staff.set(staffUserId, window);
    } else if (now - window.start >= staffWindowMs) {
      // Close the window (and any idle ones since, which count as zero).
      const elapsed = Math.floor((now - window.start) / staffWindowMs);
      window.history.push(window.clients.size);
      for (let i = 1; i < Math.min(elapsed, staffBaselineWindows + 1); i++) window.history.push(0);
      if (window.history.length > staffBaselineWindows) window.history.splice(0, window.history.length - staffBaselineWindows);
      window.start = now;
      window.clients = new Set();
      window.alerted = false;
    }
    window.clients.add(clientId);
    if (window.alerted) return null;
    const distinct = window.clients.size;
    if (distinct <= this.limits.staffClientsThreshold) return null;
    const baseline = window.history.length === 0 ? 0 : window.history.reduce((a, b) => a + b, 0) / window.history.length;
    if (distinct <= this.limits.staffBaselineFactor * Math.max(baseline, 1)) return null;
    window.alerted = true;
    return { distinctClients: distinct, baseline: Math.round(baseline * 10) / 10, windowMinutes: staffWindowMs / 60_000 };
  }

  /** One tenant_access_denied by `key` (an actor id or an address). Returns the count when it becomes a burst. */
  observeDenial(key: string, now: number): number | null {
    const { deniedBurstWindowMs, deniedBurstThreshold } = this.limits;
    let window = this.denials.get(key);
    if (!window) {
      if (this.denials.size >= MAX_TRACKED) this.denials.delete(this.denials.keys().next().value as string);
      window = { times: [], alertedAt: Number.NEGATIVE_INFINITY };
      this.denials.set(key, window);
    }
    window.times.push(now);
    while (window.times.length > 0 && (window.times[0] as number) <= now - deniedBurstWindowMs) window.times.shift();
    if (window.times.length < deniedBurstThreshold || now - window.alertedAt < deniedBurstWindowMs) return null;
    window.alertedAt = now;
    return window.times.length;
  }
}
