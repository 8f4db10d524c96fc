import type { SqlExecutor } from '@breezycorp/db/unsafe';
import type { Duration } from './duration.ts';
import { CliError, EXIT } from './io.ts';
import { requireUuid } from './operator.ts';

/** The runbook's event types: "all cross-tenant reads by the suspect actor". */
export const RUNBOOK_EVENT_TYPES = ['cycle.read', 'file.downloaded', 'cross_tenant_read'] as const;

/**
 * Events that record a refusal, not an access: they name a client whose data did NOT leave.
 * `audit affected` counts every other event type by default, so a new read event type the
 * API adds is counted (over-including is the safe side of a disclosure; a person reviews).
 */
export const REFUSAL_EVENT_TYPES = ['tenant_access_denied', 'leak.blocked', 'magic_link.rejected', 'auth.login_failed'] as const;

export type Actor =
  | { kind: 'staff'; id: string; name: string; email: string; role: string; clientIds: string[] }
  | { kind: 'contact'; id: string; name: string; email: string; clientId: string };

/** A staff user or a contact, with the clients it may legitimately see; exit 3 if neither. */
export async function resolveActor(sql: SqlExecutor, id: string): Promise<Actor> {
  const actorId = requireUuid(id, 'actor id');
  const staff = await sql.query<{ id: string; name: string; email: string; role: string; client_ids: string[] | null }>(
    `SELECT u.id, u.name, u.email, u.role,
            array(SELECT a.client_id::text FROM staff_client_assignments a WHERE a.staff_user_id = u.id ORDER BY 1) AS client_ids
     FROM staff_users u WHERE u.id = $1::uuid`,
    [actorId],
  );
  const s = staff[0];
  if (s) return { kind: 'staff', id: s.id, name: s.name, email: s.email, role: s.role, clientIds: s.client_ids ?? [] };
  const contacts = await sql.query<{ id: string; name: string; email: string; client_id: string }>(
    'SELECT id, name, email, client_id FROM contacts WHERE id = $1::uuid',
    [actorId],
  );
  const c = contacts[0];
  if (c) return { kind: 'contact', id: c.id, name: c.name, email: c.email, clientId: c.client_id };
  throw new CliError(`No staff user or contact has id ${actorId}`, EXIT.notFound);
}

export function describeActor(actor: Actor): string {
  return actor.kind === 'staff' ? `staff ${actor.name} <${actor.email}> (${actor.role})` : `contact ${actor.name} <${actor.email}>`;
}

/** May this actor see this client's data in the ordinary course? Admins see every client. */
export function isEntitled(actor: Actor, clientId: string): boolean {
  if (actor.kind === 'contact') return actor.clientId === clientId;
  return actor.role === 'admin' || actor.clientIds.includes(clientId);
}

export interface ActorEvent extends Record<string, unknown> {
  occurred_at: Date;
  event_type: string;
  actor_id: string;
  accessed_client: string | null;
  entity_type: string | null;
  entity_id: string | null;
  event_data_json: unknown;
}

/** The runbook's investigation query, with the window and the event types as parameters. */
export async function actorEvents(
  sql: SqlExecutor,
  actorId: string,
  since: Duration,
  types: readonly string[] | null,
): Promise<ActorEvent[]> {
  return sql.query<ActorEvent>(
    `SELECT
       ae.occurred_at,
       ae.event_type,
       ae.actor_id,
       ae.client_id AS accessed_client,
       ae.entity_type,
       ae.entity_id,
       ae.event_data_json
     FROM audit_events ae
     WHERE ae.actor_id = $1::uuid
       AND ae.occurred_at > NOW() - $2::interval
       AND ($3::text[] IS NULL OR ae.event_type = ANY ($3::text[]))
     ORDER BY ae.occurred_at DESC`,
    [actorId, since.interval, types === null ? null : [...types]],
  );
}

