import pg from 'pg';
import type { Prisma } from './generated/prisma/client.ts';
import { writingAuditRows } from './tenant-context.ts';

/** One audit_events row; id and occurred_at are the database's (gen_random_uuid(), clock_timestamp()). */
export interface AuditRowValues {
  eventType: string;
  actorType: 'staff' | 'contact' | 'anonymous' | 'system' | 'operator';
  actorId: string | null;
  clientId: string | null;
  entityType: string | null;
  entityId: string | null;
  requestId: string | null;
  eventDataJson: Prisma.InputJsonObject;
}

/** The INSERT's columns and each one's cast, in the order of `auditRowParams`. */
const COLUMNS: readonly (readonly [column: string, cast: string])[] = [
  ['event_type', ''],
  ['actor_type', ''],
  ['actor_id', '::uuid'],
  ['client_id', '::uuid'],
  ['entity_type', ''],
  ['entity_id', ''],
  ['request_id', ''],
  ['event_data_json', '::jsonb'],
];
const INSERT_HEAD = `INSERT INTO audit_events (${COLUMNS.map(([column]) => column).join(', ')}) VALUES`;

/**
 * One row's values in column order (the JSON as text). A NUL is refused: PostgreSQL's text
 * cannot hold it, and the COMMIT-folded INSERT (folded-statements.ts) carries literals.
 */
export function auditRowParams(r: AuditRowValues): (string | null)[] {
  const values = [r.eventType, r.actorType, r.actorId, r.clientId, r.entityType, r.entityId, r.requestId, JSON.stringify(r.eventDataJson)];
  for (const value of values) if (value?.includes('\0')) throw new TypeError('an audit row cannot hold a NUL character');
  return values;
}

const statements = new Map<number, string>();

/** The INSERT for `n` rows, built once per row count (a parameterised, cached text). */
function insertFor(n: number): string {
  let text = statements.get(n);
  if (!text) {
    const rows = Array.from(
      { length: n },
      (_, i) => `(${COLUMNS.map(([, cast], k) => `$${i * COLUMNS.length + k + 1}${cast}`).join(', ')})`,
    );
    text = `${INSERT_HEAD} ${rows.join(', ')}`;
    if (statements.size < 64) statements.set(n, text);
  }
  return text;
}

/**
 * One row's VALUES tuple with literal values (pg's escapeLiteral), for a statement sent through
 * the simple protocol, which takes no parameters. Built when the row is queued, so that a row
 * that cannot be written fails there, never at COMMIT.
 */
export function auditValuesLiteral(row: AuditRowValues): string {
  const values = auditRowParams(row);
  return `(${values.map((value, k) => (value === null ? 'NULL' : `${pg.escapeLiteral(value)}${(COLUMNS[k] as readonly [string, string])[1]}`)).join(', ')})`;
}

/** The rows (`auditValuesLiteral` tuples) inserted and the transaction committed, in one simple-protocol round trip. */
export function auditInsertThenCommit(tuples: readonly string[]): string {
  return `${INSERT_HEAD} ${tuples.join(', ')}; COMMIT`;
}

/** What insertAuditRows needs of a transaction client (a unit's tx, scoped or not). */
export interface RawExecutor {
  $executeRawUnsafe(query: string, ...values: unknown[]): PromiseLike<number>;
}

/**
 * Writes audit rows with one parameterised INSERT on the unit of work's own connection,
 * inside its transaction — so they commit with the work or not at all, and RLS's WITH
 * CHECK still applies to every row. Not Prisma's createMany: its runtime keeps createMany
 * out of the query-plan cache, so every call ran the query compiler (~0.6 ms of CPU per
 * request, issue 13). Through a client's scoped transaction the tenant-scope extension lets
 * this one statement through only when every row names that client.
 */
export async function insertAuditRows(tx: RawExecutor, rows: readonly AuditRowValues[]): Promise<void> {
  if (rows.length === 0) return;
  const params = rows.flatMap(auditRowParams);
  await writingAuditRows(
    rows.map((r) => r.clientId),
    // Awaited inside the context: Prisma's promises start work only when awaited.
    async () => await tx.$executeRawUnsafe(insertFor(rows.length), ...params),
  );
}
