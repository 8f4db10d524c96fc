/**
 * The `spade` command an admin runs to act on what the incident console shows. The console
 * is read-only: every change is made by the CLI (the owner login), which records it on the
 * incident's timeline. Each command here is real — incident-console.test.ts parses every one
 * the API returns against the CLI's own commander program. "…" marks text the operator
 * writes (a basis, a reason); everything else is filled in.
 */

export interface ConsoleCommand {
  /** What running it does, in a few words. */
  purpose: string;
  command: string;
}

const SPADE = 'pnpm spade';

/** An argument as the shell reads it: ids and plain words as they are, anything else in double quotes. */
function arg(value: string): string {
  return /^[A-Za-z0-9_:/.@-]+$/.test(value) ? value : `"${value.replace(/(["\\$`])/g, '\\$1')}"`;
}

const line = (...words: string[]) => [SPADE, ...words].join(' ');
const withIncident = (incidentId: string | null) => (incidentId ? ['--incident', incidentId] : []);

export const incidentCommands = {
  timeline: (id: string): ConsoleCommand => ({
    purpose: 'Print the timeline, evidence and clocks',
    command: line('incident', 'timeline', id),
  }),
  notifiable: (id: string): ConsoleCommand => ({
    purpose: 'Record that the breach is notifiable (starts the 3-day PDPC clock)',
    command: line('incident', 'notifiable', id, '--basis', arg('…')),
  }),
  notNotifiable: (id: string): ConsoleCommand => ({
    purpose: 'Record that the breach is not notifiable, with the basis',
    command: line('incident', 'notifiable', id, '--not-notifiable', '--basis', arg('…')),
  }),
  disclosure: (id: string): ConsoleCommand => ({
    purpose: 'Draft the PDPC notification and the client disclosures',
    command: line('disclosure', 'draft', '--incident', id),
  }),
  resolve: (id: string): ConsoleCommand => ({
    purpose: 'Mark the incident resolved (starts the 72-hour post-mortem clock)',
    command: line('incident', 'resolve', id, '--summary', arg('…')),
  }),
  postMortem: (id: string): ConsoleCommand => ({
    purpose: 'Draft the blameless post-mortem',
    command: line('postmortem', 'new', '--incident', id),
  }),
};

export const alertCommands = {
  open: (alertId: string): ConsoleCommand => ({
    purpose: 'Open an incident from this suggestion',
    command: line('incident', 'open', '--from-alert', alertId, '--title', arg('…'), '--reporter', arg('spade detector')),
  }),
  dismiss: (alertId: string): ConsoleCommand => ({
    purpose: 'Dismiss the suggestion, saying why',
    command: line('incident', 'dismiss', alertId, '--reason', arg('…')),
  }),
  revokeStaff: (staffUserId: string, incidentId: string | null): ConsoleCommand => ({
    purpose: "Revoke the staff member's sessions",
    command: line('sessions', 'revoke', '--staff', staffUserId, ...withIncident(incidentId)),
  }),
};

export const containmentCommands = {
  thaw: (clientId: string, incidentId: string | null): ConsoleCommand => ({
    purpose: 'Thaw the client (serve it again)',
    command: line('tenants', 'thaw', clientId, ...withIncident(incidentId)),
  }),
  routeOnline: (method: string, routePattern: string, incidentId: string | null): ConsoleCommand => ({
    purpose: 'Bring the route back online',
    command: line('routes', 'online', arg(`${method} ${routePattern}`), ...withIncident(incidentId)),
  }),
};