export interface AffectedClient {
  clientId: string;
  clientName: string | null;
  uen: string | null;
  /** Touched by at least one actor who is not entitled to it: what a disclosure is about. */
  affected: boolean;
  actorIds: string[];
  events: number;
  firstAt: Date;
  lastAt: Date;
  /** Per entity type: how many events, and how many distinct records. */
  byEntityType: Record<string, { events: number; records: number }>;
}

/**
 * The clients whose data the actors touched in the window, with counts per entity type.
 * A client is `affected` when an actor touched it without being entitled to it (a contact
 * outside their own client, staff outside their assignments); the others are listed too,
 * so a person can review them.
 */
export async function affectedClients(
  sql: SqlExecutor,
  actors: readonly Actor[],
  since: Duration,
  types: readonly string[] | null,
): Promise<AffectedClient[]> {
  if (actors.length === 0) return [];
  const rows = await sql.query<{
    actor_id: string;
    client_id: string;
    client_name: string | null;
    uen: string | null;
    entity_type: string | null;
    events: number;
    records: number;
    first_at: Date;
    last_at: Date;
  }>(
    `SELECT ae.actor_id, ae.client_id, c.name AS client_name, c.uen,
            COALESCE(ae.entity_type, '(none)') AS entity_type,
            count(*)::int AS events, count(DISTINCT ae.entity_id)::int AS records,
            min(ae.occurred_at) AS first_at, max(ae.occurred_at) AS last_at
     FROM audit_events ae
     LEFT JOIN clients c ON c.id = ae.client_id
     WHERE ae.actor_id = ANY ($1::uuid[])
       AND ae.client_id IS NOT NULL
       AND ae.occurred_at > NOW() - $2::interval
       AND (CASE WHEN $3::text[] IS NULL THEN ae.event_type <> ALL ($4::text[]) ELSE ae.event_type = ANY ($3::text[]) END)
     GROUP BY ae.actor_id, ae.client_id, c.name, c.uen, COALESCE(ae.entity_type, '(none)')
     ORDER BY c.name, ae.client_id`,
    [actors.map((a) => a.id), since.interval, types === null ? null : [...types], [...REFUSAL_EVENT_TYPES]],
  );
  const byClient = new Map<string, AffectedClient>();
  const actorById = new Map(actors.map((a) => [a.id, a]));
  for (const row of rows) {
    let client = byClient.get(row.client_id);
    if (!client) {
      client = {
        clientId: row.client_id,
        clientName: row.client_name,
        uen: row.uen,
        affected: false,
        actorIds: [],
        events: 0,
        firstAt: row.first_at,
        lastAt: row.last_at,
        byEntityType: {},
      };
      byClient.set(row.client_id, client);
    }
    const actor = actorById.get(row.actor_id);
    if (actor && !isEntitled(actor, row.client_id)) client.affected = true;
    if (!client.actorIds.includes(row.actor_id)) client.actorIds.push(row.actor_id);
    client.events += row.events;
    if (row.first_at < client.firstAt) client.firstAt = row.first_at;
    if (row.last_at > client.lastAt) client.lastAt = row.last_at;
    const entity = row.entity_type ?? '(none)';
    const counts = client.byEntityType[entity] ?? { events: 0, records: 0 };
    // Records are distinct per actor; summed across actors they may count one record twice.
    client.byEntityType[entity] = { events: counts.events + row.events, records: counts.records + row.records };
  }
  return [...byClient.values()].sort(
    (a, b) => Number(b.affected) - Number(a.affected) || (a.clientName ?? '').localeCompare(b.clientName ?? ''),
  );
}

/** `cycle.read,file.downloaded` → the list; every type must look like one. */
export function parseEventTypes(text: string): string[] {
  const types = text
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  for (const type of types) {
    if (!/^[a-z][a-z0-9_.]*$/.test(type)) throw new CliError(`"${type}" is not an event type (e.g. cycle.read)`, EXIT.usage);
  }
  if (types.length === 0) throw new CliError('--types needs at least one event type', EXIT.usage);
  return types;
}
